"""Hostile, in Python: `allocate_py` keeps 1 MiB blocks, touching every page, until the host's
memory limit stops it (`memory_exceeded`)."""

from amakaflow_tool import Context, Plugin

plugin = Plugin()


@plugin.function("Allocates without end.")
def allocate_py(ctx: Context) -> str:
    blocks = []
    while True:
        blocks.append(bytearray(b"\xa5" * (1 << 20)))


WitWorld = plugin.world()
