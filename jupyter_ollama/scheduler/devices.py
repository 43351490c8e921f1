"""Where a model can live: GPUs through NVML when llama.cpp was built to offload, else RAM.

NVML (see `nvml.py`) is initialized lazily on first use, never at import, and every
NVML error means "no usable GPU" rather than a failure: a machine without NVIDIA
drivers is the common case in notebooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import psutil

from .nvml import Nvml


@dataclass(frozen=True)
class Device:
    kind: str  # "gpu" or "cpu"
    index: int
    name: str
    total: int
    free: int

    @property
    def key(self) -> str:
        """How budgets and reports name it: `cpu`, `gpu0`, `gpu1`, ..."""
        return "cpu" if self.kind == "cpu" else f"gpu{self.index}"


# The one NVML reader of this process; tests swap in one over a fake module.
nvml = Nvml()


def gpus() -> list[Device]:
    return [Device("gpu", g.index, g.name, g.memory_total, g.memory_free) for g in nvml.scan().gpus]


def ram() -> Device:
    memory = psutil.virtual_memory()
    return Device("cpu", 0, "RAM", memory.total, memory.available)


@lru_cache(maxsize=1)
def gpu_offload_supported() -> bool:
    """Whether the installed llama.cpp can put layers on a GPU (a CUDA build)."""
    try:
        import llama_cpp

        return bool(llama_cpp.llama_supports_gpu_offload())
    except Exception:  # an unloadable library is reported when a runner starts
        return False


def target_device() -> Device:
    """The device a new model goes to: the GPU with the most free memory, else RAM."""
    candidates = gpus() if gpu_offload_supported() else []
    return max(candidates, key=lambda d: d.free) if candidates else ram()
