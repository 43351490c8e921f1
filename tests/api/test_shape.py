"""Options never thrash a loaded model (issue 26): through a real server, SmolLM2 and the official client.

Ten requests alternating options load the model at most twice (once, then grown to the largest context
asked), and a client asking for a larger context while another streams neither stalls nor cuts that stream.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import ollama
import pytest

from ..conftest import RunningServer, serving, wait_for
from .test_capacity import metrics

MODEL = "smollm2:latest"
ALTERNATING: list[dict[str, Any]] = [
    {"num_ctx": 2048}, {"num_ctx": 8192}, {"num_ctx": 4096}, {"num_batch": 256}, {"use_mlock": True},
    {"num_thread": 1}, {}, {}, {}, {},
]


@pytest.fixture(scope="module")
def running(tmp_path_factory, smollm2_gguf):
    server = serving(tmp_path_factory.mktemp("shape"), smollm2_gguf, OLLAMA_NUM_PARALLEL="2")
    yield server
    server.stop()


def loads(server: RunningServer) -> tuple[float, float]:
    """The model's loads and its reloads for a larger context, from /metrics."""
    values = metrics(server)
    return (values[("ollama_model_loads_total", (("model", MODEL),))],
            values[("ollama_model_reloads_total", (("model", MODEL), ("reason", "num_ctx")))])


def ps_entry(server: RunningServer) -> dict[str, Any]:
    [entry] = httpx.get(server.url + "/api/ps").json()["models"]
    return entry


def test_alternating_options_reload_at_most_once(running):
    client = ollama.Client(host=running.url)
    for options in ALTERNATING:
        reply = client.generate(model="smollm2", prompt="Hi", options={**options, "num_predict": 2})
        assert reply.done and reply.eval_count == 2
    assert loads(running) == (2, 1)  # loaded at 2048, grown once to the largest asked, never shrunk
    entry = ps_entry(running)
    assert entry["context_length"] == 8192 and all(s["n_ctx"] == 8192 for s in entry["slots"])
    assert entry["last_reload"]["reason"] == "num_ctx 8192 > 2048 loaded, model idle"
    assert entry["last_reload"]["kind"] == "num_ctx" and entry["last_reload"]["at"]
    # /api/show says what a load would take, and what is loaded now.
    shown = httpx.post(running.url + "/api/show", json={"model": "smollm2", "options": {"num_ctx": 2048}}).json()
    assert shown["capacity"]["num_ctx"] == 2048 and shown["capacity"]["loaded"]["num_ctx"] == 8192


def test_a_larger_context_asked_during_a_stream_neither_stalls_nor_cuts_it(running):
    first = ollama.Client(host=running.url, headers={"Authorization": "Bearer first-client"})
    second = ollama.Client(host=running.url, headers={"Authorization": "Bearer second-client"})
    first.generate(model="smollm2", keep_alive=0)  # loaded afresh, at the default context
    first.generate(model="smollm2", prompt="")
    assert ps_entry(running)["context_length"] == 4096
    before = loads(running)
    streamed: list[Any] = []
    started = threading.Event()

    def stream() -> None:
        # Counting on from a raw prompt never ends early: the stream runs its 200 tokens.
        for part in first.generate(model="smollm2", prompt="1, 2, 3,", raw=True, stream=True,
                                   options={"num_predict": 200, "temperature": 0}):
            streamed.append(part)
            started.set()

    thread = threading.Thread(target=stream)
    thread.start()
    assert started.wait(120)
    reply = second.generate(model="smollm2", prompt="Hi", options={"num_ctx": 8192, "num_predict": 2})
    assert reply.done and reply.eval_count == 2
    assert not streamed[-1].done  # served beside the stream, at the loaded size
    assert ps_entry(running)["context_length"] == 4096 and loads(running) == before
    thread.join(timeout=300)
    assert streamed[-1].done and streamed[-1].done_reason == "length" and streamed[-1].eval_count == 200
    assert loads(running) == before  # nothing was loaded again under the stream
    wait_for(lambda: ps_entry(running)["slots_busy"] == 0)
