"""The Anthropic Messages API (`POST /v1/messages`): its request, reply, stream events and errors.

After Ollama's `anthropic/anthropic.go`. `system` (a string or text blocks) becomes a
system message, joined in order with the system-role messages that clients such as
Claude Code put inside `messages`; content blocks become native messages: text,
base64 images and `document` blocks with text sources (inlined as text), `tool_use`
blocks tool calls, `tool_result` blocks tool messages (before the user's text, as
Ollama orders them), `thinking` blocks the turn's thinking, and the history of
server tools (`server_tool_use`, `web_search_tool_result`) text. `max_tokens`
(required) is `num_predict`, `stop_sequences` `stop`; `thinking.type` enabled or
disabled is `think`, and `output_config.effort` a think level when `thinking` is
absent; `output_config.format` (a JSON schema) is `format`; `tool_choice`
auto/any/tool/none is read as OpenAI's auto/required/a function/none.

Tools of every type are taken: custom tools as functions, Anthropic's client tools
(`bash_*`, `text_editor_*`, `memory_*`) as functions with their published inputs;
server tools this server cannot run (`web_search_*`, `code_execution_*`, ...) and
deferred ones (`defer_loading`) are left out of the prompt and named in the log.
Errors are `{"type": "error", "error": {"type", "message"}}`.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import BadRequest
from ..gojson import json_type
from .openai_wire import MAX_TOKENS
from .wire import ChatRequest, WireRequest

log = logging.getLogger("jupyter_ollama")



@dataclass(frozen=True)
class MessagesRequest(WireRequest):
    go_struct = "MessagesRequest"

    model: str = ""
    max_tokens: int | None = None  # required
    messages: list[Any] = field(default_factory=list)
    system: Any = None  # a string or text blocks
    stream: bool = False
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop_sequences: list[Any] | None = None
    tools: list[Any] = field(default_factory=list)
    tool_choice: dict[str, Any] | None = None
    thinking: dict[str, Any] | None = None  # {"type": "enabled" | "disabled" | "adaptive", ...}
    metadata: dict[str, Any] | None = None
    output_config: dict[str, Any] = field(default_factory=dict)  # {"effort", "format"}
    context_management: dict[str, Any] | None = None
    service_tier: str | None = None


@dataclass(frozen=True)
class CountTokensRequest(MessagesRequest):
    """A Messages request whose prompt is counted, not answered: no `max_tokens` needed (nor read)."""

    go_struct = "CountTokensRequest"

    max_tokens: Any = None


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


def _system(system: Any, where: str = "system") -> str:
    if isinstance(system, str):
        return system
    if isinstance(system, list) and all(isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
                                        for b in system):
        return "".join(b["text"] for b in system)
    raise BadRequest(f"{where} must be a string or an array of text blocks")


def _document(block: dict[str, Any], where: str) -> str:
    """A document block as the text the model reads: its title and context, then its text."""
    given = block.get("source")
    source: dict[str, Any] = given if isinstance(given, dict) else {}
    kind = source.get("type")
    if kind == "text" and isinstance(source.get("data"), str):
        text: str = source["data"]
    elif kind == "content" and isinstance(source.get("content"), (str, list)):
        text = _system(source["content"], f"{where}.source.content")
    else:
        raise BadRequest(f"{where}: a document is read from a text source (type \"text\" or \"content\"), not {kind!r}; "
                         "PDFs and URLs are not supported: send the document's text")
    head = [f"{label}: {block[key]}" for key, label in (("title", "Document"), ("context", "Context"))
            if isinstance(block.get(key), str) and block[key]]
    return "\n".join([*head, text]) if head else text


def _search_results(content: Any) -> str:
    """A web_search_tool_result's content as text, as Ollama writes it: one `- title: url` line per result."""
    if isinstance(content, str):
        return content
    items = content if isinstance(content, list) else [content]
    lines = []
    for item in items:
        if isinstance(item, dict) and item.get("type") == "web_search_result":
            lines.append(f"- {item.get('title', '')}: {item.get('url', '')}")
        elif isinstance(item, dict) and str(item.get("type", "")).endswith("_error"):
            return f"web search error: {item.get('error_code') or 'unknown'}"
    return "\n".join(lines)


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
        raise BadRequest(f'{where}.role must be "user", "assistant" or "system"')
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
        elif kind == "document":  # text blocks join with nothing between them (as Ollama joins them): these end a line
            text.append(_document(block, at) + "\n\n")
        elif kind == "server_tool_use":  # a server tool ran here before: its call, as text
            text.append(f"[{block.get('name', 'server tool')}: {json.dumps(block.get('input') or {}, ensure_ascii=False)}]\n")
        elif kind == "web_search_tool_result":
            text.append(_search_results(block.get("content")) + "\n")
        elif kind is None:
            raise BadRequest(f"{at}: a content block needs a type")
        elif kind != "redacted_thinking":  # a block of a newer API, such as a container upload: nothing to read
            log.info("messages: %s: a %r block is not read", at, kind)
    out: list[dict[str, Any]] = []
    if text or images or calls or thinking:
        turn: dict[str, Any] = {"role": role, "content": "".join(text)}
        for key, value in (("images", images), ("tool_calls", calls), ("thinking", thinking)):
            if value:
                turn[key] = value
        out.append(turn)
    return results + out if role == "user" else out + results


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required}


_STRING, _INT = {"type": "string"}, {"type": "integer"}
# Anthropic's client tools (the client runs them; their inputs are published, not sent): type prefix -> description, schema.
_CLIENT_TOOLS: dict[str, tuple[str, dict[str, Any]]] = {
    "bash_": ("Run a command in a bash shell.", _object({"command": _STRING, "restart": {"type": "boolean"}}, [])),
    "text_editor_": ("View, create and edit text files.", _object({
        "command": {"type": "string", "enum": ["view", "create", "str_replace", "insert", "undo_edit"]}, "path": _STRING,
        "file_text": _STRING, "old_str": _STRING, "new_str": _STRING, "insert_line": _INT,
        "view_range": {"type": "array", "items": _INT}}, ["command", "path"])),
    "memory_": ("Read and write files in the /memories directory.", _object({
        "command": {"type": "string", "enum": ["view", "create", "str_replace", "insert", "delete", "rename"]},
        "path": _STRING, "file_text": _STRING, "old_str": _STRING, "new_str": _STRING, "insert_line": _INT,
        "insert_text": _STRING, "old_path": _STRING, "new_path": _STRING}, ["command"])),
}


def _tool(tool: Any, where: str) -> dict[str, Any] | None:
    """One tool as a native function; None for one this server leaves out (a server tool, a deferred one)."""
    if not isinstance(tool, dict):
        raise BadRequest(f"{where} must be an object, not {json_type(tool)}")
    kind, name = tool.get("type") or "custom", tool.get("name")
    if not isinstance(name, str) or not name:
        raise BadRequest(f"{where}.name: Field required")
    if tool.get("defer_loading") is True:  # loaded by a tool search, as the API does: not in the prompt
        log.info("messages: tool %r is deferred (defer_loading): left out of the prompt", name)
        return None
    if kind == "custom":
        schema = tool.get("input_schema")
        if schema is not None and not isinstance(schema, dict):
            raise BadRequest(f"{where}.input_schema must be an object")
        function = {"name": name, "description": tool.get("description") or "", "parameters": schema or {"type": "object"}}
        return {"type": "function", "function": function}
    client = next((v for prefix, v in _CLIENT_TOOLS.items() if isinstance(kind, str) and kind.startswith(prefix)), None)
    if client is not None:
        return {"type": "function", "function": {"name": name, "description": client[0], "parameters": client[1]}}
    log.info("messages: tool %r (%s) runs on Anthropic's servers, which this server cannot do: left out of the prompt", name, kind)
    return None


def _tools(tools: list[Any]) -> list[dict[str, Any]]:
    return [t for i, tool in enumerate(tools) if (t := _tool(tool, f"tools.{i}")) is not None]


def _tool_choice(choice: dict[str, Any]) -> Any:
    """Anthropic's tool_choice in the chat completion shape `tools.forced_call_schema` reads."""
    kind = choice.get("type")
    if kind == "tool" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    if kind in ("auto", "any", "none"):
        return {"any": "required"}.get(kind, kind)
    raise BadRequest('tool_choice.type must be "auto", "any", "none", or "tool" with a name')


def _think(request: MessagesRequest) -> bool | str | None:
    thinking = request.thinking
    if thinking is not None:
        kind = thinking.get("type")
        if kind not in ("enabled", "disabled", "adaptive"):
            raise BadRequest('thinking.type must be "enabled", "disabled" or "adaptive"')
        return {"enabled": True, "disabled": False}.get(kind)
    effort = str(request.output_config.get("effort") or "").strip().lower()
    effort = "high" if effort == "xhigh" else effort
    return effort if effort in _EFFORTS else None


def _format(request: MessagesRequest) -> Any:
    """`output_config.format`: a JSON schema the reply must follow (structured outputs)."""
    fmt = request.output_config.get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict):
        raise BadRequest('output_config.format must be {"type": "json_schema", "schema": {...}}')
    return fmt["schema"]


def messages(request: MessagesRequest) -> list[dict[str, Any]]:
    """The conversation as native messages: one system prompt (`system`, then the system-role messages in
    order, as Claude Code sends them inside `messages`), then the turns."""
    if not request.messages:
        raise BadRequest("messages is required")
    system = [_system(request.system)] if request.system else []
    turns: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # tool_use ids -> names, for the results that answer them
    for i, message in enumerate(request.messages):
        if isinstance(message, dict) and message.get("role") == "system":
            system.append(_system(message.get("content"), f"messages.{i}.content"))
        else:
            turns += _message(message, names, f"messages.{i}")
    system = [s for s in system if s]
    return ([{"role": "system", "content": "\n\n".join(system)}] if system else []) + turns


def chat_request(request: MessagesRequest) -> tuple[ChatRequest, Any]:
    """The `/api/chat` request for a Messages request, and its tool_choice in OpenAI's shape."""
    if not request.model:
        raise BadRequest("model is required")
    max_tokens = request.max_tokens
    if max_tokens is None or not 1 <= max_tokens <= MAX_TOKENS:
        raise BadRequest("max_tokens is required and must be positive")
    native_messages = messages(request)
    options: dict[str, Any] = {"num_predict": max_tokens}
    for option, value in (("temperature", request.temperature), ("top_p", request.top_p), ("top_k", request.top_k),
                          ("stop", request.stop_sequences)):
        if value is not None:
            options[option] = value
    if not all(isinstance(s, str) for s in options.get("stop", [])):
        raise BadRequest("stop_sequences must be an array of strings")
    think = _think(request)
    fmt = _format(request)
    choice = _tool_choice(request.tool_choice) if request.tool_choice else None
    tools = _tools(request.tools) if request.tools and choice != "none" else []
    native = ChatRequest(model=request.model, messages=native_messages, options=options, stream=request.stream,
                         think=think, format=fmt, tools=tools or None)
    return native, choice


def count_request(request: MessagesRequest) -> tuple[ChatRequest, Any]:
    """The `/api/chat` request whose prompt a count_tokens request counts (no `max_tokens` there)."""
    return chat_request(replace(request, max_tokens=1))


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

    def start(self, input_tokens: int = 0) -> dict[str, Any]:
        """message_start, with the prompt's real token count (clients such as Claude Code read it to compact)."""
        return {"type": "message_start", "message": {
            "id": self.mid, "type": "message", "role": "assistant", "model": self.model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": input_tokens, "output_tokens": 0}}}

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
