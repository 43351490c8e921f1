"""The prompt cache through a real `serve`: a document read once is restored after an unload and after a server restart,
and the answer is the same; /api/show, /api/ps and /metrics say what it holds; a damaged file is removed, never served."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from jupyter_ollama.runner import cachefiles

from ..conftest import RunningServer, serving, start_server, wait_for

SETTINGS = {"OLLAMA_NUM_PARALLEL": "1", "OLLAMA_CONTEXT_LENGTH": "1024"}
# About 300 tokens: more than the 256 a prompt needs to be saved.
DOCUMENT = " ".join(f"Shelf {i} holds {['maps', 'jars', 'books', 'shells'][i % 4]} from {1900 + 7 * i}." for i in range(30))


def chat(server: RunningServer, **extra: Any) -> dict[str, Any]:
    body = {"model": "smollm2", "stream": False, "options": {"temperature": 0, "num_predict": 16},
            "messages": [{"role": "user", "content": f"{DOCUMENT}\nWhat does shelf 5 hold?"}], **extra}
    reply = httpx.post(server.url + "/api/chat", json=body, timeout=300)
    assert reply.status_code == 200, reply.text
    return reply.json()


def unload(server: RunningServer) -> None:
    httpx.post(server.url + "/api/chat", json={"model": "smollm2", "messages": [], "keep_alive": 0}, timeout=60)
    wait_for(lambda: not httpx.get(server.url + "/api/ps").json()["models"])


def metric(server: RunningServer, name: str, **labels: str) -> float:
    text = httpx.get(server.url + "/metrics").text
    wanted = {"model": "smollm2:latest", **labels}
    return next(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
                if sample.name == name and sample.labels == wanted)


def entry_files(models: Path) -> list[Path]:
    return [path for path, _, _ in cachefiles.files(models / "cache")]


def test_a_document_read_once_is_restored_after_an_unload_and_a_restart(tmp_path, smollm2_gguf):
    models = tmp_path / "models"
    server = serving(models, smollm2_gguf, **SETTINGS)
    try:
        capacity = httpx.post(server.url + "/api/show", json={"model": "smollm2"}).json()["capacity"]
        assert 0 < capacity["prompt_cache"]["ram"] == capacity["memory"]["prompt_cache"] <= capacity["memory"]["kv_cache"]
        assert capacity["prompt_cache"]["disk"] == 10 << 30

        first = chat(server)
        assert "prompt_restored_count" not in first and first["prompt_eval_count"] > 256
        entry = httpx.get(server.url + "/api/ps").json()["models"][0]
        cache = entry["prompt_cache"]
        assert cache["ram_entries"] == 1 and 0 < cache["ram_bytes"] <= cache["ram_budget"] == entry["memory"]["prompt_cache"]
        assert wait_for(lambda: len(entry_files(models)) == 1)  # written to disk by the runner's writer

        unload(server)
        again = chat(server)
        assert again["prompt_restored_count"] == again["prompt_eval_count"] - 1  # all but the last token
        assert again["message"]["content"] == first["message"]["content"]
        assert metric(server, "ollama_prompt_cache_hits_total", tier="disk") == 1
        assert metric(server, "ollama_prompt_cache_misses_total") == 1
        assert metric(server, "ollama_prompt_cache_tokens_restored_total") == again["prompt_restored_count"]
        assert metric(server, "ollama_prompt_cache_bytes", tier="ram") <= metric(
            server, "ollama_prompt_cache_budget_bytes", tier="ram")
    finally:
        server.stop()

    server = start_server(models, **SETTINGS)  # the same store, a new server
    try:
        restarted = chat(server)
        assert restarted["prompt_restored_count"] == restarted["prompt_eval_count"] - 1
        assert restarted["message"]["content"] == first["message"]["content"]

        unload(server)
        [path] = entry_files(models)
        data = bytearray(path.read_bytes())
        data[len(data) // 3] ^= 0x04  # one bit of the KV cache changed on disk
        path.write_bytes(bytes(data))
        damaged = chat(server)
        assert "prompt_restored_count" not in damaged  # computed again, not restored
        assert damaged["message"]["content"] == first["message"]["content"]
        assert metric(server, "ollama_prompt_cache_misses_total") == 1
        unload(server)  # the runner writes what it saved before it exits
        assert [p.name for p in entry_files(models)] == [path.name] and path.read_bytes() != bytes(data)
    finally:
        server.stop()
