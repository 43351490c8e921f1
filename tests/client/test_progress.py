"""The pull/push/create fold (client/progress.py): a real pull from the loopback registry, and a push's lines."""

from __future__ import annotations

import httpx
import pytest

from jupyter_ollama.client import Client
from jupyter_ollama.client.progress import Layer, TransferProgress

from ..registry_server import Registry, file_digest, new_blob

MODEL = "application/vnd.ollama.image.model"
SYSTEM = "application/vnd.ollama.image.system"


@pytest.fixture(scope="module")
def registry(tmp_path_factory, smollm2_gguf):
    """`library/fold`: SmolLM2 with a few bytes more, so its blob is new to the server and really downloads."""
    root = tmp_path_factory.mktemp("fold-registry")
    blob = new_blob(smollm2_gguf, root / "fold.gguf", 96)
    reg = Registry(root)
    reg.publish("library/fold", "latest", [(MODEL, blob), (SYSTEM, b"You fold.")])
    reg.blob = blob  # type: ignore[attr-defined]
    yield reg
    reg.close()


def test_a_pull_folds_into_per_layer_progress(server, registry):
    name = f"{registry.host}/library/fold"
    progress = TransferProgress()
    registry.source.rate = 40_000_000  # ~2.5 s for the model layer: several lines on the way
    try:
        with Client(server.url) as client:
            steps = [progress.add(line) for line in client.stream("/api/pull", {"model": name, "insecure": True})]
    finally:
        registry.source.rate = None
    try:
        statuses = [s.status for s in steps if s.layer is None and s.changed]
        assert statuses[0] == "pulling manifest" and statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
        assert progress.succeeded and progress.status == "success"
        size = registry.blob.stat().st_size
        model = progress.layers[file_digest(registry.blob)]
        assert model.total == model.completed == size and model.done
        assert model.status == f"pulling {model.digest[7:19]}"
        assert len(progress.layers) == 3 and all(layer.done for layer in progress.layers.values())  # model, system, config
        assert progress.completed == progress.total == sum(layer.total for layer in progress.layers.values())
        # Each layer is new once, then moves on: the model layer was seen part done.
        assert sorted(s.layer.digest for s in steps if s.new) == sorted(progress.layers)  # type: ignore[union-attr]
        seen = [s.layer.completed for s in steps if s.layer is not None and s.layer.digest == model.digest]
        assert any(0 < c < size for c in seen) and seen == sorted(seen)
    finally:
        assert httpx.request("DELETE", server.url + "/api/delete", json={"model": name}, timeout=30).status_code == 200


def test_push_and_quantize_lines():
    progress = TransferProgress()
    digest = "sha256:" + "ab" * 32
    lines = [
        {"status": "retrieving manifest"},
        {"status": "pushing abababababab", "digest": digest, "total": 100},  # Go leaves out a zero `completed`
        {"status": "pushing abababababab", "digest": digest, "total": 100, "completed": 60},
        {"status": "pushing abababababab", "digest": digest},  # counts left out: the last ones stand
        {"status": "pushing manifest"},
        {"status": "success"},
    ]
    steps = [progress.add(line) for line in lines]
    assert [(s.changed, s.new) for s in steps] == [(True, False), (True, True), (False, False), (False, False), (True, False), (True, False)]
    assert progress.layers == {digest: Layer(digest, "pushing abababababab", 100, 60)} and progress.succeeded
    quantize = TransferProgress()
    said = [quantize.add({"status": "quantizing F16 model to Q4_K_M", "digest": "0000", "total": 9, "completed": n}).changed
            for n in range(3)]
    assert said == [True, False, False] and quantize.completed == 2
