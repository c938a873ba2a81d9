"""Per-user hourly rate limits, checked and counted in one atomic step by the host."""

from wit_world.imports import host
from wit_world.imports.host import RateLimitDecision


def check_hour(bucket: str, limit_per_hour: int) -> RateLimitDecision:
    """Counts one call of `bucket` for the calling user in this clock hour; `.allowed` says if it fit."""
    return host.rate_limit_hour(bucket, limit_per_hour)
