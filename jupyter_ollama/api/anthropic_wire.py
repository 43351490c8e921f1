"""The Anthropic Messages API (`POST /v1/messages`): its request, reply, stream events and errors.

After Ollama's `anthropic/anthropic.go`. `system` (a string or text blocks) becomes a
system message; content blocks become native messages: text and base64 images,
`tool_use` blocks tool calls, `tool_result` blocks tool messages (before the user's
text, as Ollama orders them), `thinking` blocks the turn's thinking. `max_tokens`
(required) is `num_predict`, `stop_sequences` `stop`; `thinking.type` enabled or
disabled is `think`, and `output_config.effort` a think level when `thinking` is
absent; `tool_choice` auto/any/tool/none is read as OpenAI's auto/required/a
function/none. Errors are `{"type": "error", "error": {"type", "message"}}`.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from typing import Any

from ..errors import BadRequest
from ..gojson import json_type
from .openai_wire import MAX_TOKENS
from .wire import Shape

MESSAGES = Shape(
    "MessagesRequest",
    {
        "model": "string", "max_tokens": "int", "messages": "array", "system": "any", "stream": "bool",
        "temperature": "number", "top_p": "number", "top_k": "int", "stop_sequences": "array",
        "tools": "array", "tool_choice": "object", "thinking": "object", "metadata": "object",
        "output_config": "object",
    },
)

_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
                503: "overloaded_error", 529: "overloaded_error"}
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens"}
_EFFORTS = ("low", "medium", "high", "max")


def error_body(status: int, message: str) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(status) or ("invalid_request_error" if status < 500 else "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


# -- request ---------------------------------------------------------------------


def _system(system: Any) -> str:
    if isinstance(system, str):
        return system
    if isinstance(system, list) and all(isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
                                        for b in system):
        return "".join(b["text"] for b in system)
    raise BadRequest("system must be a string or an array of text blocks")


def _image(block: dict[str, Any], where: str) -> str:
    source = block.get("source")
    if not isinstance(source, dict) or source.get("type") != "base64":
        kind = source.get("type") if isinstance(source, dict) else None
        raise BadRequest(f"{where}: invalid image source type: {kind!r}. Only base64 images are supported.")
    data = source.get("data")
    try:
        base64.b64decode(data if isinstance(data, str) else "", validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(f"{where}: invalid base64 image data") from None
    if not data:
        raise BadRequest(f"{where}: invalid base64 image data")
    return data


def _result(block: dict[str, Any], names: dict[str, str], where: str) -> dict[str, Any]:
    """A tool_result block as a native tool message."""
    content = block.get("content")
    texts: list[str] = []
    images: list[str] = []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for i, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif kind == "image":
                images.append(_image(part, f"{where}.content[{i}]"))
            else:
                raise BadRequest(f"{where}.content[{i}]: a tool_result holds text and image blocks, not {kind!r}")
    elif content is not None:
        raise BadRequest(f"{where}.content must be a string or an array of blocks")
    call_id: str = block["tool_use_id"] if isinstance(block.get("tool_use_id"), str) else ""
    message = {"role": "tool", "content": "".join(texts), "tool_call_id": call_id, "tool_name": names.get(call_id, "")}
    return {**message, "images": images} if images else message


def _message(message: Any, names: dict[str, str], where: str) -> list[dict[str, Any]]:
    """One Anthropic message as native messages: tool results first, then the turn itself."""
    if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
        raise BadRequest(f'{where}.role must be "user" or "assistant"')
    role, content = message["role"], message.get("content")
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
    if not isinstance(blocks, list):
        raise BadRequest(f"{where}.content must be a string or an array of content blocks, not {json_type(content)}")
    text: list[str] = []
    images: list[str] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    thinking = ""
    for i, block in enumerate(blocks):
        at = f"{where}.content[{i}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text" and isinstance(block.get("text"), str):
            text.append(block["text"])
        elif kind == "image":
            images.append(_image(block, at))
        elif kind == "tool_use":
            if not (isinstance(block.get("id"), str) and block["id"] and isinstance(block.get("name"), str) and block["name"]):
                raise BadRequest(f"{at}: a tool_use block needs an id and a name")
            if not isinstance(block.get("input", {}), dict):
                raise BadRequest(f"{at}.input must be an object")
            names[block["id"]] = block["name"]
            calls.append({"id": block["id"], "function": {"name": block["name"], "arguments": block.get("input") or {}}})
        elif kind == "tool_result":
            results.append(_result(block, names, at))
        elif kind == "thinking" and isinstance(block.get("thinking"), str):
            thinking = block["thinking"]
        elif kind != "redacted_thinking":
            raise BadRequest(f"{at}: unsupported content block type: {kind!r}")
    out: list[dict[str, Any]] = []
    if text or images or calls or thinking:
        turn: dict[str, Any] = {"role": role, "content": "".join(text)}
        for key, value in (("images", images), ("tool_calls", calls), ("thinking", thinking)):
            if value:
                turn[key] = value
        out.append(turn)
    return results + out if role == "user" else out + results


def _tools(tools: list[Any]) -> list[dict[str, Any]]:
    out = []
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type", "custom") not in ("custom", None):
            kind = tool.get("type") if isinstance(tool, dict) else json_type(tool)
            raise BadRequest(f"tools.{i}: only custom tools (name, description, input_schema) are supported, not {kind!r}")
        if not isinstance(tool.get("name"), str) or not tool["name"]:
            raise BadRequest(f"tools.{i}.name: Field required")
        schema = tool.get("input_schema")
        if schema is not None and not isinstance(schema, dict):
            raise BadRequest(f"tools.{i}.input_schema must be an object")
        function = {"name": tool["name"], "description": tool.get("description") or "", "parameters": schema or {"type": "object"}}
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: dict[str, Any]) -> Any:
    """Anthropic's tool_choice in the chat completion shape `tools.forced_call_schema` reads."""
    kind = choice.get("type")
    if kind == "tool" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    if kind in ("auto", "any", "none"):
        return {"any": "required"}.get(kind, kind)
    raise BadRequest('tool_choice.type must be "auto", "any", "none", or "tool" with a name')


def _think(body: dict[str, Any]) -> bool | str | None:
    thinking = body.get("thinking")
    if thinking is not None:
        kind = thinking.get("type")
        if kind not in ("enabled", "disabled", "adaptive"):
            raise BadRequest('thinking.type must be "enabled", "disabled" or "adaptive"')
        return {"enabled": True, "disabled": False}.get(kind)
    effort = str((body.get("output_config") or {}).get("effort") or "").strip().lower()
    effort = "high" if effort == "xhigh" else effort
    return effort if effort in _EFFORTS else None


def chat_request(body: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The `/api/chat` body for a Messages request, and its tool_choice in OpenAI's shape."""
    if not body.get("model"):
        raise BadRequest("model is required")
    max_tokens = body.get("max_tokens")
    if max_tokens is None or not 1 <= max_tokens <= MAX_TOKENS:
        raise BadRequest("max_tokens is required and must be positive")
    if not body.get("messages"):
        raise BadRequest("messages is required")
    messages = [{"role": "system", "content": _system(body["system"])}] if body.get("system") else []
    names: dict[str, str] = {}  # tool_use ids -> names, for the results that answer them
    for i, message in enumerate(body["messages"]):
        messages += _message(message, names, f"messages.{i}")
    options: dict[str, Any] = {"num_predict": max_tokens}
    for key, option in (("temperature", "temperature"), ("top_p", "top_p"), ("top_k", "top_k"), ("stop_sequences", "stop")):
        if body.get(key) is not None:
            options[option] = body[key]
    if not all(isinstance(s, str) for s in options.get("stop", [])):
        raise BadRequest("stop_sequences must be an array of strings")
    native: dict[str, Any] = {"model": body["model"], "messages": messages, "options": options,
                              "stream": bool(body.get("stream")), "think": _think(body)}
    choice = _tool_choice(body["tool_choice"]) if body.get("tool_choice") else None
    if body.get("tools") and choice != "none":
        native["tools"] = _tools(body["tools"])
    return native, choice


# -- reply -----------------------------------------------------------------------


def stop_reason(final: dict[str, Any], calls: bool) -> str:
    return "tool_use" if calls else _STOP_REASONS.get(final.get("done_reason") or "", "end_turn")


def usage(final: dict[str, Any]) -> dict[str, int]:
    return {"input_tokens": final.get("prompt_eval_count", 0), "output_tokens": final.get("eval_count", 0)}


def _tool_use(call: dict[str, Any], arguments: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": call.get("id") or new_id("toolu"), "name": call["function"]["name"], "input": arguments}


def message(mid: str, model: str, final: dict[str, Any]) -> dict[str, Any]:
    """The reply to a request answered whole (`final`: the merged native chat reply)."""
    msg = final["message"]
    calls = msg.get("tool_calls") or []
    content: list[dict[str, Any]] = []
    if msg.get("thinking"):
        content.append({"type": "thinking", "thinking": msg["thinking"], "signature": ""})
    if msg.get("content") or not (calls or content):  # as streamed: a text block when there is text, or nothing else
        content.append({"type": "text", "text": msg.get("content", "")})
    content += [_tool_use(c, c["function"]["arguments"]) for c in calls]
    return {"id": mid, "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": stop_reason(final, bool(calls)), "stop_sequence": None, "usage": usage(final)}


class MessageStream:
    """The Messages stream events for a chat's native chunks: message_start; a content block per
    thinking, text and tool_use (start, deltas, stop); message_delta with the stop reason and usage;
    message_stop."""

    def __init__(self, mid: str, model: str) -> None:
        self.mid, self.model = mid, model
        self.index = -1  # of the block being written
        self.open: str | None = None  # its type
        self.called = False  # a tool_use block went out

    def start(self) -> dict[str, Any]:
        return {"type": "message_start", "message": {
            "id": self.mid, "type": "message", "role": "assistant", "model": self.model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 0, "output_tokens": 0}}}

    def _block(self, block: dict[str, Any]) -> list[dict[str, Any]]:
        events = self._close()
        self.index += 1
        self.open = block["type"]
        return events + [{"type": "content_block_start", "index": self.index, "content_block": block}]

    def _close(self) -> list[dict[str, Any]]:
        if self.open is None:
            return []
        self.open = None
        return [{"type": "content_block_stop", "index": self.index}]

    def add(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        msg = chunk["message"]
        events: list[dict[str, Any]] = []
        if msg.get("thinking"):
            if self.open != "thinking":
                events += self._block({"type": "thinking", "thinking": "", "signature": ""})
            events.append({"type": "content_block_delta", "index": self.index,
                           "delta": {"type": "thinking_delta", "thinking": msg["thinking"]}})
        if msg.get("content"):
            if self.open != "text":
                events += self._block({"type": "text", "text": ""})
            events.append({"type": "content_block_delta", "index": self.index,
                           "delta": {"type": "text_delta", "text": msg["content"]}})
        for call in msg.get("tool_calls") or []:  # in the last chunk today; in any chunk where parsed, tomorrow
            events += self._block(_tool_use(call, {}))
            events.append({"type": "content_block_delta", "index": self.index,
                           "delta": {"type": "input_json_delta", "partial_json": json.dumps(call["function"]["arguments"])}})
            self.called = True
        if chunk["done"]:
            if self.index < 0:  # nothing said: one empty text block, as in the whole reply
                events += self._block({"type": "text", "text": ""})
            events += self._close()
            events.append({"type": "message_delta", "delta": {"stop_reason": stop_reason(chunk, self.called), "stop_sequence": None},
                           "usage": usage(chunk)})
            events.append({"type": "message_stop"})
        return events
