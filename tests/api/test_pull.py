"""POST /api/pull against `jupyter-ollama serve`: a loopback registry and a loopback Hugging Face Hub.

The pulled models are the real SmolLM2 GGUF, so each test ends by running them.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import httpx
import ollama
import pytest

from jupyter_ollama.store.gguf import read_gguf

from ..conftest import start_server
from ..hf_server import Hub
from ..registry_server import Registry, file_digest

MODEL = "application/vnd.ollama.image.model"
SYSTEM = "application/vnd.ollama.image.system"
PARAMS = "application/vnd.ollama.image.params"
PART = 8 * 1024 * 1024
FAST = {"OLLAMA_PULL_PART_SIZE": str(PART), "OLLAMA_PULL_RETRIES": "2", "OLLAMA_PULL_RETRY_DELAY": "0.05"}
PARAMETERS = {"temperature": 0.1, "stop": ["<|im_end|>"]}


@pytest.fixture(scope="module")
def registry(tmp_path_factory, smollm2_gguf):
    reg = Registry(tmp_path_factory.mktemp("registry"))
    layers = [(MODEL, smollm2_gguf), (SYSTEM, b"You are a pirate."), (PARAMS, json.dumps(PARAMETERS).encode())]
    reg.publish("library/smol", "latest", layers, read_gguf(smollm2_gguf, max_array_len=1024).config_blob())
    yield reg
    reg.close()


@pytest.fixture(scope="module")
def puller(tmp_path_factory):
    running = start_server(tmp_path_factory.mktemp("models"), **FAST)
    yield running
    running.stop()


def show(server, name: str) -> dict:
    return httpx.post(server.url + "/api/show", json={"model": name}, timeout=60).json()


def statuses(events) -> list[str]:
    return [e.status if hasattr(e, "status") else e["status"] for e in events]


def test_pull_cdn_token_then_chat(registry, puller, smollm2_gguf):
    registry.cdn, registry.token = True, "t0ken"
    client = ollama.Client(host=puller.url)
    name = f"{registry.host}/library/smol"
    events = list(client.pull(name, insecure=True, stream=True))
    assert statuses(events)[0] == "pulling manifest"
    assert statuses(events)[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    digest = file_digest(smollm2_gguf)
    model_lines = [e for e in events if e.digest == digest]
    assert model_lines[-1].completed == model_lines[-1].total == smollm2_gguf.stat().st_size
    assert all(e.status == f"pulling {digest[7:19]}" for e in model_lines)
    assert registry.token_requests >= 1

    shown = show(puller, name)
    assert shown["system"] == "You are a pirate." and "temperature" in shown["parameters"]
    assert "<|im_start|>" in shown["template"]  # no template layer: the GGUF's own
    reply = client.generate(model=name, prompt="hi", options={"num_predict": 3})
    assert reply.done and reply.eval_count > 0
    chat = client.chat(model=name, messages=[{"role": "user", "content": "hi"}], options={"num_predict": 3})
    assert chat.message.role == "assistant" and chat.done

    again = list(client.pull(name, insecure=True, stream=True))  # everything is there: one line per layer
    assert len([e for e in again if e.digest]) == 4 and all(e.completed == e.total for e in again if e.digest)
    assert client.pull(name, insecure=True, stream=False).status == "success"


def test_pull_errors(registry, puller):
    url = puller.url + "/api/pull"
    unknown = {"model": f"{registry.host}/library/nothing", "insecure": True}
    reply = httpx.post(url, json={**unknown, "stream": False}, timeout=60)
    assert reply.status_code == 404 and reply.json() == {"error": "pull model manifest: file does not exist"}
    lines = [json.loads(x) for x in httpx.post(url, json=unknown, timeout=60).text.splitlines()]
    assert lines == [{"status": "pulling manifest"}, {"error": "pull model manifest: file does not exist"}]
    with pytest.raises(ollama.ResponseError, match="file does not exist"):
        ollama.Client(host=puller.url).pull(unknown["model"], insecure=True)
    assert httpx.post(url, json={"model": "a/b/c/d/e"}).json() == {"error": "invalid model name"}
    assert httpx.post(url, json={"model": "a/b/c/d/e"}).status_code == 400
    assert httpx.post(url).status_code == 400
    refused = httpx.post(url, json={"model": "127.0.0.1:9/library/x", "insecure": True, "stream": False}, timeout=60)
    assert refused.status_code == 502 and refused.json()["error"].startswith('pull model manifest: Get "http://127.0.0.1:9/')
    names = [m["name"] for m in httpx.get(puller.url + "/api/tags").json()["models"]]
    assert not any("nothing" in n or "/x:" in n for n in names)


def test_killed_server_resumes_the_pull(registry, tmp_path, smollm2_gguf):
    registry.cdn, registry.token = False, None
    registry.publish("library/resume", "latest", [(MODEL, smollm2_gguf)])
    digest = file_digest(smollm2_gguf)
    size = smollm2_gguf.stat().st_size
    models = tmp_path / "models"
    first = start_server(models, **FAST)
    registry.source.rate = 40_000_000  # ~2.5 s for the whole blob
    registry.settle()
    before = registry.source.served[digest]
    seen = threading.Event()

    def watch() -> None:
        body = {"model": f"{registry.host}/library/resume", "insecure": True}
        try:
            with httpx.stream("POST", first.url + "/api/pull", json=body, timeout=60) as response:
                for line in response.iter_lines():
                    event = json.loads(line)
                    if event.get("digest") == digest and event["completed"] > size * 0.6:
                        seen.set()
        except httpx.HTTPError:
            pass

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert seen.wait(30)
    first.process.kill()
    first.process.wait()
    watcher.join(10)
    registry.source.rate = None
    registry.settle()
    fetched_first = registry.source.served[digest] - before
    stem = digest.replace(":", "-")
    records = [json.loads(p.read_text()) for p in (models / "blobs").glob(f"{stem}-partial-*")]
    kept = sum(r["Completed"] for r in records)
    assert len(records) == -(-size // PART) and kept > size * 0.25  # records trail by ≤ 0.5 s
    assert not (models / "blobs" / stem).exists()

    second = start_server(models, **FAST)
    try:
        client = ollama.Client(host=second.url)
        assert [m.model for m in client.list().models] == []  # the half-pulled model is not a model
        client.pull(f"{registry.host}/library/resume", insecure=True)
        registry.settle()
        fetched_second = registry.source.served[digest] - before - fetched_first
        assert fetched_second == size - kept  # what the parts had kept was not fetched again
        assert (models / "blobs" / stem).is_file() and not list((models / "blobs").glob(f"{stem}-partial*"))
        assert client.generate(model=f"{registry.host}/library/resume", prompt="hi", options={"num_predict": 3}).done
    finally:
        second.stop()


def test_client_going_away_cancels_the_download(registry, puller, smollm2_gguf):
    registry.cdn, registry.token = False, None
    registry.publish("library/gone", "latest", [(MODEL, smollm2_gguf)])
    digest, size = file_digest(smollm2_gguf), smollm2_gguf.stat().st_size
    ollama.Client(host=puller.url).delete(f"{registry.host}/library/smol")  # the blob must be fetched again
    registry.source.rate = 20_000_000
    body = {"model": f"{registry.host}/library/gone", "insecure": True}
    with httpx.stream("POST", puller.url + "/api/pull", json=body, timeout=60) as response:
        for line in response.iter_lines():
            if json.loads(line).get("completed", 0) > size * 0.1:
                break  # hang up mid-download
    registry.source.rate = None
    registry.settle()  # unthrottled, an uncancelled download would now finish
    stem = digest.replace(":", "-")
    assert not (puller.models_dir / "blobs" / stem).exists()  # the server stopped downloading
    kept = sum(json.loads(p.read_text())["Completed"] for p in (puller.models_dir / "blobs").glob(f"{stem}-partial-*"))
    assert 0 < kept < size
    assert f"{registry.host}/library/gone:latest" not in [m["name"] for m in httpx.get(puller.url + "/api/tags").json()["models"]]
    before = registry.source.served[digest]
    ollama.Client(host=puller.url).pull(f"{registry.host}/library/gone", insecure=True)
    registry.settle()
    assert registry.source.served[digest] - before == size - kept  # the next pull went on from the parts


# -- Hugging Face -----------------------------------------------------------------

HF_REPO = "tester/SmolLM2-GGUF"


@pytest.fixture(scope="module")
def hub(tmp_path_factory, smollm2_gguf):
    running = Hub(tmp_path_factory.mktemp("hub"))
    running.add_repo(
        HF_REPO,
        {
            "README.md": b"# SmolLM2 GGUF\n",
            "SmolLM2-135M-Instruct-Q4_K_M.gguf": smollm2_gguf,
            "SmolLM2-135M-Instruct-Q8_0-00001-of-00002.gguf": b"GGUF part one",
            "SmolLM2-135M-Instruct-Q8_0-00002-of-00002.gguf": b"GGUF part two",
            "system": b"You are a pirate.",
            "params": json.dumps(PARAMETERS).encode(),
        },
    )
    yield running
    running.close()


def hf_env(hub: Hub, home: Path, **extra: str) -> dict[str, str]:
    return {"HF_ENDPOINT": hub.url, "HF_HOME": str(home), "HF_HUB_DISABLE_TELEMETRY": "1", **extra}


@pytest.fixture(scope="module")
def hf_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hf-home")


@pytest.fixture(scope="module")
def hf_puller(tmp_path_factory, hub, hf_home):
    running = start_server(tmp_path_factory.mktemp("models"), **hf_env(hub, hf_home))
    yield running
    running.stop()


def test_hf_pull_then_chat(hub, hf_puller, smollm2_gguf):
    client = ollama.Client(host=hf_puller.url)
    events = list(client.pull(f"hf.co/{HF_REPO}", stream=True))
    assert statuses(events)[0] == "pulling manifest"
    assert statuses(events)[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    digest = file_digest(smollm2_gguf)
    assert any(e.digest == digest and e.completed == e.total == smollm2_gguf.stat().st_size for e in events)
    assert hub.served(digest[7:]) == smollm2_gguf.stat().st_size

    name = f"hf.co/{HF_REPO}:latest"
    assert name in [m.model for m in client.list().models]
    shown = show(hf_puller, name)
    assert shown["system"] == "You are a pirate." and "temperature" in shown["parameters"]
    assert "<|im_start|>" in shown["template"] and shown["details"]["quantization_level"] == "Q4_1"
    chat = client.chat(model=name, messages=[{"role": "user", "content": "hi"}], options={"num_predict": 3})
    assert chat.done and chat.message.content is not None

    # Another tag naming the same file (case-insensitive) reuses the blob: nothing is downloaded.
    client.pull(f"huggingface.co/{HF_REPO}:q4_k_m")
    assert hub.served(digest[7:]) == smollm2_gguf.stat().st_size


def test_hf_errors(hf_puller):
    client = ollama.Client(host=hf_puller.url)
    with pytest.raises(ollama.ResponseError, match=r"^pull model manifest: file does not exist \(status code: 500\)"):
        client.pull("hf.co/tester/no-such-repo")
    with pytest.raises(ollama.ResponseError, match=r"split GGUF \(2 parts\)"):
        client.pull(f"hf.co/{HF_REPO}:Q8_0")
    with pytest.raises(ollama.ResponseError, match='no GGUF file for "Q2_K".*available: Q4_K_M'):
        client.pull(f"hf.co/{HF_REPO}:Q2_K")
    assert not any(x in m.model for m in client.list().models for x in ("no-such", "Q8_0", "Q2_K"))


def test_hf_digest_mismatch(hub, hf_puller):
    content = b"GGUF not what the Hub says"
    hub.add_repo("tester/corrupt", {"model-Q4_K_M.gguf": content})
    real = hashlib.sha256(content).hexdigest()
    hub.advertised[real] = "0" * 64
    client = ollama.Client(host=hf_puller.url)
    with pytest.raises(ollama.ResponseError, match=f"digest mismatch, file must be downloaded again: want sha256:{'0' * 64}, got sha256:{real}"):
        client.pull("hf.co/tester/corrupt")
    assert not any("corrupt" in m.model for m in client.list().models)
    assert not (hf_puller.models_dir / "blobs" / f"sha256-{real}").exists()


def test_hf_cache_is_reused_and_offline_works(hub, hf_home, hf_puller, tmp_path, smollm2_gguf):
    digest = file_digest(smollm2_gguf)[7:]
    list(ollama.Client(host=hf_puller.url).pull(f"hf.co/{HF_REPO}", stream=True))  # the cache is filled
    served, calls = hub.served(digest), sum(hub.calls.values())

    fresh = start_server(tmp_path / "fresh", **hf_env(hub, hf_home))  # a new models dir, the same HF cache
    try:
        ollama.Client(host=fresh.url).pull(f"hf.co/{HF_REPO}")
        assert hub.served(digest) == served  # the file came from the HF cache
    finally:
        fresh.stop()
    calls = sum(hub.calls.values())

    offline = start_server(tmp_path / "offline", **hf_env(hub, hf_home, HF_HUB_OFFLINE="1"))
    try:
        client = ollama.Client(host=offline.url)
        client.pull(f"hf.co/{HF_REPO}")
        assert sum(hub.calls.values()) == calls  # not one request to the Hub
        assert client.generate(model=f"hf.co/{HF_REPO}", prompt="hi", options={"num_predict": 3}).done
        with pytest.raises(ollama.ResponseError, match="not in the Hugging Face cache"):
            client.pull("hf.co/tester/never-downloaded")
    finally:
        offline.stop()


def test_no_network_is_one_line_with_what_to_do(client, tmp_path):
    before = client.list().models
    with pytest.raises(ollama.ResponseError) as info:
        client.pull("nonexistent.invalid/library/tiny", insecure=True)
    message = info.value.error
    assert "lookup nonexistent.invalid: no such host" in message and "no network?" in message
    assert "HF_ENDPOINT" in message and "FROM ./model.gguf" in message and "Errno" not in message
    assert client.list().models == before

    offline = start_server(tmp_path / "models", HF_ENDPOINT="http://nonexistent.invalid")
    try:
        with pytest.raises(ollama.ResponseError) as info:
            ollama.Client(host=offline.url).pull("hf.co/someone/some-model-GGUF")
        assert "cannot reach http://nonexistent.invalid" in info.value.error and "no network?" in info.value.error
    finally:
        offline.stop()


def test_hf_repo_with_a_projector_pulls_a_model_that_reads_images(hub, hf_puller, smollm2_gguf, tmp_path):
    """As hf.co's registry serves a vision repo: the model and its `mmproj` file (F16 where there are several)."""
    from tests.projector import png, write_projector

    f16, q8 = (write_projector(tmp_path / f"{name}.gguf", text_width=576, seed=seed)
               for name, seed in (("f16", 1), ("q8", 2)))
    hub.add_repo("tester/SmolVLM-GGUF", {"SmolVLM-Q4_K_M.gguf": smollm2_gguf, "mmproj-SmolVLM-Q8_0.gguf": q8,
                                         "mmproj-SmolVLM-F16.gguf": f16})
    client = ollama.Client(host=hf_puller.url)
    events = list(client.pull("hf.co/tester/SmolVLM-GGUF", stream=True))
    assert any(e.digest == file_digest(f16) for e in events) and not any(e.digest == file_digest(q8) for e in events)
    shown = show(hf_puller, "hf.co/tester/SmolVLM-GGUF")
    assert "vision" in shown["capabilities"] and shown["projector_info"]["clip.vision.projection_dim"] == 576
    seen = client.chat(model="hf.co/tester/SmolVLM-GGUF", options={"num_predict": 3},
                       messages=[{"role": "user", "content": "What is this?", "images": [png(16, 16, (9, 9, 9))]}])
    assert seen.done and seen.prompt_eval_count > 4
    client.generate(model="hf.co/tester/SmolVLM-GGUF", keep_alive=0)
