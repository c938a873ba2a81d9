"""A small key-value store scoped to this plugin and the calling user, with expiry. Memory does not
survive a call (each runs in a fresh sandbox): a preview the user must confirm goes here. Keys are
at most 256 bytes, values at most 1 MiB, lifetimes 1 second to 30 days."""

import json
import math
from typing import Any, Optional

from componentize_py_types import Err
from wit_world.imports import host

from .errors import ToolError, codes


def get(key: str) -> Optional[str]:
    """The stored text, unless absent or expired."""
    return host.state_get(key)


def put(key: str, value: str, ttl_seconds: float) -> None:
    """Stores `value` for `ttl_seconds` (rounded up, 1 s at least). Past the plugin's quota for the
    user nothing is stored and the error's code is `state_quota_exceeded`."""
    seconds = min(max(math.ceil(ttl_seconds), 1), 2**32 - 1)
    try:
        host.state_put(key, value, seconds)
    except Err as err:
        message = str(err.value)
        code = codes.STATE_QUOTA_EXCEEDED if message.startswith(codes.STATE_QUOTA_EXCEEDED) else codes.INTERNAL_ERROR
        raise ToolError(code, message) from None


def take(key: str) -> Optional[str]:
    """Reads and deletes in one step: a preview can be consumed exactly once."""
    return host.state_take(key)


def delete(key: str) -> None:
    """Deletes `key`; an absent key is not an error."""
    host.state_delete(key)


def get_json(key: str) -> Any:
    """`get` for a JSON value (None when absent or no longer JSON)."""
    return _parse(get(key))


def put_json(key: str, value: Any, ttl_seconds: float) -> None:
    put(key, json.dumps(value), ttl_seconds)


def take_json(key: str) -> Any:
    return _parse(take(key))


def _parse(text: Optional[str]) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
