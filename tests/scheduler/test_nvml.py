"""The NVML reader: lazy, once, and every failure a reason rather than an exception."""

from __future__ import annotations

import sys

from jupyter_ollama.scheduler.nvml import GpuReading, Nvml

from .fake_nvml import FakeGpu, fake_pynvml


def test_two_gpus_one_without_utilization():
    module = fake_pynvml([FakeGpu("NVIDIA H100 80GB HBM3", 80 << 30, 3 << 30, utilization=37),
                          FakeGpu("NVIDIA L4", 24 << 30, 1 << 30, utilization=None)])
    nvml = Nvml(lambda: module)
    assert module.init_calls == 0  # nothing happens until asked
    scan = nvml.scan()
    assert scan.error is None
    assert scan.gpus == [
        GpuReading(0, "NVIDIA H100 80GB HBM3", 80 << 30, 3 << 30, 77 << 30, 37, "GPU-0000"),
        GpuReading(1, "NVIDIA L4", 24 << 30, 1 << 30, 23 << 30, None, "GPU-0001"),
    ]
    nvml.scan()
    assert module.init_calls == 1  # initialized once


def test_init_failure_is_a_reason_and_is_not_retried():
    module = fake_pynvml([], init_error="Driver Not Loaded")
    nvml = Nvml(lambda: module)
    assert nvml.scan().gpus == [] and nvml.scan().error == "no NVIDIA GPU found (NVML: Driver Not Loaded)"
    assert module.init_calls == 1


def test_missing_library_and_unloadable_library():
    def not_installed():  # type: ignore[no-untyped-def]
        raise ImportError("No module named 'pynvml'")

    def broken():  # type: ignore[no-untyped-def]
        raise OSError("libnvidia-ml.so.1: cannot open shared object file")

    assert Nvml(not_installed).scan().error == "no NVIDIA GPU found (nvidia-ml-py unavailable: No module named 'pynvml')"
    assert "cannot open shared object file" in Nvml(broken).scan().error


def test_an_unreadable_gpu_is_left_out():
    nvml = Nvml(lambda: fake_pynvml([FakeGpu("bad", 1, 0, broken=True), FakeGpu("good", 10, 5)]))
    scan = nvml.scan()
    assert [g.name for g in scan.gpus] == ["good"] and scan.gpus[0].index == 1 and scan.error is None
    only_bad = Nvml(lambda: fake_pynvml([FakeGpu("bad", 1, 0, broken=True)])).scan()
    assert only_bad.gpus == [] and only_bad.error == "no NVIDIA GPU found (NVML: GPU 0: Unknown Error)"
    assert Nvml(lambda: fake_pynvml([])).scan().error == "no NVIDIA GPU found (NVML: no devices)"


def test_this_machine_through_real_nvidia_ml_py():
    """The real module: here (no driver) a clean reason; on a GPU machine the GPUs."""
    scan = Nvml().scan()
    if scan.gpus:
        assert scan.error is None and all(g.memory_total > 0 and g.name for g in scan.gpus)
    else:
        assert scan.error and scan.error.startswith("no NVIDIA GPU found")


def test_no_nvml_at_import():
    import subprocess

    code = ("import sys, jupyter_ollama.scheduler.devices, jupyter_ollama.scheduler.system, jupyter_ollama.api.routes;"
            "print('pynvml' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
