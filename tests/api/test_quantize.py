"""`create` with `quantize`, as `ollama create -q` does it, through the official client and the CLI.

An F16 GGUF is made once per session from SmolLM2's Q4_1 with llama.cpp's own quantizer
(requantizing up to F16), then quantized again at create time by the server.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
from pathlib import Path

import httpx
import ollama
import pytest

from jupyter_ollama.store.quantize import ONLY_FROM_UNQUANTIZED, PROGRESS_DIGEST

from ..conftest import RunningServer, small_disk_server

NO_SPACE = "no space left on device"
GREEDY = {"temperature": 0, "num_predict": 12}


@pytest.fixture(scope="session")
def f16_gguf(smollm2_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SmolLM2 requantized to F16 (about 260 MB), with llama.cpp's quantizer."""
    import llama_cpp

    target = tmp_path_factory.mktemp("f16") / "smollm2-f16.gguf"
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_F16
    params.allow_requantize = True
    status = llama_cpp.llama_model_quantize(str(smollm2_gguf).encode(), str(target).encode(), ctypes.byref(params))
    assert status == 0 and target.stat().st_size > 250_000_000
    return target


@pytest.fixture(scope="module")
def f16_digest(client: ollama.Client, f16_gguf: Path) -> str:
    return client.create_blob(f16_gguf)


def model_digests(server: RunningServer, name: str) -> list[str]:
    manifest = server.models_dir / "manifests" / "registry.ollama.ai" / "library" / name / "latest"
    layers = json.loads(manifest.read_text())["layers"]
    return [x["digest"] for x in layers if x["mediaType"] == "application/vnd.ollama.image.model"]


def test_create_quantizes_an_f16_gguf_to_q4_k_m(server, client, f16_gguf, f16_digest):
    events = list(client.create(model="smol-q4km", files={"m.gguf": f16_digest}, quantize="q4_K_M", stream=True))
    statuses = [e.status for e in events]
    assert statuses[0] == "parsing GGUF" and statuses[-2:] == ["writing manifest", "success"]
    progress = [e for e in events if e.status == "quantizing F16 model to Q4_K_M"]
    assert len(progress) >= 2 and all(e.digest == PROGRESS_DIGEST for e in progress)
    size = f16_gguf.stat().st_size
    assert {e.total for e in progress} == {size}
    completed = [e.completed for e in progress]
    assert completed == sorted(completed) and completed[0] == 0 and completed[-1] == size
    after = statuses[statuses.index("verifying conversion") + 1 :]
    (digest,) = model_digests(server, "smol-q4km")
    assert digest != f16_digest and f"creating new layer {digest}" in after

    shown = client.show("smol-q4km")
    assert shown.details.quantization_level == "Q4_K_M"
    listed = {m.model: m for m in client.list().models}
    assert listed["smol-q4km:latest"].details.quantization_level == "Q4_K_M"
    assert listed["smol-q4km:latest"].size < size // 2

    reply = client.generate(model="smol-q4km", prompt="1, 2, 3, 4, 5,", raw=True, options=GREEDY)
    assert reply.response.startswith(" 6, 7, 8"), reply.response


def test_quantization_alias_from_a_model_and_no_stream(server, client, f16_digest):
    client.create(model="smol-f16", files={"m.gguf": f16_digest})
    assert client.show("smol-f16").details.quantization_level == "F16"
    body = {"model": "smol-q8", "from": "smol-f16", "quantization": "Q8_0", "stream": False}
    response = httpx.post(server.url + "/api/create", json=body, timeout=300)
    assert response.status_code == 200 and response.json() == {"status": "success"}
    assert client.show("smol-q8").details.quantization_level == "Q8_0"
    assert model_digests(server, "smol-q8") != [f16_digest]
    reply = client.generate(model="smol-q8", prompt="The capital of France is", raw=True, options=GREEDY)
    assert "Paris" in reply.response, reply.response


def test_bad_quantize_requests_are_400s_that_create_nothing(client, smollm2_gguf, f16_digest):
    with pytest.raises(ollama.ResponseError) as bad_type:
        client.create(model="smol-bad", files={"m.gguf": f16_digest}, quantize="q9_x")
    assert bad_type.value.status_code == 400
    assert bad_type.value.error.startswith("unsupported quantization type Q9_X - supported types are F32, F16")

    quantized = client.create_blob(smollm2_gguf)  # Q4_1 already
    with pytest.raises(ollama.ResponseError) as twice:
        list(client.create(model="smol-bad", files={"m.gguf": quantized}, quantize="q4_K_M", stream=True))
    assert twice.value.status_code == 400 and twice.value.error == ONLY_FROM_UNQUANTIZED
    assert "smol-bad:latest" not in {m.model for m in client.list().models}


def test_cli_create_with_q(server, f16_gguf, tmp_path, client):
    (tmp_path / "model.gguf").symlink_to(f16_gguf)
    (tmp_path / "Modelfile").write_text("FROM ./model.gguf\nPARAMETER temperature 0\n")
    created = server.cli("create", "smol-cli", "-q", "q4_K_S", "-f", "Modelfile", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    lines = created.stdout.splitlines()
    assert lines.count("quantizing F16 model to Q4_K_S") == 1 and lines[-2:] == ["writing manifest", "success"]
    assert client.show("smol-cli").details.quantization_level == "Q4_K_S"


# -- a full disk ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_disk(tmp_path_factory: pytest.TempPathFactory) -> RunningServer:  # type: ignore[misc]
    """A server whose models folder is a 300 MiB tmpfs: room for the F16 GGUF (258 MiB), not its Q8_0."""
    with small_disk_server(tmp_path_factory.mktemp("small-disk"), "300m") as running:
        yield running


def test_full_disk_while_quantizing_is_a_507_that_keeps_nothing(small_disk, f16_gguf):
    client = ollama.Client(host=small_disk.url)
    digest = client.create_blob(f16_gguf)
    body = {"model": "too-big", "files": {"m.gguf": digest}, "quantize": "q8_0", "stream": False}
    response = httpx.post(small_disk.url + "/api/create", json=body, timeout=300)
    assert response.status_code == 507, response.text
    assert response.json()["error"].endswith(NO_SPACE)
    assert client.list().models == []
    # The partial output went: the room it took (about 40 MiB were left) is free again.
    filler = hashlib.sha256(b"filler").digest() * (1 << 20)  # 32 MiB
    stored = httpx.post(f"{small_disk.url}/api/blobs/sha256:{hashlib.sha256(filler).hexdigest()}", content=filler, timeout=60)
    assert stored.status_code == 201, stored.text
