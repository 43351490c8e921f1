"""Pulling a model: Ollama's `PullModel` (server/images.go), and Hugging Face names.

Statuses, in Ollama's order: `pulling manifest`; one or more `pulling <hex12>`
lines per layer and for the config; `verifying sha256 digest`; `writing
manifest`; `removing unused layers` when the old manifest of this name left
blobs behind; `success`. The manifest is written last and only once every blob
it names is stored and verified, so a failed pull never shows up as a model.
"""

from __future__ import annotations

import re
import threading

from ..errors import OllamaError
from ..store.manifests import Manifest
from ..store.names import ModelName
from ..store.progress import Progress, status, storage_error
from ..store.store import ModelStore
from .commit import commit_manifest
from .download import BlobDownload, TransferSettings, download_blob
from .registry import Registry, RegistryError

HF_HOSTS = ("hf.co", "huggingface.co", "www.huggingface.co")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def is_huggingface(name: ModelName) -> bool:
    return name.host.lower() in HF_HOSTS


def pull_model(
    store: ModelStore,
    name: str | ModelName,
    progress: Progress,
    insecure: bool = False,
    cancel: threading.Event | None = None,
    settings: TransferSettings | None = None,
) -> None:
    """Pull `name` into `store`; raises OllamaError with Ollama's message on failure."""
    parsed = ModelName.parse(name) if isinstance(name, str) else name
    target = store.manifests.find(parsed) or parsed  # an existing name keeps its case
    try:
        if is_huggingface(parsed):
            from .huggingface import pull_huggingface

            pull_huggingface(store, target, progress, cancel)
        else:
            _pull_registry(store, target, progress, insecure, cancel, settings)
    except OSError as err:
        raise storage_error(err) from err


def _pull_registry(
    store: ModelStore,
    name: ModelName,
    progress: Progress,
    insecure: bool,
    cancel: threading.Event | None,
    settings: TransferSettings | None,
) -> None:
    old = store.manifests.read(name)
    stale = old.manifest.digests() if old else set()
    registry = Registry(name, insecure)

    progress(status("pulling manifest"))
    try:
        data = registry.get_manifest(name.tag)
    except RegistryError as err:
        raise OllamaError(f"pull model manifest: {err.message}", err.status) from None
    manifest = parse_manifest(data)

    # Held before looking which layers are stored: a delete elsewhere cannot prune one that this pull skips.
    with store.hold(manifest.digests()):
        downloads: dict[str, BlobDownload | None] = {}
        for layer in [*manifest.layers, manifest.config]:
            if layer.digest not in downloads:
                downloads[layer.digest] = download_blob(
                    store.blobs, registry, layer.digest, layer.size, progress, cancel, settings
                )

        progress(status("verifying sha256 digest"))
        for digest, download in downloads.items():
            if download is not None and download.got is not None:
                raise OllamaError(f"digest mismatch, file must be downloaded again: want {digest}, got {download.got}")

        progress(status("writing manifest"))
        commit_manifest(store, name, data, manifest, stale, progress)
    progress(status("success"))


def parse_manifest(data: bytes) -> Manifest:
    """A registry's manifest, with every digest checked (a digest becomes a file name)."""
    try:
        manifest = Manifest.from_bytes(data)
        for layer in [manifest.config, *manifest.layers]:
            if not isinstance(layer.digest, str) or not _DIGEST.fullmatch(layer.digest):
                raise ValueError(f"bad digest {layer.digest!r}")
    except (ValueError, KeyError, TypeError) as err:
        raise OllamaError(f"pull model manifest: invalid manifest: {err}") from None
    return manifest
