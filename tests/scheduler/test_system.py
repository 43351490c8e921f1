"""The /api/system reply from readings: GPUs split by the models they hold, RAM by the CPU models."""

from __future__ import annotations

from jupyter_ollama.scheduler.nvml import GpuReading, GpuScan
from jupyter_ollama.scheduler.system import Placement, snapshot

GIB = 1 << 30


def test_models_split_over_gpus_and_ram():
    scan = GpuScan([GpuReading(0, "NVIDIA H100", 80 * GIB, 10 * GIB, 70 * GIB, 37),
                    GpuReading(1, "NVIDIA L4", 24 * GIB, 2 * GIB, 22 * GIB, None)])
    models = [Placement("big:latest", 8 * GIB, 8 * GIB, 0), Placement("cpu:latest", GIB, 0, None),
              Placement("small:latest", GIB, GIB, 1)]
    info = snapshot(models, scan, 64 * GIB, 40 * GIB, 12.5, True)
    assert info == {
        "gpus": [
            {"index": 0, "name": "NVIDIA H100", "memory_total": 80 * GIB, "memory_used": 10 * GIB, "utilization": 37,
             "models": [{"name": "big:latest", "size": 8 * GIB}]},
            {"index": 1, "name": "NVIDIA L4", "memory_total": 24 * GIB, "memory_used": 2 * GIB, "utilization": None,
             "models": [{"name": "small:latest", "size": GIB}]},
        ],
        "gpu_error": None,
        "gpu_offload": True,
        "ram": {"total": 64 * GIB, "used": 24 * GIB, "available": 40 * GIB, "models": [{"name": "cpu:latest", "size": GIB}]},
        "cpu_percent": 12.5,
    }


def test_no_gpu():
    info = snapshot([Placement("m:latest", 5, 0, None)], GpuScan(error="no NVIDIA GPU found (NVML: Driver Not Loaded)"),
                    100, 60, 0, False)
    assert info["gpus"] == [] and info["gpu_error"] == "no NVIDIA GPU found (NVML: Driver Not Loaded)"
    assert info["ram"]["models"] == [{"name": "m:latest", "size": 5}] and info["ram"]["used"] == 40
