"""A model's template profile: what its template means for requests, worked out once per model version.

The template that renders a model's prompts is its Modelfile TEMPLATE (Go syntax) when
it has one, else the GGUF's own Jinja chat template. From it follow the capabilities
(with the GGUF's), the tags around thinking and the tag that opens a tool call. Parsing
a template is not free, so a profile is kept per manifest digest: a new version of a
model (a new digest) gets a new profile.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from ..gotemplate import TemplateError
from .capabilities import GGUFFacts, ModelFacts, model_capabilities
from .go import think_tags as go_think_tags
from .tags import tool_tag

JINJA_THINK_TAGS = ("<think>", "</think>")  # what Jinja templates that think write (Qwen 3, DeepSeek R1, ...)


@dataclass(frozen=True)
class TemplateProfile:
    capabilities: tuple[str, ...]
    go_template: str | None  # the Modelfile TEMPLATE; it wins over the GGUF's
    jinja_template: str | None  # the GGUF's chat template, used when there is no Go one
    think_tags: tuple[str, str]  # opening and closing; ("", "") when the template has none
    tool_tag: str  # what opens a tool call in the output; "{" for bare JSON

    def with_go_template(self, template: str | None) -> TemplateProfile:
        """This model's profile for one request that brings its own TEMPLATE (/api/generate `template`)."""
        if not template or template == self.go_template:
            return self
        return TemplateProfile(self.capabilities, template, None, _go_think_tags(template), tool_tag(template, None))


def _go_think_tags(template: str) -> tuple[str, str]:
    try:
        return go_think_tags(template)
    except TemplateError:  # an unparseable template thinks in no tags (and fails when rendered)
        return "", ""


def build_profile(model: ModelFacts, info: GGUFFacts | None) -> TemplateProfile:
    jinja = None if model.template is not None else (info.chat_template if info else None)
    tags = _go_think_tags(model.template) if model.template else JINJA_THINK_TAGS
    return TemplateProfile(tuple(model_capabilities(model, info)), model.template, jinja, tags,
                           tool_tag(model.template, jinja))


class ProfileCache:
    """Profiles by manifest digest, the most recently used kept (a server sees a few models)."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._profiles: OrderedDict[str, TemplateProfile] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, model: ModelFacts, info: GGUFFacts | None) -> TemplateProfile:
        key = model.manifest_digest
        with self._lock:
            if key in self._profiles:
                self._profiles.move_to_end(key)
                return self._profiles[key]
        profile = build_profile(model, info)
        with self._lock:
            self._profiles[key] = profile
            while len(self._profiles) > self.size:
                self._profiles.popitem(last=False)
        return profile
