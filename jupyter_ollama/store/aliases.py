"""Model aliases: names that clients insist on, answered by local models.

Claude Code asks for `claude-sonnet-4-5` (and for `claude-haiku-*` in the background),
other agents for `gpt-*`: an admin maps such names to models of this server with
`OLLAMA_MODEL_ALIASES` (`claude-*=qwen3-coder,gpt-4o=llama3.2`, or a JSON object) or
`c.JupyterOllama.model_aliases`. Patterns are shell-style (`*`, `?`), matched
without case, the first match wins; a name the store has is never an alias.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass

from .. import envconfig


@dataclass(frozen=True)
class ModelAliases:
    rules: tuple[tuple[str, str], ...] = ()  # (pattern, model) in the order given

    @staticmethod
    def parse(text: str) -> ModelAliases:
        """`pattern=model` pairs separated by commas, or a JSON object; a malformed one is a ValueError."""
        text = text.strip()
        if not text:
            return ModelAliases()
        if text.startswith("{"):
            try:
                mapping = json.loads(text)
            except ValueError as err:
                raise ValueError(f"OLLAMA_MODEL_ALIASES is not valid JSON: {err}") from None
            if not isinstance(mapping, dict) or not all(isinstance(v, str) and v for v in mapping.values()):
                raise ValueError("OLLAMA_MODEL_ALIASES must map names to model names")
            return ModelAliases.of(mapping)
        rules = []
        for pair in filter(None, (p.strip() for p in text.split(","))):
            pattern, sep, model = (s.strip() for s in pair.partition("="))
            if not (sep and pattern and model):
                raise ValueError(f"OLLAMA_MODEL_ALIASES: {pair!r} is not pattern=model")
            rules.append((pattern, model))
        return ModelAliases(tuple(rules))

    @staticmethod
    def of(mapping: dict[str, str]) -> ModelAliases:
        return ModelAliases(tuple((str(k), str(v)) for k, v in mapping.items()))

    @staticmethod
    def from_env() -> ModelAliases:
        return ModelAliases.parse(envconfig.model_aliases())

    def target(self, name: str) -> str | None:
        """The model `name` stands for, or None."""
        lowered = name.lower()
        return next((model for pattern, model in self.rules if fnmatch.fnmatchcase(lowered, pattern.lower())), None)
