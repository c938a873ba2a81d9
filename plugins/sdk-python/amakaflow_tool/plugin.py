"""The functions of one plugin and the two exports built from them: `describe` (names, descriptions,
JSON Schemas derived from the functions' type hints) and `call` (parse the arguments, run the
function, turn its result or error into what the host expects)."""

import inspect
import json
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

from componentize_py_types import Err
from wit_world.imports import amakaflow_tool_types as types

from .errors import ToolError
from .http import HttpError
from .schema import schema_of


@dataclass
class Context:
    """Who is calling. Holds no credentials: the host adds them to outgoing requests."""

    user_id: str
    session_id: Optional[str]
    request_id: str
    function: str


@dataclass
class _Function:
    name: str
    description: str
    schema: Dict[str, Any]
    handler: Callable[..., Any]


class Plugin:
    """The functions a plugin offers. Register each with `@plugin.function(description)`, then export
    `WitWorld = plugin.world()` from the module componentize-py builds."""

    def __init__(self) -> None:
        self._functions: Dict[str, _Function] = {}

    def function(
        self, description: str, *, name: Optional[str] = None, schema: Optional[Dict[str, Any]] = None
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Registers `fn(ctx, **arguments)`. The model calls it by `name` (default: the function's
        name; `[a-z][a-z0-9_]{0,63}`, unique across every loaded plugin). The arguments' schema is
        derived from the parameters after `ctx` (`Annotated[T, "description"]` describes one, a
        default makes it optional) unless `schema` gives it exactly (a port keeping its schema)."""

        def register(handler: Callable[..., Any]) -> Callable[..., Any]:
            fn_name = name or handler.__name__
            self._functions[fn_name] = _Function(fn_name, description, schema or schema_of(handler), handler)
            return handler

        return register

    def names(self) -> List[str]:
        return list(self._functions)

    def schema(self, name: str) -> Dict[str, Any]:
        return self._functions[name].schema

    def run(self, ctx: Context, arguments: str) -> str:
        """Runs the function `ctx.function` with its JSON arguments; the result text, or `ToolError`."""
        function = self._functions.get(ctx.function)
        if function is None:
            raise ToolError("unknown_function", f"Unknown function: {ctx.function}")
        try:
            args = json.loads(arguments)
        except ValueError as err:
            raise ToolError.validation(f"Invalid arguments for {function.name}: {err}") from None
        if not isinstance(args, dict):
            raise ToolError.validation(f"Invalid arguments for {function.name}: not an object")
        signature = inspect.signature(function.handler)
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
        kwargs = {k: v for k, v in args.items() if takes_any or k in signature.parameters}
        try:
            bound = signature.bind(ctx, **kwargs)
        except TypeError as err:
            # A required argument the schema let through as absent (a hand-written schema).
            raise ToolError.validation(f"Invalid arguments for {function.name}: {err}") from None
        try:
            result = function.handler(*bound.args, **bound.kwargs)
        except HttpError as err:
            raise err.to_tool_error() from None
        return result if isinstance(result, str) else json.dumps(result)

    def world(self) -> type:
        """The class componentize-py exports (assign it to `WitWorld` in the app module)."""
        plugin = self

        class WitWorld:
            def describe(self) -> List[types.FunctionSpec]:
                return [types.FunctionSpec(f.name, f.description, json.dumps(f.schema)) for f in plugin._functions.values()]

            def call(self, context: types.CallContext, function: str, arguments: str) -> str:
                ctx = Context(context.user_id, context.session_id, context.request_id, function)
                try:
                    return plugin.run(ctx, arguments)
                except ToolError as err:
                    raise Err(types.ToolError(err.code, err.message)) from None

        return WitWorld
