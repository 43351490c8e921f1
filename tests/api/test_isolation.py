"""Faults stay inside a runner: crashes, hang-ups, a full queue, a model that cannot fit, server death."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal

import httpx
import ollama
import psutil
import pytest

from ..conftest import serving, wait_for


@pytest.fixture(scope="module")
def small_server(tmp_path_factory, smollm2_gguf):
    """A server with 4 slots and a queue of 6, holding smollm2."""
    running = serving(tmp_path_factory.mktemp("isolated"), smollm2_gguf, OLLAMA_NUM_PARALLEL="4", OLLAMA_MAX_QUEUE="6")
    yield running
    running.stop()


def runner_pids(server) -> list[int]:
    me = psutil.Process(server.process.pid)
    return [p.pid for p in me.children(recursive=True) if "jupyter_ollama.runner" in " ".join(p.cmdline())]


def any_alive(pids: list[int]) -> bool:
    return any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)


def test_sixteen_streams_on_four_slots(server, client, smollm2):
    """The session server has the default 4 slots: 16 streams at once all complete."""

    def stream(i: int) -> str:
        parts = client.generate(model="smollm2", prompt=f"Count from {i} to {i + 5}.", stream=True, options={"temperature": 0, "num_predict": 24})
        chunks = list(parts)
        assert chunks[-1].done
        return "".join(c.response for c in chunks)

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        replies = list(pool.map(stream, range(16)))
    assert len(replies) == 16 and all(replies)


def test_full_queue_answers_503(small_server):
    body = {"model": "smollm2", "prompt": "Write a long story.", "options": {"num_predict": 200}, "stream": False}
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(lambda _: httpx.post(small_server.url + "/api/generate", json=body, timeout=300), range(16)))
    busy = [r for r in responses if r.status_code == 503]
    assert busy, [r.status_code for r in responses]
    assert busy[0].json() == {"error": "server busy, please try again.  maximum pending requests exceeded"}
    assert all(r.status_code in (200, 503) for r in responses)


def test_killed_runner_ends_the_stream_with_an_error_and_reloads(small_server):
    body = {"model": "smollm2", "prompt": "Write a very long story.", "options": {"num_predict": 1000}}
    lines = []
    with httpx.stream("POST", small_server.url + "/api/generate", json=body, timeout=60) as response:
        for line in response.iter_lines():
            lines.append(json.loads(line))
            if len(lines) == 3:
                for pid in runner_pids(small_server):
                    os.kill(pid, signal.SIGKILL)
    assert response.status_code == 200
    assert "error" in lines[-1] and "runner" in lines[-1]["error"]
    reply = ollama.Client(host=small_server.url).generate(model="smollm2", prompt="Hi", options={"num_predict": 3})
    assert reply.done  # the model was loaded again
    assert small_server.process.poll() is None  # the server never went down


def test_model_that_can_never_fit_is_refused(small_server):
    body = {"model": "smollm2", "prompt": "hi", "options": {"num_parallel": 512, "num_ctx": 8192}}
    response = httpx.post(small_server.url + "/api/generate", json=body, timeout=60)
    assert response.status_code == 400
    assert response.json()["error"].startswith("model requires more system memory")


def test_runners_exit_when_the_server_dies(tmp_path, smollm2_gguf):
    running = serving(tmp_path, smollm2_gguf)
    ollama.Client(host=running.url).generate(model="smollm2", prompt="")
    pids = runner_pids(running)
    assert pids
    running.process.kill()  # no chance to clean up
    running.process.wait()
    wait_for(lambda: not any_alive(pids), timeout=30)


def test_stopping_the_server_stops_runners(tmp_path, smollm2_gguf):
    running = serving(tmp_path, smollm2_gguf)
    ollama.Client(host=running.url).generate(model="smollm2", prompt="")
    pids = runner_pids(running)
    assert running.stop() == 0
    assert not any_alive(pids)
