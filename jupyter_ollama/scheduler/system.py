"""`GET /api/system`: the server machine's GPUs, RAM and CPU, and the memory each loaded model holds.

The placements are read on the manager's loop (the scheduler is not thread-safe);
NVML, psutil and the llama.cpp build check run in a thread, since a first NVML
init can take a while and the loop must never wait.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TypedDict

import psutil

from . import devices
from .nvml import GpuScan
from .scheduler import Scheduler

# The reply (ours), as the widgets' GpuMonitor and the JupyterLab sidebar read it.


class ModelMemory(TypedDict):
    name: str  # as /api/ps names it, e.g. "smollm2:latest"
    size: int  # bytes this model holds on that device


class SystemGpu(TypedDict):
    index: int
    name: str
    memory_total: int
    memory_used: int  # by every process, as NVML reports it
    utilization: int | None  # percent; None where NVML cannot tell
    models: list[ModelMemory]


class SystemRam(TypedDict):
    total: int
    used: int  # total - available
    available: int
    models: list[ModelMemory]


class SystemInfo(TypedDict):
    gpus: list[SystemGpu]
    gpu_error: str | None  # why there are no GPUs; None when some were found
    gpu_offload: bool  # whether this llama.cpp build can put models on a GPU
    ram: SystemRam
    cpu_percent: float


@dataclass(frozen=True)
class Placement:
    """Where a loaded model lives and how much it holds there, as /api/ps reports it."""

    name: str
    size: int  # all of it
    size_vram: int  # the part on `gpu`
    gpu: int | None  # the GPU index, None on the CPU


def placements(scheduler: Scheduler) -> list[Placement]:
    out = [Placement(loaded.model.name.display(), loaded.memory.total, loaded.size_vram,
                     loaded.device.index if loaded.device.kind == "gpu" else None)
           for loaded in scheduler.loaded.values()]
    return sorted(out, key=lambda p: p.name)


def snapshot(models: list[Placement], scan: GpuScan, ram_total: int, ram_available: int,
             cpu_percent: float, gpu_offload: bool) -> SystemInfo:
    """The reply, from readings already taken (pure, so tests feed it fake GPUs)."""
    gpus: list[SystemGpu] = []
    for gpu in scan.gpus:
        held: list[ModelMemory] = [{"name": m.name, "size": m.size_vram} for m in models
                                   if m.gpu == gpu.index and m.size_vram]
        gpus.append({"index": gpu.index, "name": gpu.name, "memory_total": gpu.memory_total,
                     "memory_used": gpu.memory_used, "utilization": gpu.utilization, "models": held})
    in_ram: list[ModelMemory] = [{"name": m.name, "size": m.size - m.size_vram} for m in models if m.size > m.size_vram]
    return {
        "gpus": gpus,
        "gpu_error": None if gpus else scan.error or "no NVIDIA GPU found",
        "gpu_offload": gpu_offload,
        "ram": {"total": ram_total, "used": ram_total - ram_available, "available": ram_available, "models": in_ram},
        "cpu_percent": float(cpu_percent),
    }


def read(models: list[Placement]) -> SystemInfo:
    """Take the readings (blocking: NVML, psutil) and shape the reply."""
    ram = devices.ram()
    # interval=None: CPU use since the previous call, without sleeping (0.0 on the very first).
    return snapshot(models, devices.nvml.scan(), ram.total, ram.free,
                    psutil.cpu_percent(interval=None), devices.gpu_offload_supported())


async def system_info(scheduler: Scheduler) -> SystemInfo:
    return await asyncio.to_thread(read, placements(scheduler))
