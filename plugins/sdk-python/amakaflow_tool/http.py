"""Outgoing HTTP over wasi:http. Every request passes the host's egress policy: only the origins the
manifest names, timeouts clamped to the call's budget, responses capped, and the caller's
credentials and secret headers added by the host on the way out (the plugin never sees them).

A failure raises `HttpError`; a tool function may let it propagate: the SDK hands the model the
original service's message (`"The service is taking too long. Please try again."`, `"Service error
(503)"`, ...) as an `execution_error`, as `?` does in the Rust SDK."""

import json as _json
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from componentize_py_types import Err, Ok
from wit_world.imports import outgoing_handler
from wit_world.imports import wasi_http_types as t

from . import config
from .errors import ToolError

# The `[config]` key giving the default timeout in seconds (connect, first byte, between bytes).
TIMEOUT_CONFIG_KEY = "http_timeout_seconds"
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024
_CHUNK = 4096

Params = Union[Mapping[str, Any], Iterable[Tuple[str, Any]]]


class HttpError(Exception):
    """Why a request failed: `kind` is `timeout`, `connect`, `denied`, `too_large`, `status`,
    `decode`, `invalid_url` or `protocol`; `status` and `body` are set for `status`."""

    def __init__(self, kind: str, detail: str = "", status: Optional[int] = None, body: bytes = b""):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.status = status
        self.body = body

    def to_tool_error(self) -> ToolError:
        """The original service's message for this failure."""
        if self.kind == "timeout":
            return ToolError.execution("The service is taking too long. Please try again.")
        if self.kind == "status":
            if self.status == 401:
                return ToolError.execution("Authentication error. Please try logging in again.")
            if self.status == 404:
                return ToolError.execution("The requested item was not found.")
            return ToolError.execution(f"Service error ({self.status})")
        if self.kind == "too_large":
            return ToolError.execution("The service's response was too large.")
        if self.kind == "decode":
            return ToolError.execution("The service returned an unexpected response.")
        return ToolError.execution("Unable to connect to the service.")


class Response:
    """A complete response: status, headers (lowercase names) and the body as bytes."""

    def __init__(self, status: int, headers: List[Tuple[str, bytes]], body: bytes):
        self.status = status
        self.headers = [(name.lower(), value.decode("latin-1")) for name, value in headers]
        self.body = body

    def header(self, name: str) -> Optional[str]:
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def raise_for_status(self) -> "Response":
        """This response, or `HttpError("status")` when the status is not 2xx."""
        if not self.ok:
            raise HttpError("status", str(self.status), status=self.status, body=self.body)
        return self

    def json(self) -> Any:
        """The body as JSON after `raise_for_status`; `HttpError("decode")` if it is not JSON."""
        self.raise_for_status()
        try:
            return _json.loads(self.body)
        except ValueError as err:
            raise HttpError("decode", str(err)) from None


def get(url: str, **options: Any) -> Response:
    return request("GET", url, **options)


def post(url: str, **options: Any) -> Response:
    return request("POST", url, **options)


def put(url: str, **options: Any) -> Response:
    return request("PUT", url, **options)


def patch(url: str, **options: Any) -> Response:
    return request("PATCH", url, **options)


def delete(url: str, **options: Any) -> Response:
    return request("DELETE", url, **options)


def request(
    method: str,
    url: str,
    *,
    params: Optional[Params] = None,
    json: Any = None,
    data: Optional[Union[bytes, str]] = None,
    content_type: Optional[str] = None,
    headers: Optional[Mapping[str, str]] = None,
    timeout: Optional[float] = None,
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
) -> Response:
    """Sends one request and reads the whole response (any status; see `Response.raise_for_status`).
    `params` are added to the query string; `json` is sent as a JSON body, `data` as is."""
    scheme, authority, path = _split(url)
    if params:
        pairs = params.items() if isinstance(params, Mapping) else params
        query = "&".join(f"{_encode(str(k))}={_encode(str(v))}" for k, v in pairs)
        path += ("&" if "?" in path else "?") + query
    fields: List[Tuple[str, bytes]] = [(k.lower(), str(v).encode()) for k, v in (headers or {}).items()]
    body: Optional[bytes] = None
    if json is not None:
        body = _json.dumps(json).encode()
        content_type = content_type or "application/json"
    elif data is not None:
        body = data.encode() if isinstance(data, str) else bytes(data)
    if content_type is not None:
        fields = [(k, v) for k, v in fields if k != "content-type"] + [("content-type", content_type.encode())]
    seconds = timeout if timeout is not None else _configured_timeout()
    return _send(method, scheme, authority, path, fields, body, seconds, max_response_bytes)


def _configured_timeout() -> float:
    try:
        return float(config.get(TIMEOUT_CONFIG_KEY) or DEFAULT_TIMEOUT_SECONDS)
    except ValueError:
        return DEFAULT_TIMEOUT_SECONDS


def _split(url: str) -> Tuple[t.Scheme, str, str]:
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("http", "https"):
        raise HttpError("invalid_url", url)
    authority, slash, path = rest.partition("/")
    path = slash + path
    if "?" in authority:
        authority, _, query = authority.partition("?")
        path = "/?" + query
    path = path.split("#", 1)[0] or "/"
    if not authority:
        raise HttpError("invalid_url", url)
    return (t.Scheme_Http() if scheme == "http" else t.Scheme_Https()), authority, path


def _encode(text: str) -> str:
    """Percent-encodes everything but RFC 3986's unreserved characters (as the Rust SDK does)."""
    out = []
    for byte in text.encode():
        char = chr(byte)
        out.append(char if char.isascii() and (char.isalnum() or char in "-_.~") else f"%{byte:02X}")
    return "".join(out)


_METHODS = {
    "GET": t.Method_Get,
    "HEAD": t.Method_Head,
    "POST": t.Method_Post,
    "PUT": t.Method_Put,
    "DELETE": t.Method_Delete,
    "PATCH": t.Method_Patch,
    "OPTIONS": t.Method_Options,
}


def _send(method, scheme, authority, path, fields, body, seconds, max_response_bytes) -> Response:
    try:
        headers = t.Fields.from_list(fields)
    except Err as err:
        raise HttpError("protocol", f"header refused: {err.value}") from None
    outgoing = t.OutgoingRequest(headers)
    outgoing.set_method(_METHODS[method.upper()]() if method.upper() in _METHODS else t.Method_Other(method))
    outgoing.set_scheme(scheme)
    outgoing.set_authority(authority)
    outgoing.set_path_with_query(path)
    outgoing_body = outgoing.body()
    options = t.RequestOptions()
    nanos = max(int(seconds * 1e9), 1)
    options.set_connect_timeout(nanos)
    options.set_first_byte_timeout(nanos)
    options.set_between_bytes_timeout(nanos)
    try:
        pending = outgoing_handler.handle(outgoing, options)
    except Err as err:
        raise _from_code(err.value) from None
    if body:
        with outgoing_body.write() as stream:
            try:
                for start in range(0, len(body), _CHUNK):
                    stream.blocking_write_and_flush(body[start : start + _CHUNK])
            except Err as err:
                raise HttpError("protocol", f"request body: {err.value}") from None
    try:
        t.OutgoingBody.finish(outgoing_body, None)
    except Err as err:
        raise _from_code(err.value) from None
    with pending:
        with pending.subscribe() as ready:
            ready.block()
        answer = pending.get()
    # Some(Ok(Ok(response))) | Some(Ok(Err(code))); None and Err(()) cannot happen after block().
    if not isinstance(answer, Ok):
        raise HttpError("protocol", "response unavailable")
    result = answer.value
    if isinstance(result, Err):
        raise _from_code(result.value)
    response = result.value if isinstance(result, Ok) else result
    with response:
        status = response.status()
        with response.headers() as response_headers:
            entries = response_headers.entries()
        content = _read_body(response, max_response_bytes)
    return Response(status, entries, content)


def _read_body(response, max_response_bytes: int) -> bytes:
    chunks: List[bytes] = []
    size = 0
    with response.consume() as incoming:
        with incoming.stream() as stream:
            while True:
                try:
                    chunk = stream.blocking_read(65536)
                except Err as err:
                    if type(err.value).__name__ == "StreamError_Closed":
                        break
                    raise _from_stream(err.value) from None
                size += len(chunk)
                if size > max_response_bytes:
                    raise HttpError("too_large")
                chunks.append(chunk)
    return b"".join(chunks)


def _from_stream(error) -> HttpError:
    """A failed read carries the wasi:http error code (a timeout, a body too large) when the host
    can tell it."""
    with error.value as io_error:
        code = t.http_error_code(io_error)
    return _from_code(code) if code is not None else HttpError("connect", "the response body failed")


_TIMEOUTS = ("DnsTimeout", "ConnectionTimeout", "ConnectionReadTimeout", "ConnectionWriteTimeout", "HttpResponseTimeout")
_CONNECT = (
    "DnsError",
    "DestinationNotFound",
    "DestinationUnavailable",
    "DestinationIpUnroutable",
    "ConnectionRefused",
    "ConnectionTerminated",
    "ConnectionLimitReached",
    "TlsProtocolError",
    "TlsCertificateError",
    "TlsAlertReceived",
)


def _from_code(code) -> HttpError:
    """The wasi:http error code of a failed request, as an `HttpError` (as the Rust SDK maps it)."""
    name = type(code).__name__.removeprefix("ErrorCode_")
    if name in _TIMEOUTS:
        return HttpError("timeout", name)
    if name in ("HttpRequestDenied", "DestinationIpProhibited"):
        return HttpError("denied", name)
    if name == "HttpResponseBodySize":
        return HttpError("too_large", name)
    if name in _CONNECT:
        return HttpError("connect", name)
    return HttpError("protocol", name)
