"""Model names as Ollama parses them: `[scheme://][host/][namespace/]model[:tag]`.

Validation is Ollama's (types/model/name.go): every part starts with a letter,
digit or `_`; then `-`, `_` and alphanumerics, plus `.` outside the namespace and
`:` in the host only. That alphabet is also what keeps a name from reaching
outside the store: no part can be `..`, hold a `/`, or be empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from ..errors import BadRequest

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"
DEFAULT_SCHEME = "https"

INVALID_MODEL_NAME = "invalid model name"

# Ollama marks a part that was promised by a separator but left empty ("a/:b"),
# so that the name fails validation instead of silently taking a default.
_MISSING = "!MISSING!"

_PART = {
    "host": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,349}"),
    "namespace": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,79}"),
    "model": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}"),
    "tag": re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}"),
}


@dataclass(frozen=True)
class ModelName:
    host: str
    namespace: str
    model: str
    tag: str
    scheme: str = DEFAULT_SCHEME

    @classmethod
    def parse(cls, text: str) -> ModelName:
        """Parse and fill in Ollama's defaults; raise 400 `invalid model name` if invalid."""
        name = cls.parse_lenient(text)
        if not name.is_valid():
            raise BadRequest(INVALID_MODEL_NAME)
        return name

    @classmethod
    def parse_lenient(cls, text: str) -> ModelName:
        """Parse with defaults but without validating (check `is_valid()`)."""
        host = namespace = tag = scheme = ""
        rest = text
        if rest.rfind(":") > rest.rfind("/"):
            rest, tag = _cut_last(rest, ":")
        if "/" not in rest:
            model = rest
        else:
            rest, model = _cut_last(rest, "/")
            if "/" not in rest:
                namespace = rest
            else:
                rest, namespace = _cut_last(rest, "/")
                scheme, sep, host = rest.partition("://")
                if not sep:
                    host, scheme = scheme, ""
        return cls(
            host=host or DEFAULT_HOST,
            namespace=namespace or DEFAULT_NAMESPACE,
            model=model,
            tag=tag or DEFAULT_TAG,
            scheme=scheme or DEFAULT_SCHEME,
        )

    def is_valid(self) -> bool:
        return all(
            _PART[kind].fullmatch(value) is not None
            for kind, value in (
                ("host", self.host),
                ("namespace", self.namespace),
                ("model", self.model),
                ("tag", self.tag),
            )
        )

    @property
    def parts(self) -> tuple[str, str, str, str]:
        return (self.host, self.namespace, self.model, self.tag)

    def relpath(self) -> PurePosixPath:
        """`<host>/<namespace>/<model>/<tag>`, the manifest's place under `manifests/`."""
        return PurePosixPath(*self.parts)

    def display(self) -> str:
        """Ollama's DisplayShortest: drop the default host and namespace, keep `:tag`."""
        if self.host.lower() != DEFAULT_HOST:
            prefix = f"{self.host}/{self.namespace}/"
        elif self.namespace.lower() != DEFAULT_NAMESPACE:
            prefix = f"{self.namespace}/"
        else:
            prefix = ""
        return f"{prefix}{self.model}:{self.tag}"

    def same_as(self, other: ModelName) -> bool:
        """Names compare case-insensitively, as in Ollama."""
        return tuple(p.lower() for p in self.parts) == tuple(p.lower() for p in other.parts)

    def __str__(self) -> str:
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"


def _cut_last(text: str, sep: str) -> tuple[str, str]:
    before, _, after = text.rpartition(sep)
    return before or _MISSING, after or _MISSING
