"""From a request's messages to the tokens the model reads.

A Modelfile TEMPLATE (Go syntax) wins when the model has one; otherwise the
GGUF's own Jinja chat template renders the conversation (Ollama's "native
mode"). A model with neither gets Ollama's default, `{{ .Prompt }}`: the last
user message alone, as `/api/show` reports. Such a GGUF is in practice a base
(pretrained) model, since conversion copies the chat template of every
instruction-tuned one; wrapped in a chat format it never learned, it makes up the
next turn (Gemma 3 270M's base GGUF in llama.cpp's gemma format: "Hello Ada! ...
mendatanguser\n大家好!").
When the conversation is longer than a slot's context, the oldest messages that
are neither system prompts nor the last message are dropped until it fits.

Images are tagged as Ollama tags them: each becomes `[img-N]` (N counts the
conversation's images) at an `[img]` in its message's text, else before the text.
A model with a projector reads each tag the rendered prompt kept as its image
(runner/vision.py); `_debug_render_only` shows the tags.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from ..errors import BadRequest
from ..runners.protocol import Prompt, image_bytes, to_json
from ..templates.jinja import render_jinja
from .llama import LlamaModel
from .vision import MediaPrompt, Vision

IMAGE_TAG = re.compile(r"\[img-(\d+)\]")
Read = TypeVar("Read")


def render(model: LlamaModel, spec: dict[str, Any]) -> str:
    """The prompt text for a chat spec: `messages`, optional `tools`, `template`, `suffix`."""
    messages = tagged(spec.get("messages") or [])
    template = spec.get("template")
    if template:
        from ..templates.go import render_chat

        return render_chat(template, messages, tools=spec.get("tools"), suffix=spec.get("suffix"), think=spec.get("think"))
    jinja = model.chat_template()
    if jinja:
        return render_jinja(
            jinja,
            messages,
            tools=spec.get("tools"),
            bos_token=model.token_text(model.bos),
            eos_token=model.token_text(model.eos),
            **jinja_think(spec.get("think")),
        )
    # Ollama's default template `{{ .Prompt }}`: the last user message, verbatim.
    users = [m.get("content", "") for m in messages if m.get("role") == "user"]
    return users[-1] if users else ""


def tagged(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages with an `[img-N]` tag for each of their images (Ollama's `chatPrompt`)."""
    out, count = [], 0
    for message in messages:
        images = message.get("images") or []
        if not images:
            out.append(message)
            continue
        prefix, content = "", message.get("content") or ""
        for _ in images:
            tag = f"[img-{count}]"
            count += 1
            if "[img]" in content:
                content = content.replace("[img]", tag, 1)
            else:
                prefix += tag
        out.append({**message, "content": prefix + content})
    return out


def images_of(prompt: Prompt) -> list[str]:
    """The prompt's images in tag order: a raw prompt's own, else every message's."""
    if prompt.raw is not None:
        return list(prompt.images)
    return [image for m in prompt.messages for image in (m.get("images") or [])]


def jinja_think(think: bool | str | None) -> dict[str, Any]:
    """A request's `think` as Jinja chat templates read it: `enable_thinking` (Qwen 3 and others) and, for a
    level ("high", "medium", "low", "max"), `reasoning_effort` (gpt-oss), as llama.cpp's server passes them."""
    if think is None:
        return {}
    if isinstance(think, str):
        return {"enable_thinking": True, "reasoning_effort": think}
    return {"enable_thinking": think}


def tokenize(model: LlamaModel, text: str) -> list[int]:
    """Tokens with special tokens parsed; a template that writes BOS itself gets no second one."""
    tokens = model.tokenize(text, special=True, add_bos=model.adds_bos)
    if len(tokens) >= 2 and tokens[0] == tokens[1] == model.bos:
        tokens = tokens[1:]
    return tokens


def prompt_text(model: LlamaModel, prompt: Prompt) -> str:
    return prompt.raw if prompt.raw is not None else render(model, to_json(prompt))


def _fitted(prompt: Prompt, n_ctx: int, truncate: bool, read: Callable[[Prompt], Read], length: Callable[[Read], int],
            drop: Callable[[Read], None] = lambda _: None) -> Read:
    """`read` of the prompt; while that is longer than `n_ctx`, of the prompt without its oldest message that is
    neither a system prompt nor the last (a raw prompt is read as it is). `drop`: what a longer reading leaves."""
    messages = list(prompt.messages)
    while True:
        reading = read(replace(prompt, messages=messages))
        droppable = [i for i, m in enumerate(messages[:-1]) if m.get("role") != "system"]
        if length(reading) <= n_ctx or not truncate or prompt.raw is not None or not droppable:
            return reading  # too long still: the engine keeps num_keep and the newest tokens
        drop(reading)
        del messages[droppable[0]]


def prompt_tokens(model: LlamaModel, prompt: Prompt, n_ctx: int, truncate: bool = True) -> tuple[str, list[int]]:
    """The text the model reads and its tokens: `raw` as is, or the conversation rendered (see `render`)."""

    def read(shown: Prompt) -> tuple[str, list[int]]:
        text = prompt_text(model, shown)
        return text, tokenize(model, text)

    return _fitted(prompt, n_ctx, truncate, read, lambda r: len(r[1]))


def media_prompt(model: LlamaModel, vision: Vision, prompt: Prompt, n_ctx: int, truncate: bool = True,
                 before: str = "") -> tuple[str, MediaPrompt]:
    """As `prompt_tokens`, for a prompt with images: each `[img-N]` tag left in the text reads image N.

    `before`: text read first (an earlier reply's context, detokenized, as Ollama does with images)."""

    def read(shown: Prompt) -> tuple[str, MediaPrompt]:
        text = before + prompt_text(model, shown)
        images = [image_bytes(image, f"images[{i}]") for i, image in enumerate(images_of(shown))]
        return text, _with_images(model, vision, text, images)

    return _fitted(prompt, n_ctx, truncate, read, lambda r: len(r[1].tokens), lambda r: r[1].close())


def _with_images(model: LlamaModel, vision: Vision, text: str, images: list[bytes]) -> MediaPrompt:
    used: list[bytes] = []
    bos = model.adds_bos and not text.startswith(model.token_text(model.bos))  # a template that writes BOS gets no second

    def marker(match: re.Match[str]) -> str:
        index = int(match.group(1))
        if index >= len(images):
            raise BadRequest(f"invalid image index: {index}")
        used.append(images[index])
        return vision.marker

    return vision.tokenize(IMAGE_TAG.sub(marker, text), used, add_special=bos)
