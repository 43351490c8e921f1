"""Manifests: `manifests/<host>/<namespace>/<model>/<tag>`, Docker v2 JSON as Ollama writes it."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .names import ModelName

MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_MEDIA_TYPE = "application/vnd.docker.container.image.v1+json"

_IMAGE = "application/vnd.ollama.image."
MEDIA_MODEL = _IMAGE + "model"
MEDIA_ADAPTER = _IMAGE + "adapter"
MEDIA_DRAFT = _IMAGE + "draft"  # a draft model for speculative decoding (Ollama's manifest.MediaTypeImageDraft)
MEDIA_PROJECTOR = _IMAGE + "projector"
MEDIA_TEMPLATE = _IMAGE + "template"
MEDIA_SYSTEM = _IMAGE + "system"
MEDIA_PARAMS = _IMAGE + "params"
MEDIA_MESSAGES = _IMAGE + "messages"
MEDIA_LICENSE = _IMAGE + "license"


@dataclass(frozen=True)
class Layer:
    media_type: str
    digest: str
    size: int
    from_: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.from_:
            out["from"] = self.from_
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Layer:
        return cls(data["mediaType"], data["digest"], int(data["size"]), data.get("from") or None)


@dataclass
class Manifest:
    config: Layer
    layers: list[Layer] = field(default_factory=list)

    def to_bytes(self) -> bytes:
        body = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": self.config.to_json(),
            "layers": [layer.to_json() for layer in self.layers],
        }
        return json.dumps(body, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        body = json.loads(data)
        return cls(Layer.from_json(body["config"]), [Layer.from_json(x) for x in body.get("layers") or []])

    @property
    def size(self) -> int:
        return self.config.size + sum(layer.size for layer in self.layers)

    def digests(self) -> set[str]:
        return {self.config.digest, *(layer.digest for layer in self.layers)}

    def layers_of(self, media_type: str) -> list[Layer]:
        return [layer for layer in self.layers if layer.media_type == media_type]

    def layer_of(self, media_type: str) -> Layer | None:
        found = self.layers_of(media_type)
        return found[-1] if found else None


@dataclass(frozen=True)
class StoredManifest:
    """A manifest as found on disk, with what listings report about it."""

    name: ModelName
    manifest: Manifest
    digest: str  # sha256 hex of the manifest file, as Ollama reports it
    modified: float  # mtime, seconds since the epoch


class ManifestStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, name: ModelName) -> Path:
        assert name.is_valid(), name  # valid names cannot leave the folder
        return self.root.joinpath(*name.parts)

    def read(self, name: ModelName) -> StoredManifest | None:
        path = self._path(name)
        try:
            data = path.read_bytes()
            modified = path.stat().st_mtime
            manifest = Manifest.from_bytes(data)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        return StoredManifest(name, manifest, hashlib.sha256(data).hexdigest(), modified)

    def write(self, name: ModelName, manifest: Manifest) -> None:
        """Atomic: a reader sees the old manifest or the new one, never a torn file."""
        path = self._path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
        with open(temp, "wb") as f:
            f.write(manifest.to_bytes())
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)

    def remove(self, name: ModelName) -> None:
        path = self._path(name)
        path.unlink(missing_ok=True)
        # Prune now-empty folders up to (not including) the root, as Ollama does.
        for parent in path.parents:
            if parent == self.root or self.root not in parent.parents:
                break
            try:
                parent.rmdir()
            except OSError:
                break

    def all(self) -> Iterator[StoredManifest]:
        """Every readable manifest; broken or foreign files are skipped, never fatal."""
        for path in self.root.glob("*/*/*/*"):
            if not path.is_file() or path.name.startswith("."):
                continue
            rel = path.relative_to(self.root).parts
            name = ModelName(*rel)
            if not name.is_valid():
                continue
            try:
                stored = self.read(name)
            except (ValueError, KeyError, TypeError, OSError):
                continue
            if stored is not None:
                yield stored

    def find(self, name: ModelName) -> ModelName | None:
        """The stored name equal to `name` ignoring case (exact match preferred)."""
        if self._path(name).is_file():
            return name
        for stored in self.all():
            if stored.name.same_as(name):
                return stored.name
        return None
