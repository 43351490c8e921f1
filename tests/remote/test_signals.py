"""Each engine's own capacity signal, read from what it really prints."""

from __future__ import annotations

from jupyter_ollama.remote.signals import Capacity, from_health, from_metrics, from_slots

VLLM = """# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 3.0
vllm:num_requests_running{engine="1",model_name="meta-llama/Llama-3.1-8B-Instruct"} 2.0
vllm:num_requests_waiting{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 4.0
vllm:gpu_cache_usage_perc{engine="0"} 0.5
"""


def test_vllm_metrics_sum_running_and_waiting_over_engines() -> None:
    assert from_metrics(VLLM) == Capacity("metrics", 5, 4)
    assert from_metrics("llamacpp:requests_processing 1\nllamacpp:requests_deferred 0\n") == Capacity("metrics", 1, 0)
    assert from_metrics("# nothing we know\nfoo 1\n") is None


def test_llama_server_slots_and_jupyter_ollama_health() -> None:
    slots = [{"id": 0, "is_processing": True}, {"id": 1, "is_processing": False}]
    assert from_slots(slots) == Capacity("slots", 1, 0, 2)
    assert from_slots({"error": "disabled"}) is None
    health = {"models": [{"model": "llama3:latest", "slots_total": 4, "slots_busy": 3, "requests_queued": 2}]}
    assert from_health(health, "llama3") == Capacity("health", 3, 2, 4)
    assert from_health(health, "other") == Capacity("health", 0, 0)  # up; that model loads at its first request
    assert from_health({"status": "ok"}, "llama3") is None  # not jupyter-ollama's /health
