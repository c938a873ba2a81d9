"""Lines in the host's structured log, tagged with the plugin, the function and the request id (at
most 100 lines of 4 KiB per call)."""

from wit_world.imports import host


def debug(message: str) -> None:
    host.log(host.LogLevel.DEBUG, message)


def info(message: str) -> None:
    host.log(host.LogLevel.INFO, message)


def warn(message: str) -> None:
    host.log(host.LogLevel.WARN, message)


def error(message: str) -> None:
    host.log(host.LogLevel.ERROR, message)
