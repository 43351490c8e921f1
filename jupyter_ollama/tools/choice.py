"""Tool definitions checked on the way in, and `tool_choice` turned into a grammar.

Ollama decodes `tools` into Go structs and ignores `tool_choice`. We check the
definitions (a clear 400 instead of a template error later), and when the caller
forces a call (`tool_choice` naming a function, or "required") we constrain the
output with a JSON schema for `{"name": <that name>, "arguments": <its parameters>}`,
so that even a tiny model answers with a well-formed call. The output is then
read by a `ToolCallParser` with the bare-JSON tag.
"""

from __future__ import annotations

from typing import Any

from ..errors import BadRequest
from ..gojson import json_type

_ANY_OBJECT: dict[str, Any] = {"type": "object"}


def _fail(detail: str) -> BadRequest:
    return BadRequest(f"invalid tools: {detail}")


def check_tools(tools: Any) -> list[dict[str, Any]]:
    """The request's tools, each `{"type": "function", "function": {"name", ...}}`; 400 when malformed."""
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise _fail(f"expected an array, got {json_type(tools)}")
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise _fail(f"tools[{i}] must be an object, got {json_type(tool)}")
        kind = tool.get("type", "function")
        if not isinstance(kind, str):
            raise _fail(f"tools[{i}].type must be a string")
        function = tool.get("function")
        if not isinstance(function, dict):
            raise _fail(f"tools[{i}].function must be an object")
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise _fail(f"tools[{i}].function.name must be a non-empty string")
        if not isinstance(function.get("description", ""), str):
            raise _fail(f"tools[{i}].function.description must be a string")
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            raise _fail(f"tools[{i}].function.parameters must be an object")
    return tools


def tool_names(tools: list[dict[str, Any]]) -> list[str]:
    return [t["function"]["name"] for t in tools]


def _call_schema(function: dict[str, Any]) -> dict[str, Any]:
    parameters = function.get("parameters") or _ANY_OBJECT
    return {
        "type": "object",
        "properties": {"name": {"const": function["name"]}, "arguments": parameters},
        "required": ["name", "arguments"],
    }


def forced_call_schema(tools: list[dict[str, Any]], choice: Any) -> dict[str, Any] | None:
    """The JSON schema a forced `tool_choice` constrains the output to; None when nothing is forced.

    `choice`: OpenAI's "none" | "auto" | "required" | {"type": "function", "function": {"name"}}.
    """
    if choice in (None, "auto", "none"):
        return None
    if choice == "required":
        if not tools:
            raise BadRequest("tool_choice 'required' needs at least one tool")
        schemas = [_call_schema(t["function"]) for t in tools]
        return schemas[0] if len(schemas) == 1 else {"anyOf": schemas}
    if isinstance(choice, dict):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else None
        if not isinstance(name, str):
            raise BadRequest("invalid tool_choice: expected {\"type\": \"function\", \"function\": {\"name\": ...}}")
        for tool in tools:
            if tool["function"]["name"] == name:
                return _call_schema(tool["function"])
        raise BadRequest(f"tool_choice names an unknown function: {name!r}")
    raise BadRequest(f"invalid tool_choice: {choice!r}; expected \"none\", \"auto\", \"required\" or a function")
