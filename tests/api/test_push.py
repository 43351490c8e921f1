"""POST /api/push from `jupyter-ollama serve` to a loopback registry, then a pull elsewhere."""

from __future__ import annotations

import json

import httpx
import ollama
import pytest

from ..conftest import start_server
from ..registry_server import Registry


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    reg = Registry(tmp_path_factory.mktemp("push-registry"))
    yield reg
    reg.close()


def test_push_created_model_then_pull_it_elsewhere(client, server, smollm2, registry, tmp_path):
    name = f"{registry.host}/me/smol:v1"
    client.create(model=name, from_=smollm2, system="You answer in one word.", parameters={"temperature": 0.2})
    registry.token = "push-t0ken"
    events = list(client.push(name, insecure=True, stream=True))
    statuses = [e.status for e in events]
    assert statuses[0] == "retrieving manifest" and statuses[-2:] == ["pushing manifest", "success"]
    layers = {e.digest: e for e in events if e.digest}
    assert all(e.status == f"pushing {d[7:19]}" and e.completed == e.total for d, e in layers.items())
    assert len(layers) == 4  # model, system, params, config
    assert registry.token_requests >= 1 and ("me/smol", "v1") in registry.manifests

    # Pushing again uploads nothing: every blob answers HEAD 200.
    uploads = len(registry.uploads)
    assert client.push(name, insecure=True, stream=False).status == "success"
    assert len(registry.uploads) == uploads

    other = start_server(tmp_path / "elsewhere")
    try:
        elsewhere = ollama.Client(host=other.url)
        elsewhere.pull(name, insecure=True)
        local = {m.model: m for m in client.list().models}[name]
        remote = {m.model: m for m in elsewhere.list().models}[name]
        assert remote.digest == local.digest  # the manifest travelled byte for byte
        shown = httpx.post(other.url + "/api/show", json={"model": name}, timeout=60).json()
        assert shown["system"] == "You answer in one word." and "temperature" in shown["parameters"]
        assert elsewhere.generate(model=name, prompt="hi", options={"num_predict": 3}).done
    finally:
        other.stop()
        client.delete(name)  # the session server is shared


def test_push_errors(server, registry):
    url = server.url + "/api/push"
    missing = httpx.post(url, json={"model": f"{registry.host}/me/missing", "insecure": True}, timeout=60)
    lines = [json.loads(x) for x in missing.text.splitlines()]
    assert [x.get("status") for x in lines[:2]] == ["retrieving manifest", "couldn't retrieve manifest"]
    assert "not found" in lines[-1]["error"]
    assert httpx.post(url, json={}).json() == {"error": "model is required"}
    assert httpx.post(url, json={"model": "a/b/c/d/e"}).status_code == 400
    not_streamed = httpx.post(url, json={"model": f"{registry.host}/me/missing", "stream": False}, timeout=60)
    assert not_streamed.status_code == 404 and "not found" in not_streamed.json()["error"]
