"""Where a model can live: GPUs through NVML when llama.cpp was built to offload, else RAM.

NVML is initialized lazily on first use, never at import, and every NVML error
means "no usable GPU" rather than a failure: a machine without NVIDIA drivers is
the common case in notebooks.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import psutil


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


_nvml_lock = threading.Lock()
_nvml_ready: bool | None = None


def _nvml():
    """The pynvml module, initialized once; None when there is no usable NVIDIA driver."""
    global _nvml_ready
    with _nvml_lock:
        try:
            import pynvml
        except ImportError:
            return None
        if _nvml_ready is None:
            try:
                pynvml.nvmlInit()
                _nvml_ready = True
            except pynvml.NVMLError:
                _nvml_ready = False
        return pynvml if _nvml_ready else None


def gpus() -> list[Device]:
    nvml = _nvml()
    if nvml is None:
        return []
    found = []
    try:
        for i in range(nvml.nvmlDeviceGetCount()):
            handle = nvml.nvmlDeviceGetHandleByIndex(i)
            info = nvml.nvmlDeviceGetMemoryInfo(handle)
            name = nvml.nvmlDeviceGetName(handle)
            found.append(Device("gpu", i, name.decode() if isinstance(name, bytes) else name, info.total, info.free))
    except nvml.NVMLError:
        return []
    return found


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
