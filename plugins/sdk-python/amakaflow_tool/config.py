"""The plugin's settings: the `[config]` table of its `plugin.toml`, interpolated by the host. Secrets
are never here: the host adds them to outgoing requests itself."""

from typing import Optional

from wit_world.imports import host

from .errors import ToolError


def get(key: str) -> Optional[str]:
    """The value of `key`, if the manifest sets it."""
    return host.config(key)


def required(key: str) -> str:
    """The value of `key`, or an `internal_error` naming the missing setting (a packaging mistake)."""
    value = get(key)
    if value is None:
        raise ToolError.internal(f"The tool is misconfigured: `{key}` is not set.")
    return value
