"""The last step of a pull: the manifest written (exactly as received), then what it no longer uses removed."""

from __future__ import annotations

import os
import secrets

from ..envconfig import no_prune
from ..errors import OllamaError
from ..store.manifests import Manifest
from ..store.names import ModelName
from ..store.progress import Progress, status
from ..store.store import ModelStore


def commit_manifest(
    store: ModelStore, name: ModelName, data: bytes, manifest: Manifest, stale: set[str], progress: Progress
) -> None:
    """Write the manifest bytes as received, then prune what the old manifest alone used."""
    with store.lock:  # no prune, here or in another process, between the check and the write
        missing = store.missing(manifest)
        if missing:
            raise OllamaError(f"blob {missing[0]} is missing after the download; pull again")
        write_manifest_bytes(store, name, data)
    stale = stale - manifest.digests()
    if stale and not no_prune():
        progress(status("removing unused layers"))
        store.remove_unused(stale)


def write_manifest_bytes(store: ModelStore, name: ModelName, data: bytes) -> None:
    """Atomic, like ManifestStore.write, but keeping the registry's exact bytes (and so its digest)."""
    assert name.is_valid(), name
    path = store.manifests.root.joinpath(*name.parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        with open(temp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
