"""A fake `pynvml` module: GPUs that answer like NVML does, and fail like it does."""

from __future__ import annotations

import types
from dataclasses import dataclass

import pytest

from jupyter_ollama.scheduler import devices
from jupyter_ollama.scheduler.nvml import Nvml


class FakeNVMLError(Exception):
    """Like pynvml.NVMLError: str() is NVML's reason."""


@dataclass
class FakeGpu:
    name: str
    total: int
    used: int
    utilization: int | None = 40  # None: the query raises NotSupported
    broken: bool = False  # its memory query raises

    @property
    def free(self) -> int:
        return self.total - self.used


def fake_pynvml(gpus: list[FakeGpu], init_error: str | None = None) -> types.ModuleType:
    module = types.ModuleType("pynvml")
    module.NVMLError = FakeNVMLError
    module.init_calls = 0

    def init() -> None:
        module.init_calls += 1
        if init_error:
            raise FakeNVMLError(init_error)

    def memory(index: int) -> types.SimpleNamespace:
        if gpus[index].broken:
            raise FakeNVMLError("Unknown Error")
        return types.SimpleNamespace(total=gpus[index].total, used=gpus[index].used, free=gpus[index].free)

    def utilization(index: int) -> types.SimpleNamespace:
        if gpus[index].utilization is None:
            raise FakeNVMLError("Not Supported")
        return types.SimpleNamespace(gpu=gpus[index].utilization, memory=0)

    module.nvmlInit = init
    module.nvmlDeviceGetCount = lambda: len(gpus)
    module.nvmlDeviceGetHandleByIndex = lambda i: i
    module.nvmlDeviceGetName = lambda i: gpus[i].name.encode()  # older nvidia-ml-py returns bytes
    module.nvmlDeviceGetUUID = lambda i: f"GPU-{i:04d}"
    module.nvmlDeviceGetMemoryInfo = memory
    module.nvmlDeviceGetUtilizationRates = utilization
    return module


def use_fake_nvml(monkeypatch: pytest.MonkeyPatch, gpus: list[FakeGpu], init_error: str | None = None) -> types.ModuleType:
    """Make this process's NVML reader (devices and /api/system) see `gpus`; returns the fake module."""
    module = fake_pynvml(gpus, init_error)
    monkeypatch.setattr(devices, "nvml", Nvml(lambda: module))
    return module
