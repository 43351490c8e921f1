"""The /api/system reply from readings: GPUs split by the models they hold, RAM by what stays on the CPU."""

from __future__ import annotations

from jupyter_ollama.scheduler.build import LlamaBuild, parse_system_info
from jupyter_ollama.scheduler.nvml import GpuReading, GpuScan
from jupyter_ollama.scheduler.system import GpuPart, Placement, snapshot
from jupyter_ollama.views import llama_build_line, system_text

GIB = 1 << 30
CUDA_BUILD: LlamaBuild = {
    "backends": ["CUDA", "CPU"],
    "gpu_offload": True,
    "cuda_architectures": "900",
    "reason": "nvidia-smi found compute capability 9.0 and nvcc",
    "cmake_args": "-DGGML_CUDA=on",
}
CPU_BUILD: LlamaBuild = {"backends": ["CPU"], "gpu_offload": False, "cuda_architectures": "", "reason": "", "cmake_args": ""}


def test_models_split_over_gpus_and_ram():
    scan = GpuScan([GpuReading(0, "NVIDIA H100", 80 * GIB, 10 * GIB, 70 * GIB, 37), GpuReading(1, "NVIDIA L4", 24 * GIB, 2 * GIB, 22 * GIB, None)])
    models = [
        Placement("big:latest", 0, (GpuPart(0, 20, 5 * GIB, 6 * GIB), GpuPart(1, 13, 3 * GIB, None))),  # spread
        Placement("cpu:latest", GIB),
        Placement("half:latest", GIB, (GpuPart(0, 10, GIB, None),)),  # a partial offload: on gpu0 and in RAM
    ]
    info = snapshot(models, scan, 64 * GIB, 40 * GIB, 12.5, CUDA_BUILD)
    assert info == {
        "gpus": [
            {
                "index": 0,
                "name": "NVIDIA H100",
                "memory_total": 80 * GIB,
                "memory_used": 10 * GIB,
                "utilization": 37,
                "models": [
                    # NVML measured more than planned: the measure counts.
                    {"name": "big:latest", "size": 6 * GIB, "layers": 20, "estimated": 5 * GIB, "measured": 6 * GIB},
                    {"name": "half:latest", "size": GIB, "layers": 10, "estimated": GIB, "measured": None},
                ],
            },
            {
                "index": 1,
                "name": "NVIDIA L4",
                "memory_total": 24 * GIB,
                "memory_used": 2 * GIB,
                "utilization": None,
                "models": [{"name": "big:latest", "size": 3 * GIB, "layers": 13, "estimated": 3 * GIB, "measured": None}],
            },
        ],
        "gpu_error": None,
        "gpu_offload": True,
        "llama_build": CUDA_BUILD,
        "ram": {
            "total": 64 * GIB,
            "used": 24 * GIB,
            "available": 40 * GIB,
            "models": [{"name": "cpu:latest", "size": GIB}, {"name": "half:latest", "size": GIB}],
            "source": "host",
        },
        "cpu_percent": 12.5,
        "evictions": [],
    }


def test_no_gpu():
    info = snapshot([Placement("m:latest", 5)], GpuScan(error="no NVIDIA GPU found (NVML: Driver Not Loaded)"), 100, 60, 0, CPU_BUILD)
    assert info["gpus"] == [] and info["gpu_error"] == "no NVIDIA GPU found (NVML: Driver Not Loaded)"
    assert info["ram"]["models"] == [{"name": "m:latest", "size": 5}] and info["ram"]["used"] == 40
    assert info["gpu_offload"] is False


def test_the_build_is_read_from_llama_cpps_system_info():
    cuda = "CUDA : ARCHS = 900 | USE_GRAPHS = 1 | PEER_MAX_BATCH_SIZE = 128 | CPU : SSE3 = 1 | AVX2 = 1 | F16C = 1 | OPENMP = 1 | REPACK = 1 | "
    assert parse_system_info(cuda) == {
        "CUDA": {"ARCHS": "900", "USE_GRAPHS": "1", "PEER_MAX_BATCH_SIZE": "128"},
        "CPU": {"SSE3": "1", "AVX2": "1", "F16C": "1", "OPENMP": "1", "REPACK": "1"},
    }
    assert llama_build_line(dict(CUDA_BUILD)) == (
        "llama.cpp: CUDA (architectures 900) + CPU: GPU offload. Why: nvidia-smi found compute capability 9.0 and nvcc."
    )
    assert llama_build_line(dict(CPU_BUILD)) == "llama.cpp: CPU: CPU only."


def test_the_system_command_shows_the_build_and_each_model_on_each_device():
    scan = GpuScan([GpuReading(0, "NVIDIA H200", 140 * GIB, 10 * GIB, 130 * GIB, 5)])
    models = [Placement("half:latest", GIB, (GpuPart(0, 10, GIB, 2 * GIB),))]
    evicted = [{"model": "old:latest", "device": "gpu0", "reason": "half:latest needs GPU memory for 31/31 layers", "at": 0.0}]
    info = snapshot(models, scan, 64 * GIB, 40 * GIB, 12.5, CUDA_BUILD, evicted)  # type: ignore[arg-type]
    assert system_text(dict(info)).splitlines() == [
        "llama.cpp: CUDA (architectures 900) + CPU: GPU offload. Why: nvidia-smi found compute capability 9.0 and nvcc.",
        "GPU 0 NVIDIA H200: 10 GB / 150 GB used, 5% busy",
        "  half:latest: 10 layers, 1.1 GB estimated, NVML measured 2.1 GB",
        "RAM: 25 GB / 68 GB used",
        "  half:latest: 1.1 GB",
        "evicted old:latest from gpu0: half:latest needs GPU memory for 31/31 layers",
    ]
    no_gpu = snapshot([], GpuScan(error="no NVIDIA GPU found"), 100, 60, 0, CPU_BUILD)
    assert system_text(dict(no_gpu)).splitlines()[:2] == ["llama.cpp: CPU: CPU only.", "GPU: no NVIDIA GPU found"]
    limited = snapshot([], GpuScan(error="no NVIDIA GPU found"), 4 * GIB, 3 * GIB, 0, CPU_BUILD, ram_source="cgroup v2 memory.max")
    assert system_text(dict(limited)).splitlines()[2] == "RAM: 1.1 GB / 4.3 GB used (container limit, cgroup v2 memory.max)"
