"""Device discovery: NVML through an injected fake (no GPU here), RAM through psutil."""

from __future__ import annotations

import pytest

from jupyter_ollama.scheduler import devices

from .fake_nvml import FakeGpu, use_fake_nvml


@pytest.fixture(autouse=True)
def fresh_offload_check():
    devices.gpu_offload_supported.cache_clear()


def test_gpus_through_nvml(monkeypatch):
    use_fake_nvml(monkeypatch, [FakeGpu("NVIDIA H100", 80 << 30, 10 << 30), FakeGpu("NVIDIA L4", 24 << 30, 4 << 30)])
    found = devices.gpus()
    assert [(d.name, d.total, d.free) for d in found] == [("NVIDIA H100", 80 << 30, 70 << 30), ("NVIDIA L4", 24 << 30, 20 << 30)]
    monkeypatch.setattr(devices, "gpu_offload_supported", lambda: True)
    assert devices.target_device().name == "NVIDIA H100"


def test_no_driver_means_no_gpu(monkeypatch):
    use_fake_nvml(monkeypatch, [], init_error="NVML Shared Library Not Found")
    assert devices.gpus() == []
    assert devices.target_device().kind == "cpu"


def test_cpu_build_uses_ram_even_with_a_gpu(monkeypatch):
    use_fake_nvml(monkeypatch, [FakeGpu("NVIDIA H100", 80 << 30, 10 << 30)])
    monkeypatch.setattr(devices, "gpu_offload_supported", lambda: False)
    device = devices.target_device()
    assert device.kind == "cpu" and device.total > 0 and 0 < device.free <= device.total


def test_this_machine_has_ram():
    ram = devices.ram()
    assert ram.kind == "cpu" and ram.total > 1 << 30
