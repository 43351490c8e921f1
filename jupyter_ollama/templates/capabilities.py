"""What a model can do, derived from its GGUF and its template as Ollama derives it.

Ollama's `Model.Capabilities` (server/images.go):

- GGUF: `<arch>.pooling_type` means "embedding", otherwise "completion";
  `<arch>.vision.block_count` or a projector layer means "vision";
- the template that renders prompts: a Modelfile TEMPLATE (Go) gives "tools" when
  it mentions `.Tools`, "insert" for `.Suffix`, "thinking" for tags around
  `.Thinking`; without one, the GGUF's Jinja template gives "tools" when it
  mentions `tools` or `tool_call`, and "thinking" when it writes `<think>` and `</think>`.

`require` refuses a request with Ollama's 400 `<full name> does not support <x>`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from ..errors import BadRequest
from ..gotemplate import TemplateError
from .go import capabilities as go_template_capabilities


class ModelFacts(Protocol):
    """What is read of a stored model (`store.model.LocalModel`); templates sit below the store."""

    @property
    def name(self) -> object: ...
    @property
    def manifest_digest(self) -> str: ...
    @property
    def template(self) -> str | None: ...
    @property
    def projector_paths(self) -> list[Path]: ...


class GGUFFacts(Protocol):
    """What is read of a model's GGUF metadata (`store.gguf.GGUFInfo`)."""

    @property
    def chat_template(self) -> str | None: ...
    def get(self, key: str, default: Any = None) -> Any: ...

COMPLETION = "completion"
TOOLS = "tools"
INSERT = "insert"
VISION = "vision"
EMBEDDING = "embedding"
THINKING = "thinking"
AUDIO = "audio"

_ORDER = (COMPLETION, EMBEDDING, TOOLS, INSERT, VISION, AUDIO, THINKING)


def jinja_capabilities(template: str | None) -> list[str]:
    """Ollama's `chatTemplateCapabilities`: plain substring checks on the Jinja text."""
    if not template:
        return []
    found = []
    if "tools" in template or "tool_call" in template:
        found.append(TOOLS)
    split = "content.split('</think>')" in template or 'content.split("</think>")' in template
    if ("<think>" in template and "</think>" in template) or (
        split and "reasoning_content" not in template and "<SPECIAL_12>" not in template
    ):
        found.append(THINKING)
    return found


def go_capabilities(template: str | None) -> list[str]:
    """What a Go TEMPLATE allows; none when it does not parse (as Ollama, which logs and moves on)."""
    if not template:
        return []
    try:
        return go_template_capabilities(template)
    except TemplateError:
        return []


def gguf_capabilities(info: GGUFFacts | None) -> list[str]:
    if info is None:
        return []
    found = [EMBEDDING if info.get("pooling_type") is not None else COMPLETION]
    if info.get("vision.block_count") is not None:
        found.append(VISION)
    if info.get("audio.block_count") is not None:
        found.append(AUDIO)
    return found


def model_capabilities(model: ModelFacts, info: GGUFFacts | None) -> list[str]:
    """Everything `model` can do; `info` is its GGUF metadata (None when it has no GGUF)."""
    found = set(gguf_capabilities(info))
    if model.projector_paths:
        found.add(VISION)
    if model.template is not None:
        found.update(go_capabilities(model.template))
    else:
        found.update(jinja_capabilities(info.chat_template if info else None))
    return [c for c in _ORDER if c in found]


def require(model: ModelFacts, capabilities: tuple[str, ...] | list[str], *wanted: str) -> None:
    """400 with Ollama's wording when the model lacks any of `wanted`."""
    missing = [c for c in wanted if c not in capabilities]
    if missing:
        raise BadRequest(f"{model.name} does not support {', '.join(missing)}")
