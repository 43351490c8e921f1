"""Device discovery: NVML through an injected fake (no GPU here), RAM through psutil, CUDA_VISIBLE_DEVICES."""

from __future__ import annotations

import pytest

from jupyter_ollama.scheduler import devices
from jupyter_ollama.scheduler.nvml import GpuReading

from .fake_nvml import FakeGpu, use_fake_nvml


@pytest.fixture(autouse=True)
def fresh_offload_check():
    devices.gpu_offload_supported.cache_clear()


def test_gpus_through_nvml(monkeypatch):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    use_fake_nvml(monkeypatch, [FakeGpu("NVIDIA H100", 80 << 30, 10 << 30), FakeGpu("NVIDIA L4", 24 << 30, 4 << 30)])
    found = devices.gpus()
    assert [(d.name, d.total, d.free) for d in found] == [("NVIDIA H100", 80 << 30, 70 << 30), ("NVIDIA L4", 24 << 30, 20 << 30)]
    assert [d.id for d in found] == ["GPU-0000", "GPU-0001"]  # the runner names them to CUDA by UUID
    monkeypatch.setattr(devices, "gpu_offload_supported", lambda: True)
    machine = devices.probe()
    assert [g.key for g in machine.gpus] == ["gpu0", "gpu1"] and machine.no_gpu == "" and machine.ram.kind == "cpu"


def test_no_driver_means_no_gpu(monkeypatch):
    use_fake_nvml(monkeypatch, [], init_error="NVML Shared Library Not Found")
    monkeypatch.setattr(devices, "gpu_offload_supported", lambda: True)
    assert devices.gpus() == []
    machine = devices.probe()
    assert machine.gpus == [] and machine.no_gpu == "no NVIDIA GPU found (NVML: NVML Shared Library Not Found)"
    assert devices.gpu_memory_used() == {}


def test_cpu_build_uses_ram_even_with_a_gpu(monkeypatch):
    use_fake_nvml(monkeypatch, [FakeGpu("NVIDIA H100", 80 << 30, 10 << 30)])
    monkeypatch.setattr(devices, "gpu_offload_supported", lambda: False)
    machine = devices.probe()
    assert machine.gpus == [] and machine.no_gpu == "llama.cpp was built for the CPU"
    assert machine.ram.total > 0 and 0 < machine.ram.free <= machine.ram.total


def test_cuda_visible_devices_hides_gpus(monkeypatch):
    use_fake_nvml(monkeypatch, [FakeGpu(f"GPU {i}", 24 << 30, 0) for i in range(3)])
    monkeypatch.setattr(devices, "gpu_offload_supported", lambda: True)
    for value, expected in (("2,0", [2, 0]), ("GPU-0001", [1]), ("1,-1,2", [1]), ("0,7,1", [0]), ("", [])):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", value)
        assert [g.index for g in devices.gpus()] == expected, value
    assert devices.probe().no_gpu == "CUDA_VISIBLE_DEVICES hides every GPU"


def test_visible_matches_indices_and_uuid_prefixes():
    readings = [GpuReading(i, "g", 1, 0, 1, None, f"GPU-{i}abc") for i in range(2)]
    assert devices.visible(readings, None) == readings
    assert devices.visible(readings, ["GPU-1a", "0"]) == [readings[1], readings[0]]
    assert devices.visible(readings, ["0", "0"]) == [readings[0]]


def test_load_growth_as_nvml_sees_it(monkeypatch):
    gpus = [FakeGpu("NVIDIA L4", 24 << 30, 1 << 30), FakeGpu("NVIDIA L4", 24 << 30, 2 << 30)]
    use_fake_nvml(monkeypatch, gpus)
    before = devices.gpu_memory_used()
    gpus[0].used += 700 << 20  # a runner loads on GPU 0
    assert devices.gpu_memory_growth(before) == {0: 700 << 20, 1: 0}


def test_this_machine_has_ram():
    ram = devices.ram()
    assert ram.kind == "cpu" and ram.total > 1 << 30
