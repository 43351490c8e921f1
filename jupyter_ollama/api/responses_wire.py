"""The OpenAI Responses API (`POST /v1/responses`): its request, reply and stream events.

After Ollama's `openai/responses.go`. A request is rewritten as a chat completion
body (`chat_body`), which `openai_wire.chat_request` turns into `/api/chat`'s:
`input` (a string, or items: messages with content parts, `function_call`,
`function_call_output`, `custom_tool_call`, `custom_tool_call_output`,
`reasoning`) becomes messages, `instructions` a leading system message, flat
function tools nested ones, `text.format` the `response_format`,
`reasoning.effort` the think level, `max_output_tokens` `max_tokens`. Native
chunks come back as one `response` object, or as the Responses stream events
(`ResponseStream`). Nothing is stored: no `previous_response_id`, no `background`.

Tools as Codex sends them (`ToolTable`): a `namespace` tool's members become
functions named `<namespace>.<name>`, as Ollama flattens them, and their calls go
back as `function_call` items with the `namespace` beside the `name`; a `custom`
tool (free-form text input) becomes a function of one string, `input`, and its
calls go back as `custom_tool_call` items. Hosted tools this server cannot run
(`web_search`, `file_search`, `code_interpreter`, `image_generation`, ...) are
left out of the prompt and named in the log, as are history items of kinds that
carry nothing the model reads (a `web_search_call`, an `item_reference`).
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest
from ..gojson import json_type
from .openai_wire import MAX_TOKENS, ChatCompletionRequest, openai_tool_calls
from .wire import WireRequest

log = logging.getLogger("jupyter_ollama")



@dataclass(frozen=True)
class ResponsesRequest(WireRequest):
    go_struct = "ResponsesRequest"

    model: str = ""
    input: Any = None  # a string, or an array of items
    instructions: str | None = None
    max_output_tokens: int | None = None
    reasoning: dict[str, Any] = field(default_factory=dict)  # {"effort", "summary"}
    temperature: float | None = None
    top_p: float | None = None
    text: dict[str, Any] = field(default_factory=dict)  # {"format": ...}
    tools: list[Any] = field(default_factory=list)
    tool_choice: Any = None
    stream: bool = False
    truncation: str = "disabled"
    previous_response_id: str = ""
    background: bool = False
    store: bool | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    parallel_tool_calls: bool | None = None
    conversation: Any = None
    include: list[Any] = field(default_factory=list)
    prompt_cache_key: str | None = None
    client_metadata: Any = None
    service_tier: str | None = None


_PART_TYPES = {"input_text": "text", "output_text": "text", "input_image": "image_url"}


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


# -- request ---------------------------------------------------------------------


def _parts(content: Any, where: str) -> str | list[dict[str, Any]]:
    """A message's content as chat content: a string, or text and image_url parts."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise BadRequest(f"{where}.content must be a string or an array, not {json_type(content)}")
    parts: list[dict[str, Any]] = []
    for i, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "input_file":
            raise BadRequest("file inputs are not currently supported")
        if kind not in _PART_TYPES:
            raise BadRequest(f"{where}.content[{i}]: unknown content type: {kind!r}")
        if kind == "input_image":
            if not isinstance(part.get("image_url"), str):
                raise BadRequest(f"{where}.content[{i}]: input_image needs an image_url (a base64 data URL)")
            parts.append({"type": "image_url", "image_url": {"url": part["image_url"]}})
        elif isinstance(part.get("text"), str):
            parts.append({"type": "text", "text": part["text"]})
        else:
            raise BadRequest(f"{where}.content[{i}].text must be a string")
    return parts


def _output_text(output: Any, where: str) -> str:
    if isinstance(output, str):
        return output
    parts = _parts(output, where) if isinstance(output, list) else None
    if parts is None:
        raise BadRequest(f"{where}.output must be a string or an array, not {json_type(output)}")
    return "".join(p.get("text", "") for p in parts if isinstance(p, dict))


def _call(messages: list[dict[str, Any]], call: dict[str, Any]) -> None:
    """An earlier call joins the assistant turn before it, or starts one."""
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant":
        last.setdefault("tool_calls", []).append(call)
    else:
        messages.append({"role": "assistant", "content": "", "tool_calls": [call]})


# History items that carry nothing the model reads here: a hosted tool's call, a reference to a stored item.
_SKIPPED_ITEMS = ("web_search_call", "file_search_call", "code_interpreter_call", "image_generation_call",
                  "computer_call", "computer_call_output", "item_reference", "mcp_list_tools", "mcp_approval_request",
                  "mcp_approval_response", "compaction", "local_shell_call", "local_shell_call_output")


def _messages(request: ResponsesRequest, table: ToolTable) -> list[dict[str, Any]]:
    """Chat messages for the request's `instructions` and `input`."""
    messages: list[dict[str, Any]] = []
    if request.instructions:
        messages.append({"role": "system", "content": request.instructions})
    items = request.input
    if isinstance(items, str):
        return messages + ([{"role": "user", "content": items}] if items else [])
    if items is None:
        return messages
    if not isinstance(items, list):
        raise BadRequest(f"input must be a string or an array, not {json_type(items)}")
    thinking = ""  # a reasoning item rides with the assistant turn that follows it
    for i, item in enumerate(items):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise BadRequest(f"{where} must be an object, not {json_type(item)}")
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "message":
            role = item.get("role")
            if role not in ("user", "assistant", "system", "developer"):
                raise BadRequest(f"{where}.role must be user, assistant, system or developer, not {role!r}")
            message: dict[str, Any] = {"role": role, "content": _parts(item.get("content", ""), where)}
            if role == "assistant" and thinking:
                message["reasoning"], thinking = thinking, ""
            messages.append(message)
        elif kind in ("function_call", "custom_tool_call"):
            custom = kind == "custom_tool_call"
            value = item.get("input" if custom else "arguments", "")
            if not isinstance(item.get("name"), str) or not isinstance(value, str):
                raise BadRequest(f"{where}: a {kind} needs a name and " + ("its input (a string)" if custom else
                                                                            "arguments (a JSON string)"))
            arguments = json.dumps({CUSTOM_INPUT: value}) if custom else value or "{}"
            _call(messages, {"id": item.get("call_id") or "", "type": "function",
                             "function": {"name": table.flat(item["name"], item.get("namespace")), "arguments": arguments}})
            if thinking:
                messages[-1]["reasoning"], thinking = thinking, ""
        elif kind in ("function_call_output", "custom_tool_call_output"):
            messages.append({"role": "tool", "tool_call_id": item.get("call_id") or "",
                             "content": _output_text(item.get("output", ""), where)})
        elif kind == "reasoning":
            summary: list[Any] = item["summary"] if isinstance(item.get("summary"), list) else []
            thinking = item.get("encrypted_content") or "".join(
                s.get("text", "") for s in summary if isinstance(s, dict) and isinstance(s.get("text"), str))
        elif kind in _SKIPPED_ITEMS:
            log.info("responses: %s: a %s item carries nothing this server reads: left out", where, kind)
        else:
            raise BadRequest(f"{where}: unknown input item type: {kind!r}" if kind else f"{where} is missing its 'type'")
    if thinking:
        messages.append({"role": "assistant", "content": "", "reasoning": thinking})
    return messages


CUSTOM_INPUT = "input"  # the one argument of a custom tool's function: its free-form text


@dataclass
class ToolTable:
    """The request's tools as the model sees them (functions), and how its calls go back to the client."""

    functions: list[dict[str, Any]] = field(default_factory=list)
    members: dict[str, tuple[str, str]] = field(default_factory=dict)  # "ns.fn" -> ("ns", "fn")
    custom: set[str] = field(default_factory=set)  # names of custom (free-form) tools

    def add(self, tool: Any, where: str, namespace: str = "") -> None:
        if not isinstance(tool, dict):
            raise BadRequest(f"{where} must be an object, not {json_type(tool)}")
        kind, name = tool.get("type") or "function", tool.get("name")
        if kind == "namespace":
            members = tool.get("tools")
            if not isinstance(name, str) or not name or not isinstance(members, list):
                raise BadRequest(f"{where}: a namespace tool needs a name and its tools")
            for i, member in enumerate(members):
                self.add(member, f"{where}.tools[{i}]", name)
            return
        if kind not in ("function", "custom"):  # hosted by OpenAI: nothing here can run it
            log.info("responses: the %s tool%s runs on OpenAI's servers, which this server cannot do: left out of the prompt",
                     kind, f" {name!r}" if name else "")
            return
        if not isinstance(name, str) or not name:
            raise BadRequest(f"{where}: a {kind} tool needs a name")
        flat = name if not namespace or name.startswith(namespace + ".") else f"{namespace}.{name}"
        if namespace:
            self.members[flat] = (namespace, name)
        if kind == "custom":
            self.custom.add(flat)
            described = tool.get("description") or ""
            syntax = (tool.get("format") or {}).get("definition") if isinstance(tool.get("format"), dict) else None
            text = {"type": "string", "description": "the tool's input, as free-form text" +
                    (f" following this grammar:\n{syntax}" if syntax else "")}
            function = {"name": flat, "description": described,
                        "parameters": {"type": "object", "properties": {CUSTOM_INPUT: text}, "required": [CUSTOM_INPUT]}}
        else:
            function = {"name": flat, **{k: tool[k] for k in ("description", "parameters") if tool.get(k) is not None}}
        self.functions.append({"type": "function", "function": function})

    def flat(self, name: str, namespace: Any) -> str:
        """A call's name as the prompt knows it, from an item that may carry its namespace apart."""
        return f"{namespace}.{name}" if isinstance(namespace, str) and namespace and not name.startswith(namespace + ".") else name

    def item(self, call: dict[str, Any]) -> dict[str, Any]:
        """A call (OpenAI's chat shape) as the Responses output item the client runs."""
        name, arguments = call["function"]["name"], call["function"]["arguments"]
        if name in self.custom:
            try:
                parsed = json.loads(arguments)
            except ValueError:
                parsed = None
            text = parsed.get(CUSTOM_INPUT) if isinstance(parsed, dict) else None
            return {"id": new_id("ctc"), "type": "custom_tool_call", "status": "completed", "call_id": call["id"],
                    "name": self.members.get(name, ("", name))[1], "input": text if isinstance(text, str) else arguments}
        item = {"id": new_id("fc"), "type": "function_call", "status": "completed", "call_id": call["id"],
                "name": name, "arguments": arguments}
        if name in self.members:
            item["namespace"], item["name"] = self.members[name]
        return item


def tool_table(tools: Any) -> ToolTable:
    table = ToolTable()
    for i, tool in enumerate(tools or []):
        table.add(tool, f"tools[{i}]")
    return table


def _tool_choice(choice: Any) -> Any:
    """Responses' tool_choice in the chat completion shape `tools.forced_call_schema` reads."""
    if choice is None or choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise BadRequest(f'invalid tool_choice: {choice!r}; expected "none", "auto", "required" or {{"type": "function", "name": ...}}')


def _response_format(text: dict[str, Any]) -> dict[str, Any] | None:
    fmt = text.get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object", "json_schema"):
        raise BadRequest('text.format.type must be "text", "json_object" or "json_schema"')
    if fmt["type"] == "json_schema":
        if not isinstance(fmt.get("schema"), dict):
            raise BadRequest("text.format json_schema needs a `schema` object")
        return {"type": "json_schema", "json_schema": {"name": fmt.get("name"), "schema": fmt["schema"]}}
    return {"type": fmt["type"]}


def chat_body(request: ResponsesRequest, table: ToolTable) -> ChatCompletionRequest:
    """The chat completion request that asks what `request` asks, with `table` (the request's tools) as its tools."""
    for name, unsupported in (("previous_response_id", request.previous_response_id), ("conversation", request.conversation)):
        if unsupported:
            raise BadRequest(f"{name} is not supported: responses are not stored, send the whole conversation as input")
    if request.background:
        raise BadRequest("background responses are not supported")
    messages = _messages(request, table)
    if not any(m["role"] not in ("system", "developer") for m in messages):
        raise BadRequest("input is required")
    max_tokens = request.max_output_tokens
    if max_tokens is not None and not 1 <= max_tokens <= MAX_TOKENS:
        raise BadRequest(f"max_output_tokens must be an integer from 1 to {MAX_TOKENS}, not {max_tokens}")
    effort = request.reasoning.get("effort")
    if effort is not None and not isinstance(effort, str):
        raise BadRequest(f"reasoning.effort must be a string, not {json_type(effort)}")
    tool_choice = _tool_choice(request.tool_choice) if table.functions else None
    return ChatCompletionRequest(
        model=request.model, messages=messages, stream=request.stream, temperature=request.temperature,
        top_p=request.top_p, max_tokens=max_tokens, reasoning={"effort": effort} if effort is not None else None,
        tools=table.functions or None, tool_choice=tool_choice, response_format=_response_format(request.text) or {})


# -- reply -----------------------------------------------------------------------


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    content = [_text_part(text)] if status == "completed" else []
    return {"id": item_id, "type": "message", "status": status, "role": "assistant", "content": content}


def reasoning_item(item_id: str, thinking: str) -> dict[str, Any]:
    return {"id": item_id, "type": "reasoning", "summary": [{"type": "summary_text", "text": thinking}],
            "encrypted_content": thinking}


def call_items(calls: list[dict[str, Any]], table: ToolTable) -> list[dict[str, Any]]:
    return [table.item(c) for c in openai_tool_calls(calls)]


def usage(final: dict[str, Any]) -> dict[str, Any]:
    prompt, output = final.get("prompt_eval_count", 0), final.get("eval_count", 0)
    return {"input_tokens": prompt, "output_tokens": output, "total_tokens": prompt + output,
            "input_tokens_details": {"cached_tokens": 0}, "output_tokens_details": {"reasoning_tokens": 0}}


def response_object(rid: str, request: ResponsesRequest, status: str, output: list[dict[str, Any]],
                    final: dict[str, Any] | None = None) -> dict[str, Any]:
    """The `response` object, echoing the request's settings; `final` (the last native chunk) when done."""
    text, reasoning = request.text, request.reasoning
    incomplete = final is not None and final.get("done_reason") == "length"
    return {
        "id": rid, "object": "response", "created_at": int(time.time()),
        "completed_at": int(time.time()) if final is not None else None,
        "status": "incomplete" if incomplete else status,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "model": request.model, "previous_response_id": None, "instructions": request.instructions,
        "output": output, "error": None, "tools": request.tools,
        "tool_choice": "auto" if request.tool_choice is None else request.tool_choice,
        "truncation": request.truncation, "parallel_tool_calls": True,
        "text": {"format": text.get("format") or {"type": "text"}},
        "top_p": 1.0 if request.top_p is None else request.top_p,
        "temperature": 1.0 if request.temperature is None else request.temperature,
        "presence_penalty": 0, "frequency_penalty": 0, "top_logprobs": 0,
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")} if reasoning else None,
        "usage": usage(final) if final is not None else None,
        "max_output_tokens": request.max_output_tokens, "max_tool_calls": None, "store": False,
        "background": False, "service_tier": "default", "metadata": request.metadata,
        "safety_identifier": None, "prompt_cache_key": None,
    }


def final_output(final: dict[str, Any], table: ToolTable) -> list[dict[str, Any]]:
    """The output items of a finished (merged) chat reply: reasoning, the message, the calls."""
    msg = final["message"]
    calls = msg.get("tool_calls") or []
    output = [reasoning_item(new_id("rs"), msg["thinking"])] if msg.get("thinking") else []
    if msg.get("content") or not (calls or output):  # as streamed: a message when there is text, or nothing else
        output.append(message_item(new_id("msg"), msg.get("content", "")))
    return output + call_items(calls, table)


class ResponseStream:
    """The Responses stream events for a chat's native chunks, numbered in order.

    response.created and .in_progress; a reasoning item while the model thinks; a message item with
    one output_text part while it writes; a function_call item per call; response.completed carrying
    the whole response (its status "incomplete" at max_output_tokens).
    """

    def __init__(self, rid: str, request: ResponsesRequest, table: ToolTable) -> None:
        self.rid, self.request, self.table = rid, request, table
        self.sequence = 0
        self.output: list[dict[str, Any]] = []  # the items done so far
        self.open: dict[str, Any] | None = None  # the item being written: reasoning or message
        self.text = ""

    def event(self, kind: str, **data: Any) -> dict[str, Any]:
        self.sequence += 1
        return {"type": kind, "sequence_number": self.sequence - 1, **data}

    def _where(self) -> dict[str, Any]:
        assert self.open is not None
        return {"item_id": self.open["id"], "output_index": len(self.output)}

    def start(self) -> list[dict[str, Any]]:
        response = response_object(self.rid, self.request, "in_progress", [])
        return [self.event("response.created", response=response), self.event("response.in_progress", response=response)]

    def in_progress(self) -> dict[str, Any]:
        """response.in_progress again: the Responses API's only event for "still working" (a keep-alive)."""
        return self.event("response.in_progress", response=response_object(self.rid, self.request, "in_progress", self.output))

    def _open(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        events = self._close()
        self.open, self.text = item, ""
        events.append(self.event("response.output_item.added", output_index=len(self.output), item=item))
        if item["type"] == "message":
            events.append(self.event("response.content_part.added", **self._where(), content_index=0, part=_text_part("")))
        else:
            events.append(self.event("response.reasoning_summary_part.added", **self._where(), summary_index=0,
                                     part={"type": "summary_text", "text": ""}))
        return events

    def _close(self) -> list[dict[str, Any]]:
        if self.open is None:
            return []
        where, text = self._where(), self.text
        if self.open["type"] == "message":
            item = message_item(self.open["id"], text)
            events = [self.event("response.output_text.done", **where, content_index=0, text=text, logprobs=[]),
                      self.event("response.content_part.done", **where, content_index=0, part=_text_part(text))]
        else:
            item = reasoning_item(self.open["id"], text)
            part = {"type": "summary_text", "text": text}
            events = [self.event("response.reasoning_summary_text.done", **where, summary_index=0, text=text),
                      self.event("response.reasoning_summary_part.done", **where, summary_index=0, part=part)]
        events.append(self.event("response.output_item.done", output_index=where["output_index"], item=item))
        self.output.append(item)
        self.open = None
        return events

    def add(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        """The events for one native chunk."""
        msg = chunk["message"]
        events: list[dict[str, Any]] = []
        for kind, piece in (("reasoning", msg.get("thinking", "")), ("message", msg.get("content", ""))):
            if not piece:
                continue
            if self.open is None or self.open["type"] != kind:
                prefix = "rs" if kind == "reasoning" else "msg"
                fresh = {"id": new_id(prefix), "type": "reasoning", "summary": []} if kind == "reasoning" \
                    else message_item(new_id(prefix), "", "in_progress")
                events += self._open(fresh)
            self.text += piece
            if kind == "reasoning":
                events.append(self.event("response.reasoning_summary_text.delta", **self._where(), summary_index=0, delta=piece))
            else:
                events.append(self.event("response.output_text.delta", **self._where(), content_index=0, delta=piece, logprobs=[]))
        if msg.get("tool_calls"):  # in the last chunk today; in any chunk where a call was parsed, tomorrow
            events += self._close() + self._calls(msg["tool_calls"])
        if chunk["done"]:
            if not self.output and self.open is None:  # nothing said: one empty message, as in the whole reply
                events += self._open(message_item(new_id("msg"), "", "in_progress"))
            events += self._close()
            response = response_object(self.rid, self.request, "completed", self.output, chunk)
            # response.completed even when incomplete (the status says so): what clients wait for, as from Ollama.
            events.append(self.event("response.completed", response=response))
        return events

    def _calls(self, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        events = []
        for item in call_items(calls, self.table):
            index = len(self.output)
            field, kind = ("input", "custom_tool_call_input") if item["type"] == "custom_tool_call" else \
                ("arguments", "function_call_arguments")
            events += [
                self.event("response.output_item.added", output_index=index,
                           item={**item, "status": "in_progress", field: ""}),
                self.event(f"response.{kind}.delta", item_id=item["id"], output_index=index, delta=item[field]),
                self.event(f"response.{kind}.done", item_id=item["id"], output_index=index, **{field: item[field]}),
                self.event("response.output_item.done", output_index=index, item=item),
            ]
            self.output.append(item)
        return events

    def error(self, status: int, message: str) -> dict[str, Any]:
        code = "invalid_request_error" if 400 <= status < 500 else "server_error"
        return self.event("error", code=code, message=message, param=None)
