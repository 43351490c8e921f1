"""GET /api/system on this machine (no NVIDIA GPU): a clean reason, RAM, and the loaded model's share."""

from __future__ import annotations

import httpx

from ..conftest import wait_for


def ram_models(server) -> list[str]:  # type: ignore[no-untyped-def]
    return [m["name"] for m in httpx.get(server.url + "/api/system", timeout=30).json()["ram"]["models"]]


def test_no_gpu_here_and_the_loaded_model_in_ram(server, client, smollm2):
    client.generate(model=smollm2, prompt="hi", options={"num_predict": 1}, keep_alive="5m")
    info = httpx.get(server.url + "/api/system", timeout=30).json()
    assert set(info) == {"gpus", "gpu_error", "gpu_offload", "llama_build", "ram", "cpu_percent", "evictions"}
    assert info["gpus"] == [] and info["gpu_error"].startswith("no NVIDIA GPU found (")
    assert info["gpu_offload"] is False  # the CPU build of llama.cpp
    assert info["llama_build"]["backends"] == ["CPU"] and info["llama_build"]["gpu_offload"] is False
    ram = info["ram"]
    assert ram["total"] > 1 << 30 and 0 < ram["available"] <= ram["total"] and ram["used"] == ram["total"] - ram["available"]
    ps = {m["name"]: m for m in httpx.get(server.url + "/api/ps", timeout=30).json()["models"]}
    assert {"name": smollm2, "size": ps[smollm2]["size"]} in ram["models"]
    assert ps[smollm2]["size"] > 50 << 20  # the weights, KV and compute estimate of a 135M model
    assert isinstance(info["cpu_percent"], float) and 0 <= info["cpu_percent"] <= 100


def test_unloaded_model_leaves_ram(server, client, smollm2):
    client.generate(model=smollm2, prompt="hi", options={"num_predict": 1})
    assert smollm2 in ram_models(server)
    client.generate(model=smollm2, keep_alive=0)  # unload now
    wait_for(lambda: smollm2 not in ram_models(server))
    assert httpx.post(server.url + "/api/system", timeout=30).status_code == 405
