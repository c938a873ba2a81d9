"""{{name}}: a tool plugin for amakaflow-chat, in Python (built with componentize-py).

Each function registered with `@plugin.function` is a tool the model can call. Its arguments'
JSON Schema is derived from the type hints (`Annotated[T, "description"]` describes one; a
default makes it optional); the host validates the model's arguments against it before the
function runs. Return text or a JSON value; raise `ToolError` for a failure the model should see.
"""

from typing import Annotated

from amakaflow_tool import Context, Plugin, ToolError, config, log

plugin = Plugin()


@plugin.function("Greets someone by name. Replace this with what your tool does and when to use it.")
def {{function}}(ctx: Context, name: Annotated[str, "Who to greet"]) -> dict:
    if not name.strip():
        raise ToolError.validation("Give a name to greet.")
    greeting = config.get("greeting") or "Hello"
    log.info(f"greeting for {ctx.user_id}")
    return {"message": f"{greeting}, {name}!"}


WitWorld = plugin.world()
