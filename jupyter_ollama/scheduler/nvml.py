"""NVIDIA GPUs through NVML (nvidia-ml-py), behind one small interface that tests replace.

NVML is loaded and initialized on the first scan, never at import. Every failure
(`ImportError`, `OSError`, any `pynvml.NVMLError`) means "no usable GPU" with a
reason, never an exception: most notebook machines have no NVIDIA driver. A query a
GPU does not support (utilization on some boards) leaves that one field empty.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class GpuReading:
    index: int
    name: str
    memory_total: int
    memory_used: int
    memory_free: int
    utilization: int | None  # percent busy over NVML's last sample; None when unsupported
    uuid: str = ""  # "GPU-...": how CUDA_VISIBLE_DEVICES names it whatever the device order; "" if unknown


@dataclass(frozen=True)
class GpuScan:
    gpus: list[GpuReading] = field(default_factory=list)
    error: str | None = None  # why `gpus` is empty


def _import_pynvml() -> ModuleType:
    import pynvml

    return pynvml


class Nvml:
    """GPU readings from a pynvml-like module; `load` returns the module (a fake one in tests)."""

    def __init__(self, load: Callable[[], ModuleType] = _import_pynvml) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._module: Any = None
        self._failure: str | None = None  # set once init failed: NVML is not tried again

    def _ready(self) -> tuple[Any, str | None]:
        with self._lock:
            if self._module is None and self._failure is None:
                try:
                    module = self._load()
                except (ImportError, OSError) as err:
                    self._failure = f"no NVIDIA GPU found (nvidia-ml-py unavailable: {err})"
                else:
                    try:
                        module.nvmlInit()
                        self._module = module
                    except (OSError, module.NVMLError) as err:
                        self._failure = f"no NVIDIA GPU found (NVML: {err})"
            return self._module, self._failure

    def scan(self) -> GpuScan:
        nvml, failure = self._ready()
        if nvml is None:
            return GpuScan(error=failure)
        errors = (OSError, nvml.NVMLError)
        try:
            count = nvml.nvmlDeviceGetCount()
        except errors as err:
            return GpuScan(error=f"no NVIDIA GPU found (NVML: {err})")
        found, problems = [], []
        for index in range(count):
            try:
                handle = nvml.nvmlDeviceGetHandleByIndex(index)
                memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            except errors as err:  # a GPU we cannot read is left out, with the reason kept
                problems.append(f"GPU {index}: {err}")
                continue
            found.append(GpuReading(index, _name(nvml, handle, index), int(memory.total), int(memory.used),
                                    int(memory.free), _utilization(nvml, handle), _uuid(nvml, handle)))
        if not found:
            reason = "; ".join(problems) if problems else "no devices"
            return GpuScan(error=f"no NVIDIA GPU found (NVML: {reason})")
        return GpuScan(found)


def _name(nvml: Any, handle: Any, index: int) -> str:
    try:
        name = nvml.nvmlDeviceGetName(handle)
    except (OSError, nvml.NVMLError):
        return f"GPU {index}"
    return name.decode(errors="replace") if isinstance(name, bytes) else str(name)


def _uuid(nvml: Any, handle: Any) -> str:
    try:
        uuid = nvml.nvmlDeviceGetUUID(handle)
    except (OSError, AttributeError, nvml.NVMLError):  # AttributeError: a pynvml-like module without it
        return ""
    return uuid.decode(errors="replace") if isinstance(uuid, bytes) else str(uuid)


def _utilization(nvml: Any, handle: Any) -> int | None:
    try:
        return int(nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
    except (OSError, nvml.NVMLError):  # NotSupported on some boards and in some containers
        return None
