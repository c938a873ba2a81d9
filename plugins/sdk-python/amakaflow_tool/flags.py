"""Feature flags of the calling user (user scope wins over global)."""

import json
from typing import Any

from wit_world.imports import host


def get(key: str) -> Any:
    """The flag's JSON value, or None when unset."""
    text = host.feature_flag(key)
    return None if text is None else json.loads(text)


def enabled(key: str, default: bool = False) -> bool:
    """The flag as a boolean; `default` when unset or not a boolean."""
    value = get(key)
    return value if isinstance(value, bool) else default


def list_contains(key: str, item: str) -> bool:
    """Whether the flag is a list holding `item`."""
    value = get(key)
    return isinstance(value, list) and item in value
