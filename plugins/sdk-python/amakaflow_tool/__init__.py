"""The Python guest SDK of amakaflow-chat: write a tool the model can call as a typed Python function,
build it into a WebAssembly component with componentize-py, drop it into `PLUGINS_DIR`.

It gives what the Rust SDK (`plugins/sdk`) gives: functions registered with a description and an
argument schema derived from their type hints, JSON arguments in and a result out, errors in the
original shape (`{"error": true, "code": ..., "message": ...}`), and the host's capabilities scoped
to this plugin and the calling user: `config`, `state`, `log`, `flags`, `rate_limit` and outgoing
HTTP (`http`, over wasi:http, through the host's egress policy).

    from typing import Annotated
    from amakaflow_tool import Context, Plugin, ToolError, config, http

    plugin = Plugin()

    @plugin.function("Gets one workout with its exercises.")
    def get_workout_details(ctx: Context, workout_id: Annotated[str, "The workout's id"]) -> dict:
        workout = http.get(f"{config.required('mapper_url')}/workouts/{workout_id}").json()
        return {"success": True, "workout": workout}

    WitWorld = plugin.world()   # what componentize-py exports
"""

from . import config, flags, http, log, rate_limit, state
from .errors import ToolError, codes
from .plugin import Context, Plugin

__all__ = ["Context", "Plugin", "ToolError", "codes", "config", "flags", "http", "log", "rate_limit", "state"]
