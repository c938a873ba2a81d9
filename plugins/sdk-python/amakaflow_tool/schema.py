"""JSON Schemas of a function's arguments derived from its type hints: `str`, `int`, `float`,
`bool`, `list[T]`, `dict`, `Literal[...]` (an enum), `Optional[T]` or a default (not required),
`Annotated[T, "description"]`."""

import inspect
import typing
from typing import Any, Callable, Dict, Literal, Union

_SIMPLE = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object", list: "array"}


def schema_of(handler: Callable[..., Any]) -> Dict[str, Any]:
    """`{"type": "object", "properties": ..., "required": [...]}` for the parameters after the first
    (the context)."""
    hints = typing.get_type_hints(handler, include_extras=True)
    properties: Dict[str, Any] = {}
    required = []
    for index, (name, parameter) in enumerate(inspect.signature(handler).parameters.items()):
        if index == 0 or parameter.kind in (parameter.VAR_KEYWORD, parameter.VAR_POSITIONAL):
            continue
        hint = hints.get(name, Any)
        schema, optional = _type_schema(hint)
        properties[name] = schema
        if parameter.default is inspect.Parameter.empty and not optional:
            required.append(name)
    schema: Dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _type_schema(hint: Any):
    """The schema of one type and whether `None` is allowed (an optional argument)."""
    description = None
    if typing.get_origin(hint) is typing.Annotated:
        hint, *extras = typing.get_args(hint)
        description = next((e for e in extras if isinstance(e, str)), None)
    optional = False
    origin = typing.get_origin(hint)
    if origin is Union or type(hint).__name__ == "UnionType":
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(members) < len(typing.get_args(hint))
        hint = members[0] if len(members) == 1 else Any
        origin = typing.get_origin(hint)
    schema: Dict[str, Any]
    if origin is Literal:
        values = list(typing.get_args(hint))
        kinds = {_SIMPLE.get(type(v)) for v in values}
        schema = {"type": kinds.pop(), "enum": values} if len(kinds) == 1 else {"enum": values}
    elif origin in (list, typing.List):
        (item,) = typing.get_args(hint) or (Any,)
        schema = {"type": "array"}
        if item is not Any:
            schema["items"] = _type_schema(item)[0]
    elif origin in (dict, typing.Dict):
        schema = {"type": "object"}
    elif hint in _SIMPLE:
        schema = {"type": _SIMPLE[hint]}
    else:
        schema = {}
    if description:
        schema["description"] = description
    return schema, optional
