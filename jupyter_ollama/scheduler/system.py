"""`GET /api/system`: the server machine's GPUs, RAM and CPU, and the memory each loaded model holds.

The placements are read on the manager's loop (the scheduler is not thread-safe);
NVML, psutil and the llama.cpp build check run in a thread, since a first NVML
init can take a while and the loop must never wait. RAM is read through the
scheduler's device probe, so the figures shown are those its memory budget uses:
inside a memory-limited container, the cgroup's limit (`ram.source` names the file).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypedDict

import psutil

from . import devices
from .build import LlamaBuild, llama_build
from .nvml import GpuScan
from .scheduler import Scheduler

# The reply (ours), as the widgets' GpuMonitor and the JupyterLab sidebar read it. Their one declaration of it
# is labextension/src/wire.ts (SystemInfo and its parts): a field added here goes there too.


class ModelMemory(TypedDict):
    name: str  # as /api/ps names it, e.g. "smollm2:latest"
    size: int  # bytes this model holds on that device


class GpuModelMemory(ModelMemory):
    layers: int  # of its layers, how many are on this GPU
    estimated: int  # bytes placement planned here
    measured: int | None  # bytes NVML saw its load take here; None where not measured


class EvictionInfo(TypedDict):
    model: str
    device: str  # "cpu", "gpu0", ...; "" when OLLAMA_MAX_LOADED_MODELS made room
    reason: str
    at: float  # Unix time


class SystemGpu(TypedDict):
    index: int
    name: str
    memory_total: int
    memory_used: int  # by every process, as NVML reports it
    utilization: int | None  # percent; None where NVML cannot tell
    models: list[GpuModelMemory]


class SystemRam(TypedDict):
    total: int  # the host's RAM, or a container's memory limit where that is less
    used: int  # total - available
    available: int
    models: list[ModelMemory]
    source: str  # "host", or the cgroup file of the limit: "cgroup v2 memory.max", "cgroup v1 memory.limit_in_bytes"


class SystemInfo(TypedDict):
    gpus: list[SystemGpu]
    gpu_error: str | None  # why there are no GPUs; None when some were found
    gpu_offload: bool  # whether this llama.cpp build can put models on a GPU
    llama_build: LlamaBuild  # what was built and why
    ram: SystemRam
    cpu_percent: float
    evictions: list[EvictionInfo]  # the latest models unloaded to make room, newest last


@dataclass(frozen=True)
class GpuPart:
    index: int
    layers: int
    estimated: int
    measured: int | None


@dataclass(frozen=True)
class Placement:
    """Where a loaded model lives and how much it holds there, as /api/ps reports it."""

    name: str
    ram: int  # bytes in system memory
    gpus: tuple[GpuPart, ...] = ()

    def on_gpu(self, index: int) -> GpuPart | None:
        return next((g for g in self.gpus if g.index == index), None)


def placements(scheduler: Scheduler) -> list[Placement]:
    out = [Placement(loaded.model.name.display(), loaded.plan.ram,
                     tuple(GpuPart(g.index, g.layers, g.size, loaded.measured_vram.get(g.index))
                           for g in loaded.plan.gpus))
           for loaded in scheduler.loaded.values()]
    return sorted(out, key=lambda p: p.name)


def snapshot(models: list[Placement], scan: GpuScan, ram_total: int, ram_available: int,
             cpu_percent: float, build: LlamaBuild, evictions: list[EvictionInfo] | None = None,
             ram_source: str = devices.HOST_RAM) -> SystemInfo:
    """The reply, from readings already taken (pure, so tests feed it fake GPUs)."""
    gpus: list[SystemGpu] = []
    for gpu in scan.gpus:
        held: list[GpuModelMemory] = []
        for m in models:
            part = m.on_gpu(gpu.index)
            if part is not None:
                # What it holds counts the larger of the plan and NVML's measure, as the scheduler does.
                held.append({"name": m.name, "size": max(part.estimated, part.measured or 0), "layers": part.layers,
                             "estimated": part.estimated, "measured": part.measured})
        gpus.append({"index": gpu.index, "name": gpu.name, "memory_total": gpu.memory_total,
                     "memory_used": gpu.memory_used, "utilization": gpu.utilization, "models": held})
    in_ram: list[ModelMemory] = [{"name": m.name, "size": m.ram} for m in models if m.ram]
    return {
        "gpus": gpus,
        "gpu_error": None if gpus else scan.error or "no NVIDIA GPU found",
        "gpu_offload": build["gpu_offload"],
        "llama_build": build,
        "ram": {"total": ram_total, "used": ram_total - ram_available, "available": ram_available, "models": in_ram,
                "source": ram_source},
        "cpu_percent": float(cpu_percent),
        "evictions": evictions or [],
    }


def evictions(scheduler: Scheduler) -> list[EvictionInfo]:
    return [{"model": e.model, "device": e.device, "reason": e.reason, "at": e.at} for e in scheduler.evictions]


def read(models: list[Placement], evicted: list[EvictionInfo] | None = None,
         ram_probe: Callable[[], devices.Device] = devices.ram) -> SystemInfo:
    """Take the readings (blocking: NVML, psutil or the cgroup, the llama.cpp build) and shape the reply."""
    ram = ram_probe()
    # interval=None: CPU use since the previous call, without sleeping (0.0 on the very first).
    return snapshot(models, devices.nvml.scan(), ram.total, ram.free,
                    psutil.cpu_percent(interval=None), llama_build(), evicted, ram.source or devices.HOST_RAM)


async def system_info(scheduler: Scheduler) -> SystemInfo:
    probe = scheduler.device_probe
    return await asyncio.to_thread(read, placements(scheduler), evictions(scheduler), lambda: probe().ram)
