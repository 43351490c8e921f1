"""A stored model: its manifest plus the content of its small layers, read on demand."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

from .blobs import BlobStore
from .manifests import (
    MEDIA_ADAPTER,
    MEDIA_DRAFT,
    MEDIA_LICENSE,
    MEDIA_MESSAGES,
    MEDIA_MODEL,
    MEDIA_PARAMS,
    MEDIA_PROJECTOR,
    MEDIA_SYSTEM,
    MEDIA_TEMPLATE,
    Layer,
    StoredManifest,
)
from .names import ModelName


@dataclass
class LocalModel:
    stored: StoredManifest
    blobs: BlobStore

    @property
    def name(self) -> ModelName:
        return self.stored.name

    @property
    def manifest_digest(self) -> str:
        return self.stored.digest

    @property
    def size(self) -> int:
        return self.stored.manifest.size

    @property
    def modified_at(self) -> str:
        return rfc3339(self.stored.modified)

    def _text(self, media_type: str) -> str | None:
        layer = self.stored.manifest.layer_of(media_type)
        return self.blobs.read_bytes(layer.digest).decode("utf-8") if layer else None

    @cached_property
    def config(self) -> dict[str, Any]:
        data = json.loads(self.blobs.read_bytes(self.stored.manifest.config.digest) or b"{}")
        return data if isinstance(data, dict) else {}

    @property
    def remote_model(self) -> str:
        """The model's name on its engines, for a remote model (Ollama's config `remote_model`); else ""."""
        return str(self.config.get("remote_model") or "") if self.config.get("remote_host") else ""

    @property
    def is_remote(self) -> bool:
        return bool(self.remote_model)

    @property
    def declared(self) -> bool:
        """A remote model an admin declared for every user (`store.declared`), under this name: not one a
        user created, nor a user's copy of a declared one."""
        return self.config.get("declared") == str(self.name)

    @cached_property
    def template(self) -> str | None:
        """The Go TEMPLATE layer, if the model has one (else the GGUF's Jinja template is used)."""
        return self._text(MEDIA_TEMPLATE)

    @cached_property
    def system(self) -> str | None:
        return self._text(MEDIA_SYSTEM)

    @cached_property
    def parameters(self) -> dict[str, Any]:
        text = self._text(MEDIA_PARAMS)
        return json.loads(text) if text else {}

    @cached_property
    def messages(self) -> list[dict[str, Any]]:
        text = self._text(MEDIA_MESSAGES)
        return json.loads(text) if text else []

    @cached_property
    def licenses(self) -> list[str]:
        return [
            self.blobs.read_bytes(layer.digest).decode("utf-8")
            for layer in self.stored.manifest.layers_of(MEDIA_LICENSE)
        ]

    @property
    def model_layer(self) -> Layer | None:
        return self.stored.manifest.layer_of(MEDIA_MODEL)

    @property
    def model_path(self) -> Path | None:
        layer = self.model_layer
        return self.blobs.path(layer.digest) if layer else None

    @property
    def adapter_paths(self) -> list[Path]:
        return [self.blobs.path(x.digest) for x in self.stored.manifest.layers_of(MEDIA_ADAPTER)]

    @property
    def draft_layer(self) -> Layer | None:
        """The draft model (Modelfile DRAFT) that guesses tokens for greedy requests, if the model has one."""
        return self.stored.manifest.layer_of(MEDIA_DRAFT)

    @property
    def draft_path(self) -> Path | None:
        layer = self.draft_layer
        return self.blobs.path(layer.digest) if layer else None

    @property
    def projector_layer(self) -> Layer | None:
        """The (first) multimodal projector, through which the model reads images, if it has one."""
        return self.stored.manifest.layer_of(MEDIA_PROJECTOR)

    @property
    def projector_paths(self) -> list[Path]:
        return [self.blobs.path(x.digest) for x in self.stored.manifest.layers_of(MEDIA_PROJECTOR)]

    def details(self) -> dict[str, Any]:
        """Ollama's `details` object, from the config blob written at create."""
        layer = self.model_layer
        return {
            "parent_model": (layer.from_ if layer and layer.from_ else ""),
            "format": self.config.get("model_format", ""),
            "family": self.config.get("model_family", ""),
            "families": self.config.get("model_families") or None,
            "parameter_size": self.config.get("model_type", ""),
            "quantization_level": self.config.get("file_type", ""),
        }


def rfc3339(timestamp: float) -> str:
    """Go's RFC3339Nano-like rendering in UTC, e.g. `2025-10-26T17:15:24.097767Z`."""
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".") + "Z"
