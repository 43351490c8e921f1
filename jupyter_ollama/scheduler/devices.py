"""Where a model can live: GPUs through NVML when llama.cpp was built to offload, else RAM.

NVML (see `nvml.py`) is initialized lazily on first use, never at import, and every
NVML error means "no usable GPU" rather than a failure: a machine without NVIDIA
drivers is the common case in notebooks. RAM is the host's (psutil), or less inside
a memory-limited container: the cgroup's limit and what is left under it (`cgroup.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import psutil

from .. import envconfig
from .cgroup import memory_limit
from .nvml import GpuReading, GpuScan, Nvml

HOST_RAM = "host"  # the source of a RAM reading that no cgroup limits


@dataclass(frozen=True)
class Device:
    kind: str  # "gpu" or "cpu"
    index: int
    name: str
    total: int
    free: int
    id: str = ""  # a GPU's name for CUDA_VISIBLE_DEVICES (its UUID, else its index)
    source: str = ""  # RAM: where the figures come from, "host" or the cgroup file that limits them

    @property
    def key(self) -> str:
        """How budgets and reports name it: `cpu`, `gpu0`, `gpu1`, ..."""
        return "cpu" if self.kind == "cpu" else f"gpu{self.index}"


@dataclass(frozen=True)
class Machine:
    """What a model can be placed on now: the GPUs llama.cpp can use, and RAM."""

    gpus: list[Device]
    ram: Device
    no_gpu: str = ""  # why `gpus` is empty


# The one NVML reader of this process; tests swap in one over a fake module.
nvml = Nvml()


def visible(readings: list[GpuReading], ids: list[str] | None) -> list[GpuReading]:
    """The GPUs CUDA_VISIBLE_DEVICES lets CUDA see (indices or `GPU-` UUID prefixes), in its order."""
    if ids is None:
        return readings
    chosen: list[GpuReading] = []
    for wanted in ids:
        match = next((r for r in readings if wanted == str(r.index) or (wanted.startswith(("GPU-", "MIG-"))
                                                                        and r.uuid.startswith(wanted))), None)
        if match is None:
            break  # CUDA stops at the first entry it cannot use
        if match not in chosen:
            chosen.append(match)
    return chosen


def gpus(scan: GpuScan | None = None) -> list[Device]:
    """The GPUs CUDA will show a runner, from a scan (a fresh one by default)."""
    readings = visible((scan or nvml.scan()).gpus, envconfig.cuda_visible_devices())
    return [Device("gpu", g.index, g.name, g.memory_total, g.memory_free, g.uuid or str(g.index)) for g in readings]


def ram(root: Path = Path("/")) -> Device:
    """The host's RAM, or a container's share of it: total = min(host, limit), free = min(host available, left under the limit).

    `root` is where /proc and /sys are read (tests pass a fake tree)."""
    memory = psutil.virtual_memory()
    limit = memory_limit(root)
    if limit is None or limit.limit >= memory.total:
        return Device("cpu", 0, "RAM", memory.total, memory.available, source=HOST_RAM)
    return Device("cpu", 0, "RAM", limit.limit, min(memory.available, limit.available), source=limit.source)


@lru_cache(maxsize=1)
def gpu_offload_supported() -> bool:
    """Whether the installed llama.cpp can put layers on a GPU (a CUDA build)."""
    try:
        import llama_cpp

        return bool(llama_cpp.llama_supports_gpu_offload())
    except Exception:  # an unloadable library is reported when a runner starts
        return False


def probe(root: Path = Path("/")) -> Machine:
    """The devices a new model may go to, and why there is no GPU among them when there is none (`root`: see `ram`)."""
    if not gpu_offload_supported():
        return Machine([], ram(root), "llama.cpp was built for the CPU")
    scan = nvml.scan()
    found = gpus(scan)
    if not found:
        why = "CUDA_VISIBLE_DEVICES hides every GPU" if scan.gpus else scan.error or "no NVIDIA GPU found"
        return Machine([], ram(root), why)
    return Machine(found, ram(root))


def gpu_memory_used() -> dict[int, int]:
    """Bytes in use on each GPU now, by every process (NVML's numbering); {} without NVML."""
    return {g.index: g.memory_used for g in nvml.scan().gpus}


def gpu_memory_growth(before: dict[int, int]) -> dict[int, int]:
    """How much more each GPU uses now than `before`: what a load just took, as NVML sees it.

    Loads happen one at a time, so on a GPU no other program is using the growth is the runner's.
    """
    now = gpu_memory_used()
    return {index: max(0, now[index] - used) for index, used in before.items() if index in now}
