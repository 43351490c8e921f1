"""The scheduler: load on demand, fixed slots per model, keep-alive, eviction, a bounded queue.

Shaped after Ollama's server/sched.go, with what it hides made visible: each
loaded model has `num_parallel` slots; a request holds one slot while it runs;
requests beyond that wait in the manager (counted as queued), and past
OLLAMA_MAX_QUEUE waiting requests new ones get 503. Loads happen one at a time.
When a model's last request ends, its keep-alive timer starts; at expiry (or at
once for keep_alive 0) its runner is stopped and its memory goes back to the OS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest, Busy
from ..format import human_bytes_binary
from ..runner.protocol import LoadConfig, Runner
from ..store.model import LocalModel
from ..store.store import ModelStore
from .cpus import CpuBudget, Threads, cpu_budget
from .devices import Device, target_device
from .memory import MemoryEstimate, estimate
from .runner_process import RunnerError, RunnerProcess
from .settings import SchedulerSettings
from .stats import ModelStats

log = logging.getLogger("jupyter_ollama")

BUSY = "server busy, please try again.  maximum pending requests exceeded"


LOAD_KEYS = ("num_ctx", "num_parallel", "num_batch", "num_gpu", "num_thread", "use_mmap", "kv_cache_type", "flash_attention")


@dataclass
class Loaded:
    """A model with a live runner."""

    model: LocalModel
    config: dict[str, Any]
    runner: Runner
    memory: MemoryEstimate
    device: Device
    slots: asyncio.Semaphore
    keep_alive: float | None
    threads: Threads
    busy: int = 0
    queued: int = 0
    expires_at: float | None = None  # wall-clock seconds; None while busy or when kept forever
    timer: asyncio.TimerHandle | None = None
    loaded_at: float = field(default_factory=time.time)
    threads_sent: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def key(self) -> str:
        return str(self.model.name)

    @property
    def size_vram(self) -> int:
        """The part of its memory on a GPU: all of it or none, since a model is placed whole."""
        return self.memory.total if self.device.kind == "gpu" else 0

    @property
    def idle(self) -> bool:
        """No request holds or waits for one of its slots."""
        return self.busy == 0 and self.queued == 0

    @property
    def num_parallel(self) -> int:
        return self.config["num_parallel"]

    @property
    def shares_cpu(self) -> bool:
        """On the CPU with the default thread count (an explicit `num_thread` is taken as asked)."""
        return self.device.kind == "cpu" and not self.config["num_thread"]

    def matches(self, model: LocalModel, config: dict[str, Any]) -> bool:
        return self.model.manifest_digest == model.manifest_digest and all(
            self.config[k] == config[k] for k in LOAD_KEYS
        )


class Scheduler:
    def __init__(self, store: ModelStore, settings: SchedulerSettings | None = None, cpu: CpuBudget | None = None,
                 runner_factory: Callable[[LoadConfig], Runner] = RunnerProcess,
                 device_probe: Callable[[], Device] = target_device) -> None:
        # The factory and the probe are parameters so that the policy below can be tested
        # with runners and devices made up by the tests, in milliseconds.
        self.store = store
        self.settings = settings or SchedulerSettings()
        self.cpu = cpu or cpu_budget()
        self.runner_factory = runner_factory
        self.device_probe = device_probe
        self.loaded: dict[str, Loaded] = {}
        self.pending = 0  # requests waiting for a load or a slot
        self.waiting_for_memory = 0  # loads waiting for busy models to free memory
        self.stats: dict[str, ModelStats] = {}
        self._load_lock = asyncio.Lock()
        self._changed = asyncio.Condition()

    # -- what a load needs ----------------------------------------------------

    def load_config(self, model: LocalModel, options: dict[str, Any]) -> dict[str, Any]:
        """The runner's load-time settings: request options over Modelfile parameters over defaults."""
        info = self.store.gguf(model)
        merged = {**model.parameters, **{k: v for k, v in options.items() if v is not None}}
        trained = info.context_length if info and info.context_length else 0
        num_ctx = int(merged.get("num_ctx") or self.settings.context_length)
        num_ctx = max(4, min(num_ctx, trained) if trained else num_ctx)
        embedding = bool(info and info.pooling_type is not None)
        num_parallel = 1 if embedding else max(1, int(merged.get("num_parallel") or self.settings.num_parallel))
        return {
            "model_path": str(model.model_path),
            "num_ctx": num_ctx,
            "num_parallel": num_parallel,
            "num_batch": int(merged.get("num_batch") or 512),
            "num_gpu": int(merged.get("num_gpu", -1)),
            "num_thread": int(merged.get("num_thread") or 0),
            "use_mmap": merged.get("use_mmap"),
            "kv_cache_type": self.settings.effective_kv_cache_type,
            "flash_attention": self.settings.flash_attention,
        }

    def estimate(self, model: LocalModel, config: dict[str, Any]) -> MemoryEstimate:
        info = self.store.gguf(model)
        if info is None:
            return MemoryEstimate(model.size, 0, 0)
        return estimate(info, config["num_ctx"], config["num_parallel"], config["num_batch"], config["kv_cache_type"])

    def capacity(self, model: LocalModel, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """The slots, context and memory a load at these settings would take (for /api/show)."""
        config = self.load_config(model, options or {})
        memory = self.estimate(model, config)
        return {
            "num_parallel": config["num_parallel"],
            "num_ctx": config["num_ctx"],
            "kv_cache_type": config["kv_cache_type"],
            "memory": {"weights": memory.weights, "kv_cache": memory.kv_cache, "compute": memory.compute, "total": memory.total},
        }

    @property
    def default_threads(self) -> Threads:
        n = self.settings.num_thread
        return Threads(n, n) if n > 0 else self.cpu.threads

    def threads_for(self, config: dict[str, Any]) -> Threads:
        n = config["num_thread"]
        return Threads(n, n) if n > 0 else self.default_threads

    # -- using a model --------------------------------------------------------

    @contextlib.asynccontextmanager
    async def use(self, model: LocalModel, options: dict[str, Any], keep_alive: float | None | str = "default") -> AsyncIterator[Loaded]:
        """Hold one slot of `model` (loading it first if needed) for the body of the block."""
        if self.pending >= self.settings.max_queue:
            raise Busy(BUSY)
        self.pending += 1
        loaded: Loaded | None = None
        try:
            loaded = await self._get_loaded(model, options, keep_alive)
            loaded.queued += 1
            try:
                await loaded.slots.acquire()
            finally:
                loaded.queued -= 1
        finally:
            self.pending -= 1
        loaded.busy += 1
        if loaded.busy == 1:
            self._share_threads()
        try:
            yield loaded
        finally:
            loaded.slots.release()
            loaded.busy -= 1
            if loaded.busy == 0:
                self._share_threads()
            self._after_use(loaded)

    async def _get_loaded(self, model: LocalModel, options: dict[str, Any], keep_alive: Any) -> Loaded:
        config = await asyncio.to_thread(self.load_config, model, options)
        async with self._load_lock:
            loaded = self.loaded.get(str(model.name))
            if loaded is not None and (not loaded.runner.alive or not loaded.matches(model, config)):
                # A changed load-time option or a dead runner: reload, once requests in flight end.
                while loaded.runner.alive and not loaded.idle:
                    await self._wait_for_change()
                await self._unload(loaded)
                loaded = None
            if loaded is None:
                loaded = await self._load(model, config)
            if keep_alive != "default":
                loaded.keep_alive = keep_alive
            self._disarm(loaded)
            return loaded

    async def _load(self, model: LocalModel, config: dict[str, Any]) -> Loaded:
        while len(self.loaded) >= self.settings.max_loaded_models:
            await self._evict_one()
        memory = await asyncio.to_thread(self.estimate, model, config)
        device = await self._make_room(model, memory)
        # `config` stays as asked (what a later request is compared with); the runner gets the placement.
        placed = {**config, "num_gpu": 0} if device.kind == "cpu" and config["num_gpu"] < 0 else config
        threads = self.threads_for(config)
        runner = self.runner_factory(LoadConfig(
            model_path=placed["model_path"], num_ctx=placed["num_ctx"], num_parallel=placed["num_parallel"],
            num_batch=placed["num_batch"], num_gpu=placed["num_gpu"], use_mmap=placed["use_mmap"],
            threads=threads.decode, threads_batch=threads.batch,
            kv_cache_type=placed["kv_cache_type"], flash_attention=placed["flash_attention"],
        ))
        log.info("loading %s (%s slots x %s tokens, %s threads)", model.name.display(), config["num_parallel"],
                 config["num_ctx"], threads.decode)
        await runner.start()
        self.stats_for(model).loads_total += 1
        loaded = Loaded(model, config, runner, memory, device, asyncio.Semaphore(config["num_parallel"]),
                        self.settings.keep_alive, threads)
        self.loaded[loaded.key] = loaded
        asyncio.get_running_loop().create_task(self._watch(loaded))
        return loaded

    async def _make_room(self, model: LocalModel, memory: MemoryEstimate) -> Device:
        """Evict idle models until the new one fits the device and its budget; refuse one that never could."""
        while True:
            device = await asyncio.to_thread(self.device_probe)
            ours = [x for x in self.loaded.values() if x.device.key == device.key]
            held = sum(x.memory.total for x in ours)
            budget = self.settings.budget_for(device.key)
            room = device.free if budget is None else min(device.free, budget - held)
            if memory.total <= room:
                return device
            ceiling = device.free + held if budget is None else min(device.free + held, budget)
            if memory.total > ceiling:
                where = "system memory" if device.kind == "cpu" else f"memory on {device.name}"
                limit = "the memory budget" if budget is not None and budget < device.free + held else "is available"
                raise BadRequest(f"model requires more {where} ({human_bytes_binary(memory.total)}) than {limit} ({human_bytes_binary(ceiling)})")
            if any(x.idle for x in ours):
                await self._evict_one(device.key)
                continue
            self.waiting_for_memory += 1  # every model on the device is busy: wait for one to go idle
            try:
                await self._wait_for_change()
            finally:
                self.waiting_for_memory -= 1

    async def _watch(self, loaded: Loaded) -> None:
        """A runner that dies (a crash in llama.cpp) is dropped; the next request reloads it."""
        code = await loaded.runner.wait()
        if self.loaded.get(loaded.key) is loaded:
            log.warning("runner for %s exited with %s", loaded.model.name.display(), code)
            del self.loaded[loaded.key]
            self._disarm(loaded)

    async def _evict_one(self, device_key: str | None = None) -> None:
        """Unload the idle model that expires soonest; if none is idle, wait for one to be."""
        while True:
            idle = [x for x in self.loaded.values() if x.idle and (device_key is None or x.device.key == device_key)]
            if idle:
                victim = min(idle, key=lambda x: (x.expires_at or float("inf"), x.loaded_at))
                self.stats_for(victim.model).evictions_total += 1
                await self._unload(victim)
                return
            await self._wait_for_change()

    def _share_threads(self) -> None:
        """Models generating on the CPU at the same time split its threads evenly; one alone gets them all.

        Called when a model starts or stops being busy. An idle model keeps its last share
        until its next request, when the split is made again.
        """
        sharing = sorted((x for x in self.loaded.values() if x.shares_cpu and x.busy), key=lambda x: x.loaded_at)
        for index, loaded in enumerate(sharing):
            wanted = self.default_threads.share(len(sharing), index)
            if wanted != loaded.threads:
                loaded.threads = wanted
                asyncio.get_running_loop().create_task(self._send_threads(loaded))

    async def _send_threads(self, loaded: Loaded) -> None:
        async with loaded.threads_sent:  # in order; the latest share wins
            if loaded.runner.alive:
                with contextlib.suppress(Exception):  # a dying runner is the watcher's business
                    await loaded.runner.set_threads(loaded.threads.decode, loaded.threads.batch)

    def stats_for(self, model: LocalModel) -> ModelStats:
        return self.stats.setdefault(model.name.display(), ModelStats())

    def _after_use(self, loaded: Loaded) -> None:
        asyncio.get_running_loop().create_task(self._notify())
        if not loaded.idle or self.loaded.get(loaded.key) is not loaded:
            return
        if loaded.keep_alive is None:
            loaded.expires_at = None
            return
        loaded.expires_at = time.time() + loaded.keep_alive
        loaded.timer = asyncio.get_running_loop().call_later(
            loaded.keep_alive, lambda: asyncio.ensure_future(self._expire(loaded))
        )

    async def _wait_for_change(self) -> None:
        """Until a request ends or a model is unloaded (`_notify`)."""
        async with self._changed:
            await self._changed.wait()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _disarm(self, loaded: Loaded) -> None:
        if loaded.timer is not None:
            loaded.timer.cancel()
            loaded.timer = None
        loaded.expires_at = None

    async def _expire(self, loaded: Loaded) -> None:
        async with self._load_lock:
            if self.loaded.get(loaded.key) is loaded and loaded.idle:
                await self._unload(loaded)

    async def _unload(self, loaded: Loaded) -> None:
        self._disarm(loaded)
        if self.loaded.get(loaded.key) is loaded:
            del self.loaded[loaded.key]
        log.info("unloading %s", loaded.model.name.display())
        await loaded.runner.stop()
        await self._notify()

    # -- explicit control -----------------------------------------------------

    async def unload(self, model: LocalModel) -> None:
        """keep_alive 0 with no prompt: unload now (after requests in flight finish)."""
        loaded = self.loaded.get(str(model.name))
        if loaded is None:
            return
        loaded.keep_alive = 0
        if loaded.idle:
            async with self._load_lock:
                await self._unload(loaded)

    async def shutdown(self) -> None:
        for loaded in list(self.loaded.values()):
            await self._unload(loaded)


__all__ = ["Scheduler", "SchedulerSettings", "Loaded", "RunnerError", "BUSY"]
