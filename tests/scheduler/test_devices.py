"""Device discovery: NVML through an injected fake (no GPU here), RAM through psutil."""

from __future__ import annotations

import sys
import types

import pytest

from jupyter_ollama.scheduler import devices


class FakeNVMLError(Exception):
    pass


def fake_pynvml(gpus: list[tuple[str, int, int]] | None, fail_init: bool = False) -> types.ModuleType:
    module = types.ModuleType("pynvml")
    module.NVMLError = FakeNVMLError

    def init() -> None:
        if fail_init:
            raise FakeNVMLError("NVML Shared Library Not Found")

    module.nvmlInit = init
    module.nvmlDeviceGetCount = lambda: len(gpus or [])
    module.nvmlDeviceGetHandleByIndex = lambda i: i
    module.nvmlDeviceGetName = lambda h: gpus[h][0].encode()
    module.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(total=gpus[h][1], free=gpus[h][2])
    return module


@pytest.fixture(autouse=True)
def fresh_nvml(monkeypatch):
    monkeypatch.setattr(devices, "_nvml_ready", None)
    devices.gpu_offload_supported.cache_clear()


def test_gpus_through_nvml(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([("NVIDIA H100", 80 << 30, 70 << 30), ("NVIDIA L4", 24 << 30, 20 << 30)]))
    found = devices.gpus()
    assert [(d.name, d.total, d.free) for d in found] == [("NVIDIA H100", 80 << 30, 70 << 30), ("NVIDIA L4", 24 << 30, 20 << 30)]
    monkeypatch.setattr(devices, "gpu_offload_supported", lambda: True)
    assert devices.target_device().name == "NVIDIA H100"


def test_no_driver_means_no_gpu(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(None, fail_init=True))
    assert devices.gpus() == []
    assert devices.target_device().kind == "cpu"


def test_cpu_build_uses_ram_even_with_a_gpu(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([("NVIDIA H100", 80 << 30, 70 << 30)]))
    monkeypatch.setattr(devices, "gpu_offload_supported", lambda: False)
    device = devices.target_device()
    assert device.kind == "cpu" and device.total > 0 and 0 < device.free <= device.total


def test_this_machine_has_ram():
    ram = devices.ram()
    assert ram.kind == "cpu" and ram.total > 1 << 30
