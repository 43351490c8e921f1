"""Checks and output shaping shared by /api/chat, /api/generate and the OpenAI and Anthropic routes.

- what preparing a request comes to (`Prepared`, `LoadOnly`, `RenderOnly`), which each route answers in its shape;
- `ModelPolicy`: what differs between a local model and a remote one (whose engines render, think and call
  tools), chosen once per request;
- request checks: `format`, `think`, messages (roles, content, tool calls, images);
- `think_tags`: the tags of the thinking a request's output starts with (a `format` waits for its end);
- `output_parser`: how the model's raw output is split into thinking, content and
  tool calls for this request (tags from the template, a thinking prefill when the
  prompt ends with the opening tag, the bare-JSON tag when a call is forced);
- `merged`: `stream: false`, every chunk folded into one reply.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

from ..errors import BadRequest
from ..runners.protocol import CompletionRequest, Prompt, image_bytes
from ..store.create import MESSAGE_ROLES
from ..store.model import LocalModel
from ..templates.capabilities import EMBEDDING, THINKING, TOOLS, VISION, go_capabilities, require
from ..templates.profile import TemplateProfile
from ..tools import OutputParser, ThinkingParser, ToolCallParser, tool_names
from .wire import GenerationRequest

THINK_LEVELS = ("high", "medium", "low", "max")
# A Modelfile's MESSAGE roles, and OpenAI's `developer`, which Ollama passes to the template as it is.
CHAT_ROLES = (*MESSAGE_ROLES, "developer")


MAX_TOP_LOGPROBS = 20


# -- what a prepared request comes to ---------------------------------------------------


@dataclass
class ModelCall:
    """The model a request runs, as it named it, with the request's options and keep_alive."""

    name: str  # the model as the request named it (echoed in every reply)
    model: LocalModel
    options: dict[str, Any]
    keep_alive: Any  # seconds, None (forever) or "default"


@dataclass
class Prepared(ModelCall):
    """A checked chat or generate request, ready to run."""

    job: CompletionRequest  # what the runner gets
    output: Callable[[str], OutputParser]  # a fresh parser for the model's output, given the prompt's tail
    prompt_tokens: int = 0  # once it runs: the prompt's tokens, as the runner counted them (its Started event)


@dataclass
class LoadOnly(ModelCall):
    """An empty prompt or conversation: load the model (keep_alive 0: unload it); nothing is generated."""


@dataclass
class RenderOnly(ModelCall):
    """`_debug_render_only`: the prompt the model would read, rendered without generating."""

    prompt: Prompt


Preparation = Prepared | LoadOnly | RenderOnly


# -- local and remote models -------------------------------------------------------------


class ModelPolicy(ABC):
    """What this server checks and reads for a request to one model, chosen once per request
    (`InferenceHandler.policy`): a model run here is read through its template (capabilities, think and tool
    tags); a remote model's engines render, think and call tools, so they decide what it can do."""

    @abstractmethod
    def check_images(self, images: Any, where: str = "images") -> None:
        """400 for images the model cannot read, or that are not base64."""

    @abstractmethod
    def think(self, think: Any) -> bool | str | None:
        """The request's `think`, checked, as the prompt gets it."""

    @abstractmethod
    def check_route(self, name: str, route: str) -> None:
        """400 when the model cannot answer `route` ("chat", "generate"): an embedding model."""

    @abstractmethod
    def check_tools(self) -> None:
        """400 when the model cannot call tools."""

    @abstractmethod
    def check_insert(self, template: str | None) -> None:
        """400 when `template` (the request's or the model's) cannot fill in a `suffix`."""

    @abstractmethod
    def with_template(self, template: str | None) -> ModelPolicy:
        """This policy for a request that brings its own TEMPLATE."""

    @abstractmethod
    def think_tags(self, prompt: Prompt) -> tuple[str, str] | None:
        """The tags of the thinking the output starts with, for a `format` that waits for its end."""

    @abstractmethod
    def output(self, prompt: Prompt, forced: bool = False) -> Callable[[str], OutputParser]:
        """A fresh parser for the model's output, given the rendered prompt's tail; `forced`: a call is forced."""


@dataclass(frozen=True)
class LocalPolicy(ModelPolicy):
    """A model run here: its template's profile says what it can do and how its output reads."""

    model: LocalModel
    profile: TemplateProfile

    def check_images(self, images: Any, where: str = "images") -> None:
        check_images(self.model, self.profile.capabilities, images, where)

    def think(self, think: Any) -> bool | str | None:
        return think_value(self.model, self.profile.capabilities, think)

    def check_route(self, name: str, route: str) -> None:
        if EMBEDDING in self.profile.capabilities:
            raise BadRequest(f'"{name}" does not support {route}')

    def check_tools(self) -> None:
        require(self.model, self.profile.capabilities, TOOLS)

    def check_insert(self, template: str | None) -> None:
        if "insert" not in (go_capabilities(template) if template else []):
            raise BadRequest(f'"{self.model.name.display()}" does not support insert')

    def with_template(self, template: str | None) -> ModelPolicy:
        return replace(self, profile=self.profile.with_go_template(template))

    def think_tags(self, prompt: Prompt) -> tuple[str, str] | None:
        return think_tags(self.profile, prompt)

    def output(self, prompt: Prompt, forced: bool = False) -> Callable[[str], OutputParser]:
        profile = self.profile
        return lambda tail: output_parser(profile, prompt, tail, forced=forced)


@dataclass(frozen=True)
class RemotePolicy(ModelPolicy):
    """A remote model: the request's own values are checked; its engines decide the rest, and split its output."""

    def check_images(self, images: Any, where: str = "images") -> None:
        return None

    def think(self, think: Any) -> bool | str | None:
        return check_think(think)

    def check_route(self, name: str, route: str) -> None:
        return None

    def check_tools(self) -> None:
        return None

    def check_insert(self, template: str | None) -> None:
        return None

    def with_template(self, template: str | None) -> ModelPolicy:
        return self

    def think_tags(self, prompt: Prompt) -> tuple[str, str] | None:
        return None

    def output(self, prompt: Prompt, forced: bool = False) -> Callable[[str], OutputParser]:
        return lambda tail: OutputParser()


# -- request checks ----------------------------------------------------------------------


def generation_flags(request: GenerationRequest) -> dict[str, Any]:
    """The CompletionRequest fields a chat or generate request sets besides its prompt: truncate, shift, logprobs."""
    top = request.top_logprobs
    if not 0 <= top <= MAX_TOP_LOGPROBS:
        raise BadRequest(f"top_logprobs must be between 0 and {MAX_TOP_LOGPROBS}")
    return {
        "truncate": request.truncate,
        "shift": request.shift is not False,
        "cut_prompt": request.shift is True,  # asked for: a prompt longer than the context is cut, not refused
        "logprobs": request.logprobs or top > 0,
        "top_logprobs": top,
    }


def check_format(fmt: Any) -> Any:
    if fmt in (None, "") or fmt == "json" or isinstance(fmt, dict):
        return fmt or None
    raise BadRequest(f'invalid format: {fmt!r}; expected "json" or a valid JSON Schema object')


def check_images(model: LocalModel, capabilities: tuple[str, ...], images: Any, where: str = "images") -> None:
    """Images go to a model with a projector only, each a base64 string (Ollama's JSON `[]byte`)."""
    if not images:
        return
    if VISION not in capabilities:
        raise BadRequest(f'"{model.name.display()}" does not support images')
    if not isinstance(images, list):
        raise BadRequest(f"json: cannot unmarshal {where} into Go value of type []api.ImageData")
    for i, image in enumerate(images):
        image_bytes(image, f"{where}[{i}]")


def check_think(think: Any) -> bool | str | None:
    if think is not None and not isinstance(think, bool) and think not in THINK_LEVELS:
        raise BadRequest(f'invalid think value: {think!r} (must be "high", "medium", "low", "max", true, or false)')
    return think


def think_value(model: LocalModel, capabilities: tuple[str, ...], think: Any) -> bool | str | None:
    """Ollama's rule: a thinking model thinks unless told not to; others refuse `think`."""
    check_think(think)
    if THINKING in capabilities:
        return True if think is None else think
    if think:
        raise BadRequest(f'"{model.name.display()}" does not support thinking')
    return think


def _check_tool_calls(calls: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(calls, list):
        raise BadRequest(f"{where}.tool_calls must be an array")
    out = []
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise BadRequest(f"{where}.tool_calls: each call needs a function with a name")
        arguments = function.get("arguments")
        if arguments is not None and not isinstance(arguments, dict):
            raise BadRequest(f"{where}.tool_calls: function arguments must be an object")
        out.append({**call, "function": {**function, "arguments": arguments or {}}})
    return out


def check_messages(messages: list[Any]) -> list[dict[str, Any]]:
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise BadRequest("json: cannot unmarshal into Go struct field ChatRequest.messages of type api.Message")
        role = str(message.get("role", "")).lower()
        if role not in CHAT_ROLES:
            raise BadRequest(f'invalid role "{message.get("role")}": must be one of {", ".join(CHAT_ROLES)}')
        content = message.get("content") or ""
        if not isinstance(content, str):
            raise BadRequest("json: cannot unmarshal into Go struct field Message.messages.content of type string")
        checked = {**message, "role": role, "content": content}
        if message.get("tool_calls") is not None:
            checked["tool_calls"] = _check_tool_calls(message["tool_calls"], f"messages[{i}]")
        out.append(checked)
    return out


def think_tags(profile: TemplateProfile, prompt: Prompt) -> tuple[str, str] | None:
    """The (opening, closing) tags of the thinking this request's output starts with; None when it does not think.

    With a `format`, the runner holds the grammar back until the closing tag (CompletionRequest.think_tags)."""
    opening, closing = profile.think_tags
    if prompt.think and THINKING in profile.capabilities and opening and closing:
        return opening, closing
    return None


def output_parser(profile: TemplateProfile, prompt: Prompt, prompt_tail: str, forced: bool = False) -> OutputParser:
    """How this request's output is read: `profile` is the template's that rendered `prompt`, and
    the runner, which rendered it, answered with the rendered text's tail (its `Started` event)."""
    thinking = None
    tags = think_tags(profile, prompt)
    if tags:
        # A template that opens the think tag itself: the output starts inside it.
        thinking = ThinkingParser(*tags, prefilled=prompt_tail.endswith(tags[0]))
    tools = None
    if prompt.tools:
        tools = ToolCallParser(tool_names(prompt.tools), "{" if forced else profile.tool_tag)
    return OutputParser(thinking, tools)


async def merged(chunks: AsyncIterator[dict[str, Any]], field: str) -> AsyncIterator[dict[str, Any]]:
    """`stream: false`: one object whose text, thinking and tool calls are every chunk's joined."""
    key = "content" if field == "message" else "response"
    text: list[str] = []
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    logprobs: list[dict[str, Any]] = []
    final: dict[str, Any] = {}
    async for chunk in chunks:
        part = chunk["message"] if field == "message" else chunk
        text.append(part.get(key, ""))
        thinking.append(part.get("thinking", ""))
        calls += part.get("tool_calls") or []
        logprobs += chunk.get("logprobs") or []
        if chunk["done"]:
            final = chunk
    out: dict[str, Any] = {key: "".join(text)}
    if any(thinking):
        out["thinking"] = "".join(thinking)
    if field == "message":
        out = {"role": "assistant", **out, **({"tool_calls": calls} if calls else {})}
        final["message"] = out
    else:
        final.update(out)
    if logprobs:
        final["logprobs"] = logprobs
    yield final
