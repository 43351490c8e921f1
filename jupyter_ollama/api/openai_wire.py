"""OpenAI request and reply shapes, and their translation to and from Ollama's.

A port of Ollama's `openai/openai.go`: a chat completion request becomes an
`/api/chat` body (`max_tokens` -> `num_predict`, temperature and top_p default to
1.0, `response_format` -> `format`, `reasoning_effort` -> `think`, content parts ->
text and images), and Ollama's chunks become `chat.completion(.chunk)` objects
(tool-call arguments as JSON strings, `finish_reason: "tool_calls"`).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import random
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest
from .wire import ChatRequest, GenerateRequest, WireRequest

MAX_TOKENS = 2**31 - 1  # what num_predict can hold
MAX_TOP_LOGPROBS = 20  # chat completions' top_logprobs
MAX_COMPLETION_LOGPROBS = 5  # legacy completions' logprobs



@dataclass(frozen=True)
class SamplingRequest(WireRequest):
    """The fields chat completions and (legacy) completions share."""

    model: str = ""
    stream: bool = False
    stream_options: dict[str, Any] = field(default_factory=dict)
    max_tokens: int | None = None
    max_completion_tokens: int | None = None  # the newer name of max_tokens
    seed: int | None = None
    stop: Any = None  # a string or an array of strings
    temperature: float | None = None  # None: OpenAI's default, 1.0
    top_p: float | None = None  # None: OpenAI's default, 1.0
    frequency_penalty: float | None = None
    presence_penalty: float | None = None

    @property
    def include_usage(self) -> bool:
        """`stream_options.include_usage`: a streamed reply ends with a usage chunk."""
        return bool(self.stream_options.get("include_usage"))


@dataclass(frozen=True)
class ChatCompletionRequest(SamplingRequest):
    go_struct = "ChatCompletionRequest"

    messages: list[Any] = field(default_factory=list)
    response_format: dict[str, Any] = field(default_factory=dict)
    tools: list[Any] | None = None
    tool_choice: Any = None
    reasoning: dict[str, Any] | None = None  # {"effort": ...}
    reasoning_effort: str | None = None
    logprobs: bool = False
    top_logprobs: int | None = None


@dataclass(frozen=True)
class CompletionRequest(SamplingRequest):
    go_struct = "CompletionRequest"

    prompt: str = ""
    suffix: str = ""
    logprobs: int | None = None  # how many alternatives per token (0: the sampled tokens' logprobs only)


@dataclass(frozen=True)
class EmbedRequest(WireRequest):
    go_struct = "EmbedRequest"

    input: Any = None  # a string or an array of strings
    model: str = ""
    dimensions: int | None = None
    encoding_format: str | None = None  # "float" or "base64"


_EFFORTS: dict[str, bool | str] = {"none": False, "minimal": "low", "low": "low", "medium": "medium", "high": "high",
            "max": "max", "xhigh": "max", "ultra": "max"}
_IMAGE_PREFIXES = ("data:;base64,", *(f"data:image/{t};base64," for t in ("jpeg", "jpg", "png", "webp")))


def reply_id(prefix: str) -> str:
    """Ollama's ids: `chatcmpl-<n>` / `cmpl-<n>`, n random below 999."""
    return f"{prefix}-{random.randrange(999)}"


def _stop(stop: Any, strict: bool) -> list[str] | None:
    if stop is None:
        return None
    if isinstance(stop, str):
        return [stop]
    if isinstance(stop, list):
        bad = [s for s in stop if not isinstance(s, str)]
        if bad and strict:
            raise BadRequest(f"invalid type for 'stop' field: {type(bad[0]).__name__}")
        return [s for s in stop if isinstance(s, str)]
    raise BadRequest("invalid type for 'stop' field: expected a string or an array of strings")


def _options(request: SamplingRequest, strict_stop: bool) -> dict[str, Any]:
    # OpenAI's defaults (1.0) when absent or null; an explicit 0 is kept (top_p 0 is greedy, as in Ollama).
    options: dict[str, Any] = {"temperature": 1.0 if request.temperature is None else request.temperature,
                               "top_p": 1.0 if request.top_p is None else request.top_p}
    stop = _stop(request.stop, strict_stop)
    if stop is not None:
        options["stop"] = stop
    max_tokens = request.max_tokens if request.max_tokens is not None else request.max_completion_tokens
    if max_tokens is not None:
        if not 1 <= max_tokens <= MAX_TOKENS:
            raise BadRequest(f"max_tokens must be an integer from 1 to {MAX_TOKENS}, not {max_tokens}")
        options["num_predict"] = max_tokens
    for key, value in (("seed", request.seed), ("frequency_penalty", request.frequency_penalty),
                       ("presence_penalty", request.presence_penalty)):
        if value is not None:
            options[key] = value
    return options


def _image(url: Any) -> str:
    if not isinstance(url, str):
        raise BadRequest("invalid message format")
    if url.startswith(("http://", "https://")):
        raise BadRequest("image URLs are not currently supported, please use base64 encoded data instead")
    prefix = next((p for p in _IMAGE_PREFIXES if url.startswith(p)), None)
    if prefix is None:
        raise BadRequest("invalid image input")
    data = url[len(prefix):]
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest("invalid image input") from None
    return data


def _tool_calls(calls: Any) -> list[dict[str, Any]]:
    if not isinstance(calls, list):
        raise BadRequest("invalid message format: tool_calls must be an array")
    out = []
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict):
            raise BadRequest("invalid tool call arguments")
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except (TypeError, ValueError):
            raise BadRequest("invalid tool call arguments") from None
        if not isinstance(arguments, dict):
            raise BadRequest("invalid tool call arguments")
        out.append({"id": call.get("id") or "", "function": {"name": function.get("name") or "", "arguments": arguments}})
    return out


def _messages(msg: Any, history: list[Any]) -> list[dict[str, Any]]:
    """One OpenAI message as Ollama's: a content list becomes one message per part, as Ollama makes it;
    the tool calls, reasoning and tool result fields go on the last of them."""
    if not isinstance(msg, dict):
        raise BadRequest("invalid message format")
    role, content = msg.get("role"), msg.get("content")
    role = "system" if role == "developer" else role  # OpenAI's newer name for system
    parts: list[dict[str, Any]] = []
    if isinstance(content, str):
        parts.append({"role": role, "content": content})
    elif isinstance(content, list):
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                parts.append({"role": role, "content": part["text"]})
            elif kind == "image_url":
                url = part["image_url"].get("url") if isinstance(part["image_url"], dict) else part["image_url"]
                parts.append({"role": role, "content": "", "images": [_image(url)]})
            else:
                raise BadRequest("invalid message format")
    elif content is not None or not msg.get("tool_calls"):
        raise BadRequest(f"invalid message content type: {type(content).__name__}")
    if not parts:
        parts.append({"role": role})
    parts[-1] = _message_extras(msg, history, parts[-1])
    return parts


def _message_extras(msg: dict[str, Any], history: list[Any], out: dict[str, Any]) -> dict[str, Any]:
    role = msg.get("role")
    if msg.get("tool_calls"):
        out["tool_calls"] = _tool_calls(msg["tool_calls"])
    if msg.get("reasoning"):
        out["thinking"] = msg["reasoning"]
    if str(role).lower() == "tool":
        out["tool_call_id"] = msg.get("tool_call_id") or ""
        out["tool_name"] = msg.get("name") or _name_for_call(history, out["tool_call_id"])
    return out


def _name_for_call(messages: list[Any], call_id: str) -> str:
    for msg in reversed(messages):
        for call in (msg.get("tool_calls") or []) if isinstance(msg, dict) else []:
            if isinstance(call, dict) and call.get("id") == call_id and call_id:
                return (call.get("function") or {}).get("name") or ""
    return ""


def chat_request(request: ChatCompletionRequest) -> ChatRequest:
    """The `/api/chat` request for a chat completion request (tool_choice is handled by the caller)."""
    if not request.messages:
        raise BadRequest("[] is too short - 'messages'")
    messages = [part for m in request.messages for part in _messages(m, request.messages)]
    options = _options(request, strict_stop=False)
    fmt: Any = None
    kind = str(request.response_format.get("type", "")).strip().lower()
    if kind == "json_object":
        fmt = "json"
    elif kind == "json_schema":
        given = request.response_format.get("json_schema")
        schema = (given or {}).get("schema") if isinstance(given, dict) else None
        if not isinstance(schema, dict):
            raise BadRequest("response_format json_schema needs a `json_schema.schema` object")
        fmt = schema
    elif kind not in ("", "text"):
        raise BadRequest(f"invalid response_format type: {request.response_format.get('type')!r}")
    tools = request.tools if request.tools is not None and request.tool_choice != "none" else None
    effort: Any = (request.reasoning or {}).get("effort")
    if effort is None:
        effort = request.reasoning_effort
    think: bool | str | None = None
    if effort is not None and effort != "":
        if not isinstance(effort, str) or effort not in _EFFORTS:
            raise BadRequest(f'invalid reasoning value: "{effort}" (must be "minimal", "low", "medium", "high", "xhigh", "ultra", "max", or "none")')
        think = _EFFORTS[effort]
    top = request.top_logprobs
    if top is not None and not 0 <= top <= MAX_TOP_LOGPROBS:
        raise BadRequest(f"top_logprobs must be between 0 and {MAX_TOP_LOGPROBS}")
    logprobs = request.logprobs  # top_logprobs alone asks for nothing, as in OpenAI
    return ChatRequest(model=request.model, messages=messages, options=options, stream=request.stream, format=fmt,
                       tools=tools, think=think, logprobs=logprobs, top_logprobs=(top or 0) if logprobs else 0)


def completion_request(request: CompletionRequest) -> GenerateRequest:
    """The `/api/generate` request for a legacy completion request."""
    options = _options(request, strict_stop=True)
    options.setdefault("frequency_penalty", 0.0)
    options.setdefault("presence_penalty", 0.0)
    top = request.logprobs
    if top is not None and not 0 <= top <= MAX_COMPLETION_LOGPROBS:  # 0: the sampled tokens' logprobs only
        raise BadRequest(f"logprobs must be between 0 and {MAX_COMPLETION_LOGPROBS}")
    return GenerateRequest(model=request.model, prompt=request.prompt, suffix=request.suffix, options=options,
                           stream=request.stream, logprobs=top is not None, top_logprobs=top or 0)


def chat_logprobs(entries: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """A choice's `logprobs` from Ollama's entries (the same fields; `top_logprobs` always a list)."""
    if not entries:
        return None
    return {"content": [{**e, "top_logprobs": e.get("top_logprobs") or []} for e in entries]}


class CompletionLogprobs:
    """Legacy completions' `logprobs` (`tokens`, `token_logprobs`, `top_logprobs`, `text_offset`), chunk by
    chunk: the offsets count characters of the whole completion, a token cut inside a character included."""

    def __init__(self) -> None:
        self.offset = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def shape(self, entries: list[dict[str, Any]] | None) -> dict[str, Any] | None:
        if not entries:
            return None
        out: dict[str, list[Any]] = {"tokens": [], "token_logprobs": [], "top_logprobs": [], "text_offset": []}
        for entry in entries:
            out["tokens"].append(entry["token"])
            out["token_logprobs"].append(entry["logprob"])
            out["top_logprobs"].append({t["token"]: t["logprob"] for t in entry.get("top_logprobs") or []})
            out["text_offset"].append(self.offset)
            self.offset += len(self._decoder.decode(bytes(entry.get("bytes") or entry["token"].encode())))
        return out


def embedding_input(request: EmbedRequest) -> list[str]:
    fmt = request.encoding_format
    if fmt and fmt.lower() not in ("float", "base64"):
        raise BadRequest(f"Invalid value for 'encoding_format' = {fmt}. Supported values: ['float', 'base64'].")
    value = request.input
    if value == "":
        return [""]
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    raise BadRequest("invalid input")


def embedding_list(model: str, vectors: list[list[float]], prompt_tokens: int, encoding: str | None) -> dict[str, Any]:
    as_base64 = (encoding or "").lower() == "base64"
    data = [
        {"object": "embedding", "index": i,
         "embedding": base64.b64encode(struct.pack(f"<{len(v)}f", *v)).decode() if as_base64 else v}
        for i, v in enumerate(vectors)
    ]
    return {"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens}}


def model_object(name: str, modified: float, namespace: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": int(modified), "owned_by": namespace}


def usage(final: dict[str, Any]) -> dict[str, int]:
    prompt, completion = final.get("prompt_eval_count", 0), final.get("eval_count", 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def openai_tool_calls(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ollama's calls (arguments an object) as OpenAI's (arguments a JSON string)."""
    return [
        {"id": c.get("id", ""), "index": c["function"].get("index", i), "type": "function",
         "function": {"name": c["function"]["name"], "arguments": json.dumps(c["function"]["arguments"])}}
        for i, c in enumerate(calls)
    ]


def now_s() -> int:
    return int(time.time())
