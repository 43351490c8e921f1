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
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..templates.jinja import render_jinja
from .llama import LlamaModel
from .protocol import Prompt, to_json


def render(model: LlamaModel, spec: dict[str, Any]) -> str:
    """The prompt text for a chat spec: `messages`, optional `tools`, `template`, `suffix`."""
    messages = spec.get("messages") or []
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


def prompt_tokens(model: LlamaModel, prompt: Prompt, n_ctx: int, truncate: bool = True) -> tuple[str, list[int]]:
    """The text the model reads and its tokens: `raw` as is, or the conversation rendered (see `render`)."""
    if prompt.raw is not None:
        return prompt.raw, tokenize(model, prompt.raw)
    messages = list(prompt.messages)
    while True:
        text = prompt_text(model, replace(prompt, messages=messages))
        tokens = tokenize(model, text)
        if len(tokens) <= n_ctx or not truncate:
            return text, tokens
        droppable = [i for i, m in enumerate(messages[:-1]) if m.get("role") != "system"]
        if not droppable:
            return text, tokens  # the engine keeps num_keep and the newest tokens
        del messages[droppable[0]]
