"""Hostile, in Python: `spin_py` loops forever without calling the host, until the deadline or
the fuel stops it."""

from amakaflow_tool import Context, Plugin

plugin = Plugin()


@plugin.function("Loops forever.")
def spin_py(ctx: Context) -> str:
    count = 0
    while True:
        count += 1


WitWorld = plugin.world()
