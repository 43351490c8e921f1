"""A scheduler on made-up runners and devices (fake_runner.py), for policy tests that run in milliseconds."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from jupyter_ollama.digests import sha256_file
from jupyter_ollama.scheduler.cpus import CpuBudget
from jupyter_ollama.scheduler.devices import Device, Machine
from jupyter_ollama.scheduler.scheduler import Scheduler, SchedulerSettings
from jupyter_ollama.scheduler.turns import ANONYMOUS, Requester
from jupyter_ollama.store.create import ModelCreator
from jupyter_ollama.store.store import ModelStore

from .fake_runner import FakeRunner

GIB = 1 << 30
NAMES = ("a", "b", "c")
TWO_CORES = CpuBudget(allowed=2, physical=2, quota=None)


def make_store(folder: Path, gguf: Path) -> ModelStore:
    """A store with SmolLM2 as the models `a`, `b` and `c`."""
    models = ModelStore(folder)
    digest = sha256_file(gguf)
    try:
        os.link(gguf, models.blobs.path(digest))
    except OSError:
        shutil.copyfile(gguf, models.blobs.path(digest))
    ModelCreator(models, progress=lambda event: None).create({"model": "a", "files": {"m.gguf": digest}})
    for name in NAMES[1:]:
        models.copy("a", name)
    return models


def run(store: ModelStore, scenario: Callable[[Scheduler], Awaitable[None]], free: int = 64 * GIB,
        cpu: CpuBudget = TWO_CORES, gpus: list[Device] | None = None, **overrides: Any) -> None:
    FakeRunner.started = []
    # No prompt cache unless a test asks for one: these scenarios are about the model's own memory.
    values: dict[str, Any] = dict(num_parallel=2, max_loaded_models=3, max_queue=512, context_length=512, prompt_cache_ram=0,
                                  keep_alive=300.0, num_thread=0, user_max_slots=0, user_max_queue=0,
                                  user_tokens_per_hour=0, group_weights={})

    async def main() -> None:
        scheduler = Scheduler(store, SchedulerSettings(**{**values, **overrides}), cpu, runner_factory=FakeRunner.factory,
                              device_probe=lambda: Machine(gpus or [], Device("cpu", 0, "RAM", 64 * GIB, free),
                                                           "" if gpus else "no GPU"))
        try:
            await asyncio.wait_for(scenario(scheduler), 10)
        finally:
            await scheduler.shutdown()

    asyncio.run(main())


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


def hold(scheduler: Scheduler, model: Any, release: asyncio.Event, options: dict[str, Any] | None = None,
         requester: Requester = ANONYMOUS, grow: bool = False) -> asyncio.Task[None]:
    """A request that holds one slot of `model` until `release` is set."""

    async def body() -> None:
        async with scheduler.use(model, options or {}, requester=requester, grow=grow):
            await release.wait()

    return asyncio.create_task(body())
