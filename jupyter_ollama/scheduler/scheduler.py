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
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from .. import envconfig
from ..errors import BadRequest, Busy
from ..format import human_bytes_binary
from ..runner.protocol import LoadConfig, Runner
from ..store.model import LocalModel
from ..store.store import ModelStore
from . import devices
from .cpus import CpuBudget, Threads, cpu_budget
from .devices import Machine
from .memory import MemoryEstimate, estimate, layer_sizes
from .placement import Gpu, LayerSizes, Plan, place
from .remotes import RemoteLoaded, RemoteModels
from .runner_process import RunnerError, RunnerProcess
from .settings import SchedulerSettings
from .stats import ModelStats

log = logging.getLogger("jupyter_ollama")

BUSY = "server busy, please try again.  maximum pending requests exceeded"
SHUTTING_DOWN = "the server is shutting down"


class ShuttingDown(Busy):
    """What a request hears when the server stops under it: never a runner failure."""

    def __init__(self) -> None:
        super().__init__(SHUTTING_DOWN)


LOAD_KEYS = ("num_ctx", "num_parallel", "num_batch", "num_gpu", "main_gpu", "num_thread", "use_mmap", "kv_cache_type",
             "flash_attention")


@dataclass(frozen=True)
class Eviction:
    """A model unloaded to make room, and why (shown by /api/system)."""

    model: str
    device: str  # the device key the room was wanted on ("cpu", "gpu0"), or "" for OLLAMA_MAX_LOADED_MODELS
    reason: str
    at: float = field(default_factory=time.time)


@dataclass
class Loaded:
    """A model with a live runner."""

    model: LocalModel
    config: dict[str, Any]
    runner: Runner
    memory: MemoryEstimate
    plan: Plan
    slots: asyncio.Semaphore
    keep_alive: float | None
    threads: Threads
    busy: int = 0
    queued: int = 0
    expires_at: float | None = None  # wall-clock seconds; None while busy or when kept forever
    timer: asyncio.TimerHandle | None = None
    loaded_at: float = field(default_factory=time.time)
    threads_sent: asyncio.Lock = field(default_factory=asyncio.Lock)
    measured_vram: dict[int, int] = field(default_factory=dict)  # GPU index -> bytes NVML saw the load take

    @property
    def key(self) -> str:
        return str(self.model.name)

    def vram_on(self, index: int) -> int:
        """Bytes it holds on GPU `index`: the estimate, or what NVML measured at load when that is more."""
        return max(self.plan.on_gpu(index), self.measured_vram.get(index, 0)) if self.plan.on_gpu(index) else 0

    def holds(self, device_key: str) -> int:
        """Bytes it holds on a device (`cpu`, `gpu0`, ...)."""
        return self.plan.ram if device_key == "cpu" else self.vram_on(int(device_key.removeprefix("gpu")))

    @property
    def size_vram(self) -> int:
        """The part of its memory on GPUs (Ollama's size_vram)."""
        return sum(self.vram_on(g.index) for g in self.plan.gpus)

    @property
    def size(self) -> int:
        return self.size_vram + self.plan.ram

    @property
    def memory_by_device(self) -> dict[str, int]:
        """Bytes it holds on each device it uses: `gpu0`, `gpu1`, ..., `cpu`."""
        held = {f"gpu{g.index}": self.vram_on(g.index) for g in self.plan.gpus}
        return {**held, "cpu": self.plan.ram} if self.plan.ram or not held else held

    @property
    def device_key(self) -> str:
        """Its main device: the first GPU it uses, else `cpu`."""
        return f"gpu{self.plan.gpus[0].index}" if self.plan.gpus else "cpu"

    @property
    def idle(self) -> bool:
        """No request holds or waits for one of its slots."""
        return self.busy == 0 and self.queued == 0

    @property
    def num_parallel(self) -> int:
        return self.config["num_parallel"]

    @property
    def shares_cpu(self) -> bool:
        """Some layers on the CPU, with the default thread count (an explicit `num_thread` is taken as asked)."""
        return self.plan.layers < self.plan.total_layers and not self.config["num_thread"]

    def matches(self, model: LocalModel, config: dict[str, Any]) -> bool:
        # As Ollama's needsReload: a request that leaves num_gpu to the scheduler (-1) takes the model as placed.
        keys = [k for k in LOAD_KEYS if not (k == "num_gpu" and config[k] < 0)]
        return self.model.manifest_digest == model.manifest_digest and all(self.config[k] == config[k] for k in keys)


class Scheduler:
    def __init__(self, store: ModelStore, settings: SchedulerSettings | None = None, cpu: CpuBudget | None = None,
                 runner_factory: Callable[[LoadConfig], Runner] = RunnerProcess,
                 device_probe: Callable[[], Machine] = devices.probe) -> None:
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
        self.evictions: deque[Eviction] = deque(maxlen=32)  # the latest, newest last
        self.remote = RemoteModels()  # models served by engines elsewhere: no memory, no slots of ours
        self.closing = False  # shutting down: requests in flight end with ShuttingDown, new ones are refused
        self.running = 0  # requests holding a slot, whichever model (one unloaded under them included)
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
            "draft_path": str(model.draft_path) if model.draft_path else None,
            "projector_path": str(model.projector_paths[0]) if model.projector_paths else None,
            "num_ctx": num_ctx,
            "num_parallel": num_parallel,
            "num_batch": int(merged.get("num_batch") or 512),
            "num_gpu": int(merged.get("num_gpu", -1)),
            "main_gpu": None if merged.get("main_gpu") is None else int(merged["main_gpu"]),
            "num_thread": int(merged.get("num_thread") or 0),
            "use_mmap": merged.get("use_mmap"),
            "kv_cache_type": self.settings.effective_kv_cache_type,
            "flash_attention": self.settings.flash_attention,
        }

    def estimate(self, model: LocalModel, config: dict[str, Any]) -> MemoryEstimate:
        info = self.store.gguf(model)
        if info is None:
            return MemoryEstimate(model.size, 0, 0)
        return estimate(info, config["num_ctx"], config["num_parallel"], config["num_batch"], config["kv_cache_type"],
                        draft=self.store.draft_gguf(model), projector=self.store.projector_gguf(model),
                        prompt_cache=self.settings.prompt_cache_ram)

    def layer_sizes(self, model: LocalModel, memory: MemoryEstimate) -> LayerSizes:
        info = self.store.gguf(model)
        if info is None or not info.block_count:  # no layers to split: the model stays whole, on the CPU
            return LayerSizes((), 0, 0, 0, memory.total)
        return layer_sizes(info, memory)

    def capacity(self, model: LocalModel, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """The slots, context and memory a load at these settings would take (for /api/show)."""
        config = self.load_config(model, options or {})
        memory = self.estimate(model, config)
        return {
            "num_parallel": config["num_parallel"],
            "num_ctx": config["num_ctx"],
            "kv_cache_type": config["kv_cache_type"],
            "memory": {"weights": memory.weights, "kv_cache": memory.kv_cache, "compute": memory.compute, "total": memory.total,
                       **({"draft": memory.draft} if memory.draft else {}),
                       **({"projector": memory.projector} if memory.projector else {}),
                       **({"prompt_cache": memory.prompt_cache} if memory.prompt_cache else {})},
            "prompt_cache": {"ram": memory.prompt_cache, "disk": self.settings.prompt_cache_disk},
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
    async def use(self, model: LocalModel, options: dict[str, Any],
                  keep_alive: float | None | str = "default") -> AsyncIterator[Loaded | RemoteLoaded]:
        """Hold one slot of `model` (loading it first if needed) for the body of the block.

        A remote model has no slots here: its pool routes the request to one of its engines."""
        if model.is_remote:
            yield await self.remote.get(model)
            return
        async with self._use_local(model, options, keep_alive) as loaded:
            yield loaded

    @contextlib.asynccontextmanager
    async def _use_local(self, model: LocalModel, options: dict[str, Any], keep_alive: Any) -> AsyncIterator[Loaded]:
        if self.closing:
            raise ShuttingDown()
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
        self.running += 1
        if loaded.busy == 1:
            self._share_threads()
        try:
            yield loaded
        finally:
            loaded.slots.release()
            loaded.busy -= 1
            self.running -= 1
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
            await self._evict_one(reason=f"OLLAMA_MAX_LOADED_MODELS ({self.settings.max_loaded_models}) reached")
        memory = await asyncio.to_thread(self.estimate, model, config)
        sizes = await asyncio.to_thread(self.layer_sizes, model, memory)
        plan, machine = await self._make_room(model, config, sizes)
        threads = self.threads_for(config)
        # `config` stays as asked (what a later request is compared with); the runner gets the placement.
        # Where there are GPUs, the runner sees only those of its plan (none for the CPU), so what it
        # allocates is what the plan says; without any, its environment is left as it is.
        gpu_ids = list(plan.gpu_ids) if machine.gpus else None
        runner = self.runner_factory(LoadConfig(
            model_path=config["model_path"], num_ctx=config["num_ctx"], num_parallel=config["num_parallel"],
            num_batch=config["num_batch"], num_gpu=plan.layers, gpu_ids=gpu_ids,
            tensor_split=list(plan.tensor_split), main_gpu=plan.main_gpu, use_mmap=config["use_mmap"],
            threads=threads.decode, threads_batch=threads.batch,
            kv_cache_type=config["kv_cache_type"], flash_attention=config["flash_attention"],
            draft_model_path=config["draft_path"], projector_path=config["projector_path"],
            model_digest=model.model_layer.digest if model.model_layer else "", prompt_cache_ram=memory.prompt_cache,
            prompt_cache_dir=str(self.store.root / "cache"), prompt_cache_disk=self.settings.prompt_cache_disk,
        ))
        log.info("loading %s (%s slots x %s tokens, %s threads): %s", model.name.display(), config["num_parallel"],
                 config["num_ctx"], threads.decode, plan.reason)
        before = await asyncio.to_thread(devices.gpu_memory_used) if plan.gpus else {}
        await runner.start()
        self.stats_for(model).loads_total += 1
        loaded = Loaded(model, config, runner, memory, plan, asyncio.Semaphore(config["num_parallel"]),
                        self.settings.keep_alive, threads)
        if plan.gpus:
            loaded.measured_vram = await asyncio.to_thread(devices.gpu_memory_growth, before)
            log.info("%s on GPUs: estimated %s, NVML measured %s", model.name.display(),
                     {g.index: g.size for g in plan.gpus}, loaded.measured_vram)
        self.loaded[loaded.key] = loaded
        asyncio.get_running_loop().create_task(self._watch(loaded))
        return loaded

    def _gpus(self, machine: Machine, ceiling: bool) -> list[Gpu]:
        """The GPUs as placement sees them: free memory net of budgets, and of our models unless `ceiling`.

        NVML's free memory already leaves out what our runners hold; as Ollama does, the smaller of
        it and (total - our estimates) counts, since free memory lags behind a load or an unload.
        """
        out = []
        for device in machine.gpus:
            held = sum(x.holds(device.key) for x in self.loaded.values())
            free = min(device.free + held, device.total) if ceiling else min(device.free, device.total - held)
            budget = self.settings.budget_for(device.key)
            if budget is not None:
                free = min(free, budget if ceiling else budget - held)
            out.append(Gpu(device.index, device.id, device.name, device.total, max(0, free)))
        return out

    def _place(self, sizes: LayerSizes, config: dict[str, Any], machine: Machine, ceiling: bool = False) -> Plan:
        return place(sizes, self._gpus(machine, ceiling) if sizes.blocks else [], num_gpu=config["num_gpu"],
                     main_gpu=config["main_gpu"], spread=envconfig.sched_spread(), overhead=envconfig.gpu_overhead(),
                     no_gpu=machine.no_gpu or "no layer sizes in this model file")

    async def _make_room(self, model: LocalModel, config: dict[str, Any], sizes: LayerSizes) -> tuple[Plan, Machine]:
        """Evict idle models until the new one is placed as well as it can be; refuse one that never fits in RAM.

        GPUs first, as Ollama: when our other models stand in the way of putting more layers on
        the GPUs, they go (idle ones now, busy ones once idle). Then RAM must hold what stays on the CPU.
        """
        name = model.name.display()
        while True:
            machine = await asyncio.to_thread(self.device_probe)
            plan = self._place(sizes, config, machine)
            best = self._place(sizes, config, machine, ceiling=True)
            if best.layers > plan.layers:
                keys = [f"gpu{g.index}" for g in best.gpus]
                holders = [x for x in self.loaded.values() if any(x.holds(k) for k in keys)]
                if holders:
                    wanted = ", ".join(f"gpu{g.index} {human_bytes_binary(g.size)}" for g in best.gpus)
                    why = f"{name} needs GPU memory for {best.layers}/{best.total_layers} layers ({wanted})"
                    await self._evict_or_wait(holders, keys[0], why)
                    continue  # evicted, or waited for a holder to go idle: look again
            ram = machine.ram
            held = sum(x.holds("cpu") for x in self.loaded.values())
            budget = self.settings.budget_for("cpu")
            room = ram.free if budget is None else min(ram.free, budget - held)
            if plan.ram <= room:
                return plan, machine
            ceiling = ram.free + held if budget is None else min(ram.free + held, budget)
            if plan.ram > ceiling:
                limit = "the memory budget" if budget is not None and budget < ram.free + held else "is available"
                raise BadRequest(f"model requires more system memory ({human_bytes_binary(plan.ram)}) than {limit} "
                                 f"({human_bytes_binary(ceiling)})")
            holders = [x for x in self.loaded.values() if x.holds("cpu")]
            why = f"{name} needs {human_bytes_binary(plan.ram)} of RAM, {human_bytes_binary(max(0, room))} free"
            await self._evict_or_wait(holders, "cpu", why)

    async def _evict_or_wait(self, holders: list[Loaded], device_key: str, reason: str) -> None:
        """Evict the idle holder that expires soonest, or wait until something changes."""
        idle = [x for x in holders if x.idle]
        if idle:
            await self._evict(min(idle, key=_expiry), device_key, reason)
            return
        self.waiting_for_memory += 1  # every model holding the memory is busy: wait for one to go idle
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

    async def _evict_one(self, reason: str) -> None:
        """Unload the idle model that expires soonest; if none is idle, wait for one to be."""
        while True:
            idle = [x for x in self.loaded.values() if x.idle]
            if idle:
                await self._evict(min(idle, key=_expiry), "", reason)
                return
            await self._wait_for_change()

    async def _evict(self, victim: Loaded, device_key: str, reason: str) -> None:
        self.stats_for(victim.model).evictions_total += 1
        self.evictions.append(Eviction(victim.model.name.display(), device_key, reason))
        log.info("evicting %s from %s: %s", victim.model.name.display(), device_key or "memory", reason)
        await self._unload(victim)

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
        before = await asyncio.to_thread(devices.gpu_memory_used) if loaded.plan.gpus else {}
        await loaded.runner.stop()
        if before:
            await self._vram_released(before, loaded.size_vram)
        await self._notify()

    @staticmethod
    async def _vram_released(before: dict[int, int], size_vram: int, timeout: float = 5.0) -> None:
        """NVML's free memory lags a runner's exit (Ollama's waitForVRAMRecovery): wait, up to `timeout`,
        until 80% of what it held shows as free, so that the next placement does not see it still taken."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = await asyncio.to_thread(devices.gpu_memory_used)
            if sum(used - now.get(index, used) for index, used in before.items()) >= 0.8 * size_vram:
                return
            await asyncio.sleep(0.25)
        log.warning("GPU memory did not come back within %.0f s of unloading", timeout)

    # -- explicit control -----------------------------------------------------

    async def unload(self, model: LocalModel) -> None:
        """keep_alive 0 with no prompt: unload now (after requests in flight finish)."""
        if model.is_remote:
            await self.remote.unload(model)
            return
        loaded = self.loaded.get(str(model.name))
        if loaded is None:
            return
        loaded.keep_alive = 0
        if loaded.idle:
            async with self._load_lock:
                await self._unload(loaded)

    async def shutdown(self, grace: float = 3.0) -> None:
        """Stop every runner. Requests in flight end with "the server is shutting down" (their handlers see
        `closing`); up to `grace` seconds go to letting them write it before the server goes."""
        self.closing = True
        for loaded in list(self.loaded.values()):
            await self._unload(loaded)
        await self.remote.shutdown()
        deadline = time.monotonic() + grace
        while (self.pending or self.running) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)  # their last lines, written: out to the sockets before the loop stops


def _expiry(loaded: Loaded) -> tuple[float, float]:
    """Eviction order: the idle model that would expire soonest, then the oldest."""
    return (loaded.expires_at or float("inf"), loaded.loaded_at)


__all__ = ["Scheduler", "SchedulerSettings", "Loaded", "RemoteLoaded", "RunnerError", "BUSY", "SHUTTING_DOWN", "ShuttingDown"]
