"""Pushing a model: Ollama's `PushModel` (server/images.go, server/upload.go).

Statuses: `retrieving manifest`; `pushing <hex12>` (digest/total/completed) per
layer and for the config; `pushing manifest`; `success`. Each blob is checked
with `HEAD …/blobs/<digest>` and skipped when the registry has it; otherwise it
is uploaded with the Docker distribution flow: `POST …/blobs/uploads/` (asking to
mount it from its source model when the layer records one), then one `PUT` of
the whole blob to the returned `Location` with `?digest=…`. Ollama uploads in
PATCHed chunks of 100 MB+; a single monolithic PUT is what this does instead.
The manifest is sent byte for byte as stored, so its digest is the same on both sides.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from urllib.parse import urlencode

from ..errors import NotFound, OllamaError
from ..store.manifests import MANIFEST_MEDIA_TYPE, Layer
from ..store.names import ModelName
from ..store.progress import Progress, Throttle, check_cancel, layer_line, status, storage_error
from ..store.store import ModelStore
from .registry import Registry, RegistryError, RegistryNotFound

CHUNK = 1 << 20


def push_model(
    store: ModelStore,
    name: str | ModelName,
    progress: Progress,
    insecure: bool = False,
    cancel: threading.Event | None = None,
) -> None:
    """Push the stored model `name` to the registry its name points at."""
    parsed = ModelName.parse(name) if isinstance(name, str) else name
    progress(status("retrieving manifest"))
    if parsed.scheme == "http" and not insecure:
        raise OllamaError("insecure protocol http")
    found = store.manifests.find(parsed)
    stored = store.manifests.read(found) if found else None
    if found is None or stored is None:
        progress(status("couldn't retrieve manifest"))
        raise NotFound(f"model '{parsed.display()}' not found")
    try:
        raw = store.manifests.root.joinpath(*found.parts).read_bytes()
        registry = Registry(dataclasses.replace(found, scheme=parsed.scheme), insecure)
        manifest = stored.manifest
        for layer in [*manifest.layers, manifest.config]:
            upload_blob(store, registry, layer, progress, cancel)

        progress(status("pushing manifest"))
        registry.request("PUT", registry.url("manifests", found.tag), {"Content-Type": MANIFEST_MEDIA_TYPE}, raw)
    except RegistryNotFound:
        raise NotFound("file does not exist") from None
    except OSError as err:
        raise storage_error(err) from err
    progress(status("success"))


def upload_blob(
    store: ModelStore, registry: Registry, layer: Layer, progress: Progress, cancel: threading.Event | None
) -> None:
    digest, size = layer.digest, layer.size
    try:
        registry.request("HEAD", registry.url("blobs", digest))
        progress(layer_line("pushing", digest, size, size))
        return
    except RegistryNotFound:
        pass

    url = f"{registry.base}/v2/{registry.repository}/blobs/uploads/"
    if layer.from_:
        source = ModelName.parse_lenient(layer.from_)
        url += "?" + urlencode({"mount": digest, "from": f"{source.namespace}/{source.model}"})
    started = registry.request("POST", url)
    if started.status_code == 201:  # mounted from the source repository: nothing to send
        progress(layer_line("pushing", digest, size, size))
        return
    location = started.headers.get("docker-upload-location") or started.headers.get("location")
    if not location:
        raise RegistryError(f"{started.status_code}: the registry gave no upload location")
    target = registry.resolve(url, location)
    target += ("&" if "?" in target else "?") + urlencode({"digest": digest})

    path = store.blobs.path(digest)
    size = path.stat().st_size
    progress(layer_line("pushing", digest, size, 0))

    def body() -> Iterator[bytes]:
        throttle, sent = Throttle(), 0
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                check_cancel(cancel)
                sent += len(chunk)
                if throttle.ready():
                    progress(layer_line("pushing", digest, size, sent))
                yield chunk

    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
    registry.request("PUT", target, headers, body)
    progress(layer_line("pushing", digest, size, size))
