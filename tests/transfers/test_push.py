"""Pushing to a loopback Ollama-style registry, in process, then pulling the model back."""

from __future__ import annotations

import json
import os

import pytest

from jupyter_ollama.errors import OllamaError
from jupyter_ollama.store.manifests import CONFIG_MEDIA_TYPE, MEDIA_MODEL, MEDIA_SYSTEM, Layer, Manifest
from jupyter_ollama.store.names import ModelName
from jupyter_ollama.store.store import ModelStore
from jupyter_ollama.transfers.download import TransferSettings
from jupyter_ollama.transfers.pull import pull_model
from jupyter_ollama.transfers.push import push_model


def make_model(store: ModelStore, name: str) -> Manifest:
    layers = []
    for media_type, data in ((MEDIA_MODEL, os.urandom(300_000)), (MEDIA_SYSTEM, b"You are terse.")):
        digest, _ = store.blobs.put_bytes(data)
        layers.append(Layer(media_type, digest, len(data)))
    config = json.dumps({"model_format": "gguf"}).encode()
    digest, _ = store.blobs.put_bytes(config)
    manifest = Manifest(Layer(CONFIG_MEDIA_TYPE, digest, len(config)), layers)
    store.manifests.write(ModelName.parse(name), manifest)
    return manifest


def test_push_then_pull_back(registry, tmp_path):
    source = ModelStore(tmp_path / "a")
    name = f"{registry.host}/me/tiny:v1"
    manifest = make_model(source, name)
    registry.token = "push-token"
    events: list[dict] = []
    push_model(source, name, events.append, insecure=True)
    statuses = [e["status"] for e in events]
    assert statuses[0] == "retrieving manifest" and statuses[-2:] == ["pushing manifest", "success"]
    finals = {e["digest"]: e for e in events if "digest" in e}
    assert set(finals) == manifest.digests()
    assert all(e["status"] == f"pushing {d[7:19]}" and e["completed"] == e["total"] for d, e in finals.items())
    assert registry.token_requests == 1
    stored = (source.manifests.root / registry.host / "me" / "tiny" / "v1").read_bytes()
    assert registry.manifests[("me/tiny", "v1")] == stored  # byte for byte

    # A second push finds every blob on the registry (HEAD 200) and uploads nothing.
    uploads = len(registry.uploads)
    events.clear()
    push_model(source, name, events.append, insecure=True)
    assert len(registry.uploads) == uploads
    assert all(e["completed"] == e["total"] for e in events if "digest" in e)

    target = ModelStore(tmp_path / "b")
    pull_model(target, name, lambda e: None, insecure=True, settings=TransferSettings(part_size=100_000))
    pulled = target.find(name)
    assert pulled is not None and pulled.stored.digest == source.find(name).stored.digest
    assert pulled.system == "You are terse."


def test_push_errors(registry, tmp_path):
    store = ModelStore(tmp_path / "a")
    events: list[dict] = []
    with pytest.raises(OllamaError, match="not found"):
        push_model(store, f"{registry.host}/me/missing", events.append, insecure=True)
    assert [e["status"] for e in events] == ["retrieving manifest", "couldn't retrieve manifest"]
    make_model(store, "http://127.0.0.1:9/me/x")
    with pytest.raises(OllamaError, match="^insecure protocol http$"):
        push_model(store, "http://127.0.0.1:9/me/x", events.append)
    with pytest.raises(OllamaError, match=r'^Head "http://127\.0\.0\.1:9/v2/me/x/blobs/sha256:'):
        push_model(store, "127.0.0.1:9/me/x", events.append, insecure=True)
