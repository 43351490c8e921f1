"""Pulling from a loopback Ollama-style registry, in process: the protocol, resume, faults."""

from __future__ import annotations

import errno
import json
import os
import threading

import pytest

from jupyter_ollama.errors import BadRequest, OllamaError
from jupyter_ollama.store.store import ModelStore
from jupyter_ollama.transfers.download import TransferSettings
from jupyter_ollama.transfers.pull import pull_model

from ..registry_server import Registry

MODEL = "application/vnd.ollama.image.model"
TEMPLATE = "application/vnd.ollama.image.template"
SIZE = 1_000_000
PART = 64 * 1024
FAST = TransferSettings(part_size=PART, retries=2, retry_delay=0.01)


@pytest.fixture
def store(tmp_path):
    return ModelStore(tmp_path / "models")


@pytest.fixture
def weights() -> bytes:
    return os.urandom(SIZE)


def publish(registry: Registry, weights: bytes, template: bytes = b"{{ .Prompt }}", tag: str = "latest") -> bytes:
    return registry.publish("library/tiny", tag, [(MODEL, weights), (TEMPLATE, template)])


def pull(store: ModelStore, registry: Registry, model: str = "tiny:latest", settings: TransferSettings = FAST, **kw):
    events: list[dict] = []
    pull_model(store, f"{registry.host}/library/{model}", events.append, insecure=True, settings=settings, **kw)
    return events


def leftovers(store: ModelStore) -> list[str]:
    return sorted(p.name for p in store.blobs.root.iterdir() if "partial" in p.name or p.name.startswith("."))


def test_pull_statuses_manifest_and_blobs(registry, store, weights):
    manifest = publish(registry, weights)
    events = pull(store, registry)
    statuses = [e["status"] for e in events]
    assert statuses[0] == "pulling manifest"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    layers = [e for e in events if "digest" in e]
    assert all(e["status"] == f"pulling {e['digest'][7:19]}" and e["total"] >= e["completed"] for e in layers)
    finals = {e["digest"]: e for e in layers}
    assert all(e["completed"] == e["total"] for e in finals.values()) and len(finals) == 3
    path = store.manifests.root / registry.host / "library" / "tiny" / "latest"
    assert path.read_bytes() == manifest  # the registry's bytes, so the same digest on both sides
    model = store.find(f"{registry.host}/library/tiny")
    assert model is not None and store.blobs.read_bytes(model.model_layer.digest) == weights
    assert leftovers(store) == []
    # Many small parts, fetched with ranged GETs that cover the blob exactly once.
    assert registry.source.served[model.model_layer.digest] == SIZE
    ranges = [r for d, r in registry.source.ranges if d == model.model_layer.digest and r != "bytes=0-0"]
    assert len(ranges) == -(-SIZE // PART)


def test_second_pull_skips_stored_blobs(registry, store, weights):
    publish(registry, weights)
    pull(store, registry)
    served = registry.served()
    events = pull(store, registry)
    layers = [e for e in events if "digest" in e]
    assert len(layers) == 3 and all(e["completed"] == e["total"] > 0 for e in layers)
    assert registry.served() == served


def test_cdn_redirect_and_token_auth(registry, store, weights):
    publish(registry, weights)
    registry.cdn = True
    registry.token = "s3cret"
    pull(store, registry)
    assert registry.token_requests == 1
    assert registry.served() == sum(registry.source.size(d) for d in registry.source.blobs)
    cdn_gets = [p for m, p in registry.requests if m == "GET" and p.startswith("/cdn/")]
    assert len(cdn_gets) == len(registry.source.ranges) >= -(-SIZE // PART)  # every body came from the CDN


def test_realm_on_another_host_is_refused(registry, store, weights):
    publish(registry, weights)
    registry.token = "s3cret"  # the challenge names 127.0.0.1; the pull asks localhost
    name = f"localhost:{registry.server.port}/library/tiny"
    with pytest.raises(OllamaError, match=r'realm host "127\.0\.0\.1:\d+" does not match original host "localhost:\d+"'):
        pull_model(store, name, lambda e: None, insecure=True, settings=FAST)
    assert registry.token_requests == 0 and list(store.manifests.all()) == []


def test_unknown_model(registry, store):
    with pytest.raises(OllamaError) as err:
        pull(store, registry, model="nothing:latest")
    assert err.value.message == "pull model manifest: file does not exist"
    assert err.value.status == 404  # not there: a truer status than Ollama's 500


def test_unreachable_host_and_insecure_rules(store):
    with pytest.raises(OllamaError, match=r'^pull model manifest: Get "http://127\.0\.0\.1:9/v2/library/x/manifests/latest": '):
        pull_model(store, "127.0.0.1:9/library/x", lambda e: None, insecure=True)
    with pytest.raises(OllamaError, match="^insecure protocol http$"):
        pull_model(store, "http://127.0.0.1:9/library/x", lambda e: None)
    with pytest.raises(BadRequest, match="invalid model name"):
        pull_model(store, "bad/name/x/y/z:", lambda e: None)
    assert list(store.manifests.all()) == []


def test_corrupt_blob(registry, store, weights):
    publish(registry, weights)
    digest = next(d for d in registry.source.blobs if registry.source.size(d) == SIZE)
    registry.source.corrupt.add(digest)
    events: list[dict] = []
    with pytest.raises(OllamaError) as err:
        pull_model(store, f"{registry.host}/library/tiny", events.append, insecure=True, settings=FAST)
    assert err.value.message.startswith(f"digest mismatch, file must be downloaded again: want {digest}, got sha256:")
    assert events[-1] == {"status": "verifying sha256 digest"}
    assert store.find(f"{registry.host}/library/tiny") is None
    assert not store.blobs.exists(digest) and leftovers(store) == []


def test_dropped_connection_fails_cleanly_then_resumes(registry, store, weights):
    publish(registry, weights)
    digest = next(d for d in registry.source.blobs if registry.source.size(d) == SIZE)
    cut = 5 * PART + 1000  # inside part 5
    registry.source.drop_at[digest] = cut
    patient = TransferSettings(part_size=PART, retries=2, retry_delay=0.3)  # the other parts finish meanwhile
    with pytest.raises(OllamaError, match="^max retries exceeded: "):
        pull(store, registry, settings=patient)
    assert store.find(f"{registry.host}/library/tiny") is None
    assert not store.blobs.exists(digest)
    assert f"{digest.replace(':', '-')}-partial" in leftovers(store)
    assert store.blobs.digests() <= set(registry.source.blobs)  # partial files are not blobs
    records = [json.loads(p.read_bytes()) for p in store.blobs.root.glob(f"{digest.replace(':', '-')}-partial-*")]
    assert len(records) == -(-SIZE // PART)
    assert {r["N"]: r["Completed"] for r in records}[5] == cut - 5 * PART
    kept = sum(r["Completed"] for r in records)
    assert kept >= SIZE - 6 * PART  # the parts that were not cut finished (or nearly)

    registry.source.drop_at.clear()
    before = registry.source.served[digest]
    pull(store, registry)
    assert registry.source.served[digest] - before == SIZE - kept  # nothing kept was fetched again
    assert store.blobs.read_bytes(digest) == weights and leftovers(store) == []


def test_dropped_once_is_retried_within_the_pull(registry, store, weights):
    publish(registry, weights)
    digest = next(d for d in registry.source.blobs if registry.source.size(d) == SIZE)
    registry.source.drop_at[digest] = 3 * PART + 10
    registry.source.drop_once.add(digest)
    pull(store, registry)
    assert registry.source.served[digest] == SIZE  # the retry went on from where the drop cut it
    assert store.blobs.read_bytes(digest) == weights


def test_replaced_tag_removes_unused_layers(registry, store, weights):
    publish(registry, weights, template=b"first {{ .Prompt }}")
    pull(store, registry)
    old_template = store.find(f"{registry.host}/library/tiny").stored.manifest.layer_of(TEMPLATE).digest
    publish(registry, weights, template=b"second {{ .Prompt }}")
    statuses = [e["status"] for e in pull(store, registry)]
    assert statuses[-3:] == ["writing manifest", "removing unused layers", "success"]
    model = store.find(f"{registry.host}/library/tiny")
    assert not store.blobs.exists(old_template)
    assert store.blobs.exists(model.model_layer.digest)


def test_concurrent_pulls_share_one_download(registry, store, weights):
    publish(registry, weights)
    registry.publish("library/twin", "latest", [(MODEL, weights)])
    registry.source.rate = 4_000_000  # ~0.25 s for the big blob, so the two pulls overlap
    errors: list[BaseException] = []

    def run(model: str) -> None:
        try:
            pull(store, registry, model=model)
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=run, args=(m,)) for m in ("tiny:latest", "twin:latest")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    digest = next(d for d in registry.source.blobs if registry.source.size(d) == SIZE)
    assert registry.source.served[digest] == SIZE
    assert store.find(f"{registry.host}/library/twin") and store.find(f"{registry.host}/library/tiny")


def test_cancel_keeps_parts_for_the_next_pull(registry, store, weights):
    publish(registry, weights)
    registry.source.rate = 2_000_000
    cancel = threading.Event()
    events: list[dict] = []

    def progress(event: dict) -> None:
        events.append(event)
        if event.get("total") == SIZE and event["completed"] > SIZE // 3:
            cancel.set()

    with pytest.raises(OllamaError, match="context canceled"):
        pull_model(store, f"{registry.host}/library/tiny", progress, insecure=True, cancel=cancel, settings=FAST)
    digest = next(d for d in registry.source.blobs if registry.source.size(d) == SIZE)
    _wait_for_no_download(digest)
    registry.source.rate = None
    registry.settle()
    first = registry.source.served[digest]
    pull(store, registry)
    assert registry.source.served[digest] - first < SIZE - SIZE // 4
    assert store.blobs.read_bytes(digest) == weights


def test_disk_full_is_a_clear_error(registry, store, weights, monkeypatch):
    publish(registry, weights)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("jupyter_ollama.transfers.download.os.pwrite", full)
    with pytest.raises(OllamaError, match="no space left on device"):
        pull(store, registry)
    assert store.find(f"{registry.host}/library/tiny") is None


def _wait_for_no_download(digest: str) -> None:
    from jupyter_ollama.transfers import download

    for _ in range(200):
        with download._manager_lock:
            if not any(d.digest == digest for d in download._downloads.values()):
                return
        threading.Event().wait(0.01)


def test_a_manifest_with_a_bad_digest_is_refused(registry, store):
    bad = b'{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:../../etc","size":1},"layers":[]}'
    registry.manifests[("library/evil", "latest")] = bad
    with pytest.raises(OllamaError, match="^pull model manifest: invalid manifest: bad digest"):
        pull(store, registry, model="evil:latest")
    assert list(store.manifests.all()) == [] and leftovers(store) == []
