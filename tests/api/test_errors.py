"""Bad input gets Ollama's error shape and status, and leaves the store exactly as it was."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import ollama
import pytest

from ..conftest import start_server


def snapshot(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def unchanged(server, smollm2):
    """Assert the models folder is byte-for-byte the same after the test."""
    before = snapshot(server.models_dir)
    yield
    assert snapshot(server.models_dir) == before


def call(server, method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(method, server.url + path, timeout=60, **kwargs)


BAD_JSON = [
    ("POST", "/api/show"),
    ("POST", "/api/create"),
    ("POST", "/api/copy"),
    ("DELETE", "/api/delete"),
]


@pytest.mark.parametrize("method,path", BAD_JSON)
def test_malformed_json_is_400(server, unchanged, method, path):
    response = call(server, method, path, content=b'{"model": ')
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert "error" in response.json()


@pytest.mark.parametrize("method,path", BAD_JSON)
def test_missing_body_is_400(server, unchanged, method, path):
    response = call(server, method, path)
    assert response.status_code == 400
    assert response.json() == {"error": "missing request body"}


@pytest.mark.parametrize(
    "method,path",
    [("GET", "/api/show"), ("GET", "/api/create"), ("POST", "/api/tags"), ("GET", "/api/delete"), ("PUT", "/api/copy")],
)
def test_wrong_method_is_405(server, unchanged, method, path):
    response = call(server, method, path)
    assert response.status_code == 405
    assert "error" in response.json()


def test_unknown_path_is_404(server):
    response = call(server, "GET", "/api/nothing-here")
    assert response.status_code == 404 and response.text == "404 page not found"


def test_wrong_type_is_400(server, unchanged):
    response = call(server, "POST", "/api/create", json={"model": "x", "from": "smollm2", "system": 5})
    assert response.status_code == 400
    assert "CreateRequest.system" in response.json()["error"]


def test_unknown_model_is_404(client, unchanged):
    with pytest.raises(ollama.ResponseError) as err:
        client.show("no-such-model")
    assert err.value.status_code == 404
    assert err.value.error == "model 'no-such-model' not found"
    with pytest.raises(ollama.ResponseError) as err:
        client.delete("no-such-model")
    assert err.value.status_code == 404
    with pytest.raises(ollama.ResponseError) as err:
        client.copy("no-such-model", "other")
    assert err.value.status_code == 404
    assert err.value.error == 'model "no-such-model" not found'
    with pytest.raises(ollama.ResponseError) as err:
        client.create(model="x", from_="no-such-model")
    assert err.value.status_code == 404


@pytest.mark.parametrize("name", ["../evil", "a/../../b", "bad name", "x:", "/abs", "ns.dot/model", "a" * 81, ""])
def test_invalid_names_are_400(server, unchanged, name):
    response = call(server, "POST", "/api/create", json={"model": name, "from": "smollm2"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid model name"
    response = call(server, "POST", "/api/copy", json={"source": "smollm2", "destination": name})
    assert response.status_code == 400
    assert response.json()["error"] == f'destination "{name}" is invalid'


def test_show_requires_a_model(server, unchanged):
    response = call(server, "POST", "/api/show", json={})
    assert response.status_code == 400 and response.json()["error"] == "model is required"


@pytest.mark.parametrize("digest", ["sha256:..%2F..%2Fetc%2Fpasswd", "sha256-xyz", "md5:" + "0" * 32, "sha256:" + "0" * 63])
def test_bad_digests_are_400(server, unchanged, digest):
    assert call(server, "HEAD", f"/api/blobs/{digest}").status_code == 400
    response = call(server, "POST", f"/api/blobs/{digest}", content=b"data")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid digest format"
    response = call(server, "POST", "/api/create", json={"model": "x", "files": {"m.gguf": digest}})
    assert response.status_code == 400


def test_blob_digest_mismatch_is_400(server, unchanged):
    claimed = "sha256:" + hashlib.sha256(b"something else").hexdigest()
    response = call(server, "POST", f"/api/blobs/{claimed}", content=b"the real content")
    assert response.status_code == 400
    assert response.json()["error"].startswith(f'digest mismatch, expected "{claimed}", got "sha256:')
    assert call(server, "HEAD", f"/api/blobs/{claimed}").status_code == 404


def test_blob_upload_then_head(server):
    data = b"a small blob"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert call(server, "HEAD", f"/api/blobs/{digest}").status_code == 404
    assert call(server, "POST", f"/api/blobs/{digest}", content=data).status_code == 201
    assert call(server, "HEAD", f"/api/blobs/{digest}").status_code == 200
    assert call(server, "POST", f"/api/blobs/{digest}", content=data).status_code == 200
    assert (server.models_dir / "blobs" / digest.replace(":", "-")).read_bytes() == data


@pytest.mark.parametrize("key", ["../model.gguf", "/etc/model.gguf", "a/../../b.gguf", "./x.gguf", ""])
def test_file_keys_outside_are_400(server, unchanged, smollm2, key):
    digest = _smollm2_digest(server)
    response = call(server, "POST", "/api/create", json={"model": "x", "files": {key: digest}})
    assert response.status_code == 400
    assert response.json()["error"] == "file path must be relative"


def test_create_needs_from_or_files(server, unchanged):
    response = call(server, "POST", "/api/create", json={"model": "x"})
    assert response.status_code == 400
    assert response.json()["error"] == "neither 'from' or 'files' was specified"


def test_create_with_missing_blob_is_400(server, unchanged):
    response = call(server, "POST", "/api/create", json={"model": "x", "files": {"m.gguf": "sha256:" + "1" * 64}})
    assert response.status_code == 400


def test_create_from_non_gguf_is_refused(server):
    data = b"not a gguf at all" * 100
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    call(server, "POST", f"/api/blobs/{digest}", content=data)
    before = snapshot(server.models_dir)
    response = call(server, "POST", "/api/create", json={"model": "x", "files": {"m.gguf": digest}, "stream": False})
    assert response.status_code == 400
    assert "GGUF" in response.json()["error"]
    assert snapshot(server.models_dir) == before


def test_bad_template_is_400(server, unchanged):
    response = call(server, "POST", "/api/create", json={"model": "x", "from": "smollm2", "template": "{{ if .System }}"})
    assert response.status_code == 400
    assert response.json()["error"].startswith("template error:")


def test_bad_parameter_is_400(server, unchanged):
    response = call(server, "POST", "/api/create", json={"model": "x", "from": "smollm2", "parameters": {"temperature": "hot"}})
    assert response.status_code == 400


def _smollm2_digest(server) -> str:
    import json

    manifest = server.models_dir / "manifests" / "registry.ollama.ai" / "library" / "smollm2" / "latest"
    return json.loads(manifest.read_text())["layers"][0]["digest"]


def test_interrupted_upload_leaves_nothing(server, unchanged):
    import socket
    import time

    data = b"x" * 100_000
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    host, port = server.host.split(":")
    with socket.create_connection((host, int(port))) as sock:
        head = f"POST /api/blobs/{digest} HTTP/1.1\r\nHost: {server.host}\r\nContent-Length: {len(data)}\r\n\r\n"
        sock.sendall(head.encode() + data[:50_000])
        time.sleep(0.3)  # the server has started writing the upload
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(p.name.startswith(".upload-") for p in (server.models_dir / "blobs").iterdir()):
        time.sleep(0.05)
    assert call(server, "HEAD", f"/api/blobs/{digest}").status_code == 404


def test_counts_out_of_range_are_400_on_every_api(server, smollm2):
    import openai

    huge = {"model": smollm2, "prompt": "hi", "stream": False, "options": {"num_predict": 1e308}}
    reply = httpx.post(server.url + "/api/generate", json=huge)
    assert reply.status_code == 400 and reply.json()["error"].startswith('option "num_predict" must be an integer from -2')
    chat = openai.OpenAI(base_url=server.url + "/v1", api_key="ollama", max_retries=0)
    with pytest.raises(openai.BadRequestError) as info:
        chat.chat.completions.create(model=smollm2, messages=[{"role": "user", "content": "hi"}], max_tokens=int(1e18))
    assert info.value.body["message"] == "max_tokens must be an integer from 1 to 2147483647, not 1000000000000000000"


BODY_CAP = 1 << 20  # OLLAMA_MAX_BODY_SIZE of the capped server below


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    running = start_server(tmp_path_factory.mktemp("capped"), OLLAMA_MAX_BODY_SIZE=str(BODY_CAP))
    yield running
    running.stop()


def oversized_chat() -> bytes:
    return b'{"model": "smollm2", "messages": [{"role": "user", "content": "' + b"a" * BODY_CAP + b'"}]}'


@pytest.mark.parametrize("path", ["/api/chat", "/api/create", "/api/show"])
def test_json_body_over_the_cap_is_413_in_ollamas_shape(capped, path):
    response = httpx.post(capped.url + path, content=oversized_chat(), timeout=60)
    assert response.status_code == 413
    assert response.json() == {"error": "request body too large: the limit is 1.0 MiB (OLLAMA_MAX_BODY_SIZE)"}


def test_chunked_body_over_the_cap_is_413_too(capped):
    def chunks():  # no Content-Length: the cap is counted as the body streams in
        body = oversized_chat()
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    response = httpx.post(capped.url + "/api/show", content=chunks(), timeout=60)
    assert response.status_code == 413
    assert "too large" in response.json()["error"]


def test_openai_route_over_the_cap_is_413_in_openais_shape(capped):
    response = httpx.post(capped.url + "/v1/chat/completions", content=oversized_chat(), timeout=60)
    assert response.status_code == 413
    assert response.json()["error"]["message"].startswith("request body too large")


def test_body_under_the_cap_still_reaches_the_handler(capped):
    body = b'{"model": "nothing-here", "pad": "' + b"a" * (BODY_CAP - 100) + b'"}'
    response = httpx.post(capped.url + "/api/show", content=body, timeout=60)
    assert response.status_code == 404, response.text


def test_blob_upload_is_not_capped(capped):
    data = b"x" * (2 * BODY_CAP)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    response = httpx.post(f"{capped.url}/api/blobs/{digest}", content=data, timeout=60)
    assert response.status_code == 201
