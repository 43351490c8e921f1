"""Faults, each answered with one clear error while the server stays up and the store stays whole.

A full disk (a small tmpfs, mounted in a user and mount namespace of the server's own) during a
blob upload, a create and a pull; a corrupt blob and a GGUF llama.cpp refuses, found at load;
64 streams at once with half the clients hanging up. (A runner killed mid-stream is in
test_isolation.py.)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import httpx
import ollama
import pytest

from jupyter_ollama.store.gguf import read_gguf

from ..conftest import RunningServer, serving, small_disk_server, wait_for
from ..registry_server import Registry
from ..store.test_gguf import write_gguf

NO_SPACE = "no space left on device"


# -- a full disk -------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_disk(tmp_path_factory: pytest.TempPathFactory) -> RunningServer:  # type: ignore[misc]
    """A server whose models folder is a 110 MiB tmpfs: room for SmolLM2 (94 MiB) and little more."""
    with small_disk_server(tmp_path_factory.mktemp("small-disk"), "110m", OLLAMA_PULL_RETRIES="1") as running:
        yield running


def tags(server: RunningServer) -> list[str]:
    return [m["name"] for m in httpx.get(server.url + "/api/tags").json()["models"]]


def test_full_disk_during_a_blob_upload_is_one_clear_error_and_keeps_nothing(small_disk):
    data = hashlib.sha256(b"seed").digest() * (4 << 20)  # 128 MiB: more than the disk holds
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    response = httpx.post(f"{small_disk.url}/api/blobs/{digest}", content=data, timeout=120)
    assert response.status_code == 507, response.text
    assert response.json()["error"].endswith(NO_SPACE)
    assert httpx.head(f"{small_disk.url}/api/blobs/{digest}").status_code == 404  # the partial file is gone


def test_full_disk_during_create_lists_nothing_new(small_disk, smollm2_gguf):
    client = ollama.Client(host=small_disk.url)
    digest = client.create_blob(smollm2_gguf)  # fits: the failed upload above gave its space back
    # The system prompt's layer (20 MB) does not fit beside the GGUF.
    response = httpx.post(
        small_disk.url + "/api/create",
        json={"model": "too-big", "files": {"m.gguf": digest}, "system": "x" * 20_000_000, "stream": False},
        timeout=120,
    )
    assert response.status_code == 507, response.text
    assert response.json()["error"].endswith(NO_SPACE)
    assert tags(small_disk) == []
    client.create(model="smollm2", files={"m.gguf": digest})  # small layers still fit: the store works
    assert tags(small_disk) == ["smollm2:latest"]


def test_full_disk_during_a_pull_is_one_error_line_and_lists_nothing_new(small_disk, tmp_path):
    registry = Registry(tmp_path / "registry")
    try:
        weights = hashlib.sha256(b"weights").digest() * (1 << 20)  # 32 MiB: more than is left
        registry.publish("library/big", "latest", [("application/vnd.ollama.image.model", weights)], {"model_format": "gguf"})
        body = {"model": f"{registry.host}/library/big", "insecure": True}
        with httpx.stream("POST", small_disk.url + "/api/pull", json=body, timeout=120) as response:
            lines = [json.loads(line) for line in response.iter_lines()]
        assert response.status_code == 200
        errors = [line["error"] for line in lines if "error" in line]
        assert len(errors) == 1 and errors[0].endswith(NO_SPACE), lines[-3:]
        assert tags(small_disk) == ["smollm2:latest"]
        # The partial download is dropped: the disk has room again (a pull cannot resume on a full disk).
        filler = b"f" * (8 << 20)
        response = httpx.post(f"{small_disk.url}/api/blobs/sha256:{hashlib.sha256(filler).hexdigest()}", content=filler, timeout=60)
        assert response.status_code == 201, response.text
        reply = ollama.Client(host=small_disk.url).chat(model="smollm2", messages=[{"role": "user", "content": "Hi"}], options={"num_predict": 4})
        assert reply.message.content
    finally:
        registry.close()


# -- models that cannot load ---------------------------------------------------------


@pytest.fixture(scope="module")
def loader(tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> RunningServer:  # type: ignore[misc]
    folder = tmp_path_factory.mktemp("loader")
    running = serving(folder / "models", smollm2_gguf, log=folder / "server.log")
    yield running
    running.stop()
    assert "Traceback" not in (folder / "server.log").read_text()


def chat_error(server: RunningServer, model: str) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "stream": False}
    return httpx.post(server.url + "/api/chat", json=body, timeout=120)


def test_a_corrupt_blob_found_at_load_is_a_clear_error_not_a_crash_loop(loader, smollm2_gguf, tmp_path):
    copy = tmp_path / "copy.gguf"
    copy.write_bytes(smollm2_gguf.read_bytes() + b"\0" * 32)  # another digest, so smollm2 is untouched
    client = ollama.Client(host=loader.url)
    digest = client.create_blob(copy)
    client.create(model="damaged", files={"m.gguf": digest})
    blob = loader.models_dir / "blobs" / digest.replace(":", "-")
    with open(blob, "r+b") as f:  # the disk lost the second half
        f.truncate(blob.stat().st_size // 2)

    first, second = chat_error(loader, "damaged"), chat_error(loader, "damaged")
    for response in (first, second):
        assert response.status_code == 500
        error = response.json()["error"]
        assert error.startswith("model 'damaged:latest' is damaged: ") and error.endswith("; pull or create it again"), error
    assert httpx.get(loader.url + "/api/ps").json()["models"] == []  # not loaded, not retrying
    assert client.chat(model="smollm2", messages=[{"role": "user", "content": "Hi"}], options={"num_predict": 3}).done


def test_a_gguf_llama_cpp_refuses_says_its_reason_once(loader, tmp_path):
    path = tmp_path / "odd.gguf"
    write_gguf(
        path,
        [("general.architecture", 8, "nonsense"), ("nonsense.context_length", 4, 128), ("nonsense.embedding_length", 4, 8)],
        [("token_embd.weight", (8, 4), 0)],
    )
    assert read_gguf(path).kv["general.architecture"] == "nonsense"
    client = ollama.Client(host=loader.url)
    client.create(model="odd", files={"odd.gguf": client.create_blob(path)})

    response = chat_error(loader, "odd")
    assert response.status_code == 500
    error = response.json()["error"]
    assert "unknown model architecture: 'nonsense'" in error, error
    assert error.count("nonsense") == 1 and "Traceback" not in error
    assert loader.process.poll() is None
    assert chat_error(loader, "odd").json() == {"error": error}  # the same answer again, quickly


# -- many clients, half of them leaving -------------------------------------------------


def test_64_streams_with_half_the_clients_hanging_up(server, smollm2):
    async def one(i: int) -> str:
        client = ollama.AsyncClient(host=server.url)
        stream = await client.chat(
            model="smollm2", messages=[{"role": "user", "content": f"Count to {i % 9 + 3}."}],
            options={"num_predict": 16, "temperature": 0}, stream=True,
        )
        text = ""
        async for part in stream:
            text += part.message.content
            if i % 2 and text:
                await stream.aclose()  # this client leaves mid-reply
                return "left"
            if part.done:
                return "done"
        return "cut"

    async def all_of_them() -> list[str]:
        return await asyncio.gather(*(one(i) for i in range(64)))

    outcomes = asyncio.run(all_of_them())
    assert outcomes.count("done") == 32 and outcomes.count("left") == 32, outcomes

    def idle() -> bool:
        ps = httpx.get(server.url + "/api/ps").json()
        return all(m["slots_busy"] == 0 for m in ps["models"]) and ps["queue"]["waiting"] == 0

    wait_for(idle, timeout=30)  # every slot a leaver held came back
    assert server.process.poll() is None
