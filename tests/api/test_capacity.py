"""Predictable capacity: fixed slots, and what /api/ps, /health and /metrics say while they fill."""

from __future__ import annotations

import threading

import httpx
import ollama
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ..conftest import serving, wait_for


def metrics(server) -> dict[tuple[str, tuple], float]:
    text = httpx.get(server.url + "/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture(scope="module")
def three_slots(client, smollm2) -> str:
    client.create(model="three", from_=smollm2, parameters={"num_parallel": 3, "num_ctx": 1024})
    return "three"


def test_show_tells_the_cost_before_loading(server, three_slots):
    shown = httpx.post(server.url + "/api/show", json={"model": three_slots}).json()
    capacity = shown["capacity"]
    assert capacity["num_parallel"] == 3 and capacity["num_ctx"] == 1024
    one = httpx.post(server.url + "/api/show", json={"model": three_slots, "options": {"num_parallel": 1}}).json()["capacity"]
    assert capacity["memory"]["kv_cache"] == 3 * one["memory"]["kv_cache"]  # every slot counted
    assert capacity["memory"]["total"] > capacity["memory"]["weights"] > 90_000_000


def test_five_requests_on_three_slots(server, three_slots):
    client = ollama.Client(host=server.url)
    client.generate(model=three_slots, prompt="")  # loaded first, so we watch slots, not the load
    done: list[str] = []

    def request() -> None:
        reply = client.generate(model=three_slots, prompt="Write a long story about the sea.", options={"num_predict": 250})
        done.append(reply.done_reason)

    threads = [threading.Thread(target=request) for _ in range(5)]
    for thread in threads:
        thread.start()

    def ps_full():
        entries = httpx.get(server.url + "/api/ps").json()["models"]
        entry = next((m for m in entries if m["model"] == "three:latest"), None)
        return entry if entry and entry["slots_busy"] == 3 and entry["requests_queued"] == 2 else None

    entry = wait_for(ps_full)
    assert entry["slots_total"] == 3 and entry["context_length"] == 1024 and entry["device"] == "cpu"
    assert len(entry["slots"]) == 3 and all(s["n_ctx"] == 1024 for s in entry["slots"])
    assert entry["memory"]["kv_cache"] > 0

    health = httpx.get(server.url + "/health").json()
    model = next(m for m in health["models"] if m["model"] == "three:latest")
    assert (model["slots_busy"], model["requests_queued"]) == (3, 2)
    assert httpx.get(server.url + "/health?fail_on_no_slot").status_code in (200, 503)

    values = metrics(server)
    assert values[("llamacpp:requests_processing", (("model", "three:latest"),))] == 3
    assert values[("llamacpp:requests_deferred", (("model", "three:latest"),))] == 2

    for thread in threads:
        thread.join(timeout=300)
    assert len(done) == 5
    after = httpx.get(server.url + "/api/ps").json()["models"]
    entry = next(m for m in after if m["model"] == "three:latest")
    assert entry["slots_busy"] == 0 and entry["requests_queued"] == 0
    assert entry["tokens_per_second"] > 0
    values = metrics(server)
    assert values[("llamacpp:tokens_predicted_total", (("model", "three:latest"),))] >= 5
    assert values[("ollama_request_duration_seconds_count", (("model", "three:latest"),))] >= 5


def test_fail_on_no_slot(server, three_slots):
    client = ollama.Client(host=server.url)
    for loaded in client.ps().models:  # the check counts every loaded model's slots: only this one's here
        client.generate(model=loaded.model, prompt="", keep_alive=0)
    client.generate(model=three_slots, prompt="")
    assert httpx.get(server.url + "/health?fail_on_no_slot").status_code == 200
    # Counting on from a raw prompt never ends early (a story may): all three slots stay busy for 300 tokens.
    story = lambda: client.generate(model=three_slots, prompt="1, 2, 3,", raw=True, options={"num_predict": 300, "temperature": 0})  # noqa: E731
    threads = [threading.Thread(target=story) for _ in range(3)]
    for thread in threads:
        thread.start()
    wait_for(lambda: httpx.get(server.url + "/health?fail_on_no_slot").status_code == 503)
    for thread in threads:
        thread.join(timeout=300)


def test_metrics_parse_cleanly(server, smollm2):
    families = {f.name: f.type for f in text_string_to_metric_families(httpx.get(server.url + "/metrics").text)}
    assert families["llamacpp:prompt_tokens"] == "counter"  # the parser drops the _total suffix
    assert families["ollama_request_duration_seconds"] == "histogram"
    assert families["ollama_queue_capacity"] == "gauge"


def test_memory_budget(tmp_path, smollm2_gguf):
    probe = serving(tmp_path / "probe", smollm2_gguf, name="a")
    show = httpx.post(probe.url + "/api/show", json={"model": "a", "options": {"num_parallel": 1, "num_ctx": 512}})
    need = show.json()["capacity"]["memory"]["total"]
    probe.stop()

    # Room for one model at these settings, not two.
    running = serving(tmp_path / "budget", smollm2_gguf, name="a", OLLAMA_MEMORY_BUDGET=str(int(need * 1.5)),
                      OLLAMA_NUM_PARALLEL="1", OLLAMA_CONTEXT_LENGTH="512")
    try:
        client = ollama.Client(host=running.url)
        client.copy("a", "b")
        client.generate(model="a", prompt="hi", options={"num_predict": 2})
        client.generate(model="b", prompt="hi", options={"num_predict": 2})  # a is idle: evicted for b
        assert [m.model for m in client.ps().models] == ["b:latest"]
        assert metrics(running)[("ollama_model_evictions_total", (("model", "a:latest"),))] == 1
        with pytest.raises(ollama.ResponseError) as err:
            client.generate(model="a", prompt="hi", options={"num_ctx": 8192, "num_parallel": 4})
        assert err.value.status_code == 400 and "memory budget" in err.value.error
        assert [m.model for m in client.ps().models] == ["b:latest"]  # the refusal evicted nothing
    finally:
        running.stop()
