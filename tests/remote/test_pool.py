"""A remote model served by a pool of two real llama.cpp servers (OpenAI's API), through the official clients."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import ollama
import openai
import pytest

from tests.conftest import RunningServer, start_server, wait_for
from tests.remote.engines import LlamaServer, start_llama_server

pytestmark = pytest.mark.timeout(240)
SHORT = {"num_predict": 8, "temperature": 0}


@pytest.fixture(scope="module")
def engines(smollm2_gguf: Path) -> Iterator[list[LlamaServer]]:
    started = [start_llama_server(smollm2_gguf, slots=4) for _ in range(2)]
    yield started
    for engine in started:
        engine.stop()


@pytest.fixture(scope="module")
def serve(tmp_path_factory: pytest.TempPathFactory, engines: list[LlamaServer]) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("models"), OLLAMA_REMOTES="127.0.0.1",
                           OLLAMA_REMOTE_CHECK_INTERVAL="0.3", POOL_TEST_ENGINE_KEY="s3cret")
    yield running
    running.stop()


def create(url: str, name: str, hosts: object) -> httpx.Response:
    return httpx.post(url + "/api/create", json={"model": name, "from": "smollm2", "remote_host": hosts, "stream": False},
                      timeout=30)


@pytest.fixture(scope="module")
def pool(serve: RunningServer, engines: list[LlamaServer]) -> str:
    assert create(serve.url, "pool", [e.url for e in engines]).status_code == 200
    return "pool"


def stream_lines(url: str, body: dict) -> list[dict]:
    with httpx.stream("POST", url + "/api/chat", json=body, timeout=60) as response:
        assert response.status_code == 200, response.read()
        import json
        return [json.loads(line) for line in response.iter_lines() if line]


def test_ollama_client_chats_and_streams(serve: RunningServer, pool: str, engines: list[LlamaServer]) -> None:
    client = ollama.Client(host=serve.url)
    reply = client.chat(model=pool, messages=[{"role": "user", "content": "Say hello"}], options=SHORT)
    assert reply.message.content and reply.done_reason == "length" and reply.eval_count == 8
    parts = list(client.chat(model=pool, messages=[{"role": "user", "content": "Count to ten"}], options=SHORT, stream=True))
    assert len(parts) > 2 and parts[-1].done and "".join(p.message.content for p in parts)
    generated = client.generate(model=pool, prompt="Why is the sky blue?", options=SHORT)
    assert generated.response and generated.prompt_eval_count > 0
    # Each chunk says which model on which engine answered (Ollama's remote_model / remote_host).
    lines = stream_lines(serve.url, {"model": pool, "messages": [{"role": "user", "content": "Hi"}], "options": SHORT})
    assert {line["remote_model"] for line in lines} == {"smollm2"}
    assert {line["remote_host"] for line in lines} <= {e.url for e in engines}
    listed = {m.model: m for m in client.list().models}
    assert "pool:latest" in listed
    shown = client.show(pool)
    assert "FROM smollm2" in shown.modelfile and all(f"REMOTE {e.url}" in shown.modelfile for e in engines)


def test_openai_client_chats_and_streams(serve: RunningServer, pool: str) -> None:
    with openai.OpenAI(base_url=serve.url + "/v1", api_key="unused") as client:
        openai_chats(client, pool)


def openai_chats(client: openai.OpenAI, pool: str) -> None:
    reply = client.chat.completions.create(model=pool, messages=[{"role": "user", "content": "Say hello"}],
                                           max_tokens=8, temperature=0)
    assert reply.choices[0].message.content and reply.usage is not None and reply.usage.completion_tokens == 8
    chunks = list(client.chat.completions.create(model=pool, messages=[{"role": "user", "content": "Count"}],
                                                 max_tokens=8, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    json_reply = client.chat.completions.create(
        model=pool, messages=[{"role": "user", "content": "Give a JSON object with a name"}], max_tokens=80,
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {
            "type": "object", "properties": {"name": {"type": "string", "maxLength": 12}}, "required": ["name"]}}})
    import json
    assert "name" in json.loads(json_reply.choices[0].message.content or "{}")  # the engine's grammar held


def test_eight_concurrent_requests_use_both_engines(serve: RunningServer, pool: str, engines: list[LlamaServer]) -> None:
    body = {"model": pool, "messages": [{"role": "user", "content": "Tell a story"}], "options": {"num_predict": 24}}
    with ThreadPoolExecutor(8) as workers:
        results = list(workers.map(lambda _: stream_lines(serve.url, body), range(8)))
    hosts = [lines[0]["remote_host"] for lines in results]
    assert all(lines[-1]["done"] for lines in results)
    assert sorted(hosts.count(e.url) for e in engines) == [4, 4]  # least loaded first: four on each
    ps = httpx.get(serve.url + "/api/ps").json()
    entry = next(m for m in ps["models"] if m["name"] == "pool:latest")
    assert entry["device"] == "remote" and entry["remote"]["slots_total"] == 8  # llama-server's /slots: 4 each
    assert all(e["state"] == "up" and e["api"] == "openai" and e["signal"] == "slots" for e in entry["remote"]["engines"])


def test_requests_never_fail_on_a_connection_the_engine_closed(serve: RunningServer, engines: list[LlamaServer]) -> None:
    """llama-server closes a kept-alive connection after a streamed reply: the next request, sent on it
    within a millisecond (streams that end together, their clients asking again at once), is sent again
    on a fresh connection, not counted a failure of the engine nor retried elsewhere."""
    assert create(serve.url, "single", [engines[0].url]).status_code == 200
    client = ollama.Client(host=serve.url)

    def ask(worker: int) -> None:
        for i in range(8):
            parts = list(client.chat(model="single", messages=[{"role": "user", "content": f"Hi {worker} {i}"}],
                                     options={"num_predict": 2, "temperature": 0}, stream=True))
            assert parts[-1].done

    with ThreadPoolExecutor(4) as workers:
        list(workers.map(ask, range(4)))
    entry = next(m for m in httpx.get(serve.url + "/api/ps").json()["models"] if m["name"] == "single:latest")
    assert entry["remote"]["retries_total"] == 0
    assert [(e["state"], e["failures_total"]) for e in entry["remote"]["engines"]] == [("up", 0)]


def test_an_engine_killed_between_and_during_requests(serve: RunningServer, smollm2_gguf: Path) -> None:
    """Its own two engines, so that killing one leaves the shared pool alone."""
    first, second = (start_llama_server(smollm2_gguf, slots=2) for _ in range(2))
    try:
        assert create(serve.url, "fragile", [first.url, second.url]).status_code == 200
        client = ollama.Client(host=serve.url)
        client.chat(model="fragile", messages=[{"role": "user", "content": "Hi"}], options=SHORT)
        # Mid-stream: the engine answering is killed after its first tokens; the client gets one error line.
        body = {"model": "fragile", "messages": [{"role": "user", "content": "Write a long story"}],
                "options": {"num_predict": 400}}
        lines: list[str] = []
        killed = threading.Event()
        with httpx.stream("POST", serve.url + "/api/chat", json=body, timeout=60) as response:
            for line in response.iter_lines():
                lines.append(line)
                if len(lines) == 3:
                    import json
                    host = json.loads(line)["remote_host"]
                    victim, survivor = (first, second) if host == first.url else (second, first)
                    victim.kill()
                    killed.set()
        assert killed.is_set()
        assert '"error"' in lines[-1] and "engine" in lines[-1] and '"done": true' not in "".join(lines)
        # Between requests: every request now succeeds on the engine left.
        for _ in range(4):
            lines_ok = stream_lines(serve.url, {"model": "fragile", "messages": [{"role": "user", "content": "Hi"}],
                                                "options": SHORT})
            assert lines_ok[-1]["done"] and lines_ok[0]["remote_host"] == survivor.url

        def engine_states(path: str) -> dict[str, str]:
            body = httpx.get(serve.url + path).json()
            entry = next(m for m in body["models"] if m["model"] in ("fragile:latest", "fragile"))
            return {e["host"]: e["state"] for e in entry["remote"]["engines"]}

        assert engine_states("/api/ps") == {victim.url: "down", survivor.url: "up"}
        assert engine_states("/health") == {victim.url: "down", survivor.url: "up"}
        metrics = httpx.get(serve.url + "/metrics").text
        assert f'ollama_remote_engine_up{{host="{victim.url}",model="fragile:latest"}} 0.0' in metrics
        # Both down: a clear 502 before any streaming, never a 500.
        survivor.kill()
        failed = httpx.post(serve.url + "/api/chat", json={"model": "fragile", "messages": [{"role": "user", "content": "Hi"}]})
        assert failed.status_code == 502 and "no engine of remote model 'smollm2'" in failed.json()["error"]
        # The engine comes back on its port: the background check finds it, and requests flow again.
        back = start_llama_server(smollm2_gguf, slots=2, port=victim.port)
        try:
            wait_for(lambda: engine_states("/api/ps")[victim.url] == "up", timeout=30)
            assert client.chat(model="fragile", messages=[{"role": "user", "content": "Hi"}], options=SHORT).done
        finally:
            back.stop()
    finally:
        first.kill()
        second.kill()


def test_hosts_outside_the_allowlist_are_refused(serve: RunningServer) -> None:
    refused = create(serve.url, "elsewhere", "http://10.20.30.40:8000")
    assert refused.status_code == 400
    assert "this server cannot run this remote model" in refused.json()["error"] and "OLLAMA_REMOTES" in refused.json()["error"]
    assert create(serve.url, "bad", [{"host": "http://127.0.0.1:1", "api": "grpc"}]).status_code == 400
    assert create(serve.url, "bad", "ftp://127.0.0.1:1").status_code == 400
    mixed = httpx.post(serve.url + "/api/create", json={"model": "bad", "from": "x", "remote_host": "127.0.0.1",
                                                        "files": {"a.gguf": "sha256:" + "0" * 64}})
    assert mixed.status_code == 400
    assert httpx.post(serve.url + "/api/show", json={"model": "elsewhere"}).status_code == 404  # nothing was kept


def test_refusals_by_the_engine_keep_their_status(serve: RunningServer, pool: str) -> None:
    """An engine's 400 (bad input) reaches the client as a 400 in Ollama's shape, and no engine is marked down."""
    reply = httpx.post(serve.url + "/api/chat", json={"model": pool, "messages": [{"role": "user", "content": "Hi"}],
                                                      "format": {"type": "object", "properties": {"a": {"type": 12}}}})
    assert reply.status_code == 400 and "JSON schema error" in reply.json()["error"]  # llama-server's own words
    refused = httpx.post(serve.url + "/v1/chat/completions", json={
        "model": pool, "messages": [{"role": "user", "content": "Hi"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "foo"}}}})
    assert refused.status_code == 400 and "unrecognized type foo" in refused.json()["error"]["message"]  # OpenAI's shape
    ps = httpx.get(serve.url + "/api/ps").json()
    entry = next(m for m in ps["models"] if m["name"] == "pool:latest")
    assert all(e["state"] == "up" for e in entry["remote"]["engines"])


def test_an_engine_with_an_api_key_and_metrics(serve: RunningServer, smollm2_gguf: Path) -> None:
    """vLLM-style: the key comes from an environment variable of the server (never stored); capacity from /metrics."""
    locked = start_llama_server(smollm2_gguf, 2, None, "--api-key", "s3cret", "--metrics", "--no-slots")
    try:
        spec = {"host": locked.url, "api": "openai", "api_key_env": "POOL_TEST_ENGINE_KEY"}
        assert create(serve.url, "locked", [spec]).status_code == 200
        reply = ollama.Client(host=serve.url).chat(model="locked", messages=[{"role": "user", "content": "Hi"}], options=SHORT)
        assert reply.message.content
        entry = next(m for m in httpx.get(serve.url + "/api/ps").json()["models"] if m["name"] == "locked:latest")
        engine = entry["remote"]["engines"][0]
        assert engine["signal"] == "metrics" and engine["state"] == "up" and engine["slots_total"] is None
        assert "s3cret" not in httpx.post(serve.url + "/api/show", json={"model": "locked"}).text
        # The key's variable not set on this server: the engine's 401, named in a 502.
        assert create(serve.url, "unlocked", [{**spec, "api_key_env": "NOT_SET_ANYWHERE"}]).status_code == 200
        refused = httpx.post(serve.url + "/api/chat", json={"model": "unlocked", "messages": [{"role": "user", "content": "Hi"}]})
        assert refused.status_code == 502 and "answered 401" in refused.json()["error"]
    finally:
        locked.stop()


def test_images_reach_an_openai_engine_that_reads_them(serve: RunningServer, gemma_gguf: Path, projector_gguf: Path) -> None:
    """Images in Ollama's shape go to llama-server as OpenAI `image_url` parts, which its own libmtmd reads."""
    from tests.projector import png

    seeing = start_llama_server(gemma_gguf, 1, None, "--mmproj", str(projector_gguf))
    try:
        created = httpx.post(serve.url + "/api/create", timeout=30, json={
            "model": "far-gemma", "from": "gemma", "remote_host": [{"host": seeing.url, "api": "openai"}], "stream": False})
        assert created.status_code == 200, created.text
        client = ollama.Client(host=serve.url)
        ask = "Describe the picture."
        plain = client.chat(model="far-gemma", messages=[{"role": "user", "content": ask}], options=SHORT)
        red, blue = ([{"role": "user", "content": ask, "images": [png(24, 24, rgb)]}] for rgb in ((220, 20, 20), (20, 20, 220)))
        seen = client.chat(model="far-gemma", messages=red, options=SHORT, logprobs=True)
        assert seen.prompt_eval_count > plain.prompt_eval_count  # the image's embeddings were read too
        other = client.chat(model="far-gemma", messages=blue, options=SHORT, logprobs=True)
        assert seen.logprobs and other.logprobs and not seen.logprobs[0].top_logprobs  # none asked for, none given
        assert seen.logprobs[0].logprob != other.logprobs[0].logprob or seen.logprobs[0].token != other.logprobs[0].token
    finally:
        seeing.stop()
