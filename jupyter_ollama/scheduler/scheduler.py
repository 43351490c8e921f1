"""The scheduler: load on demand, fixed slots per model, fair turns, keep-alive, eviction, a bounded queue.

Shaped after Ollama's server/sched.go, with what it hides made visible: each
loaded model has `num_parallel` slots; a request holds one slot while it runs;
requests beyond that wait in the manager (counted as queued), taking turns by
requester (turns.py), and past OLLAMA_MAX_QUEUE waiting requests new ones get 503.
Loads happen one at a time. A loaded model keeps its shape (shape.py): a request
that fits it is served there; a larger `num_ctx` grows it, only while nothing runs
on it; other load options wait for the next load. When a model's last request
ends, its keep-alive timer starts; at expiry (or at once for keep_alive 0) its
runner is stopped and its memory goes back to the OS.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from .. import envconfig
from ..errors import BadRequest, Busy
from ..format import human_bytes_binary
from ..runners.process import RunnerError, RunnerProcess
from ..runners.protocol import LoadConfig, Runner
from ..store.model import LocalModel
from ..store.store import ModelStore
from . import devices
from .cpus import CpuBudget, Threads, cpu_budget
from .devices import Machine
from .memory import MemoryEstimate, estimate, layer_sizes
from .placement import Gpu, LayerSizes, Plan, place
from .remotes import RemoteLoaded, RemoteModels
from .settings import SchedulerSettings
from .shape import GROWN, MODEL_CHANGED, RUNNER_EXITED, LoadRequest, Reload
from .stats import ModelStats
from .turns import ANONYMOUS, ModelQueue, Requester, Users, Waiter

log = logging.getLogger("jupyter_ollama")

BUSY = "server busy, please try again.  maximum pending requests exceeded"
SHUTTING_DOWN = "the server is shutting down"


class ShuttingDown(Busy):
    """What a request hears when the server stops under it: never a runner failure."""

    def __init__(self) -> None:
        super().__init__(SHUTTING_DOWN)


@dataclass(frozen=True)
class Eviction:
    """A model unloaded to make room, and why (shown by /api/system)."""

    model: str
    device: str  # the device key the room was wanted on ("cpu", "gpu0"), or "" for OLLAMA_MAX_LOADED_MODELS
    reason: str
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class LoadTurn:
    """A waiting request's turn says: load the model (again) first, then hold its first slot."""

    reload: Reload | None  # None: it was not loaded


@dataclass(eq=False)
class Loaded:
    """A model with a live runner."""

    model: LocalModel
    shape: LoadRequest
    runner: Runner
    memory: MemoryEstimate
    plan: Plan
    queue: ModelQueue  # its waiting requests (it outlives the instance: a reload keeps their turns)
    keep_alive: float | None
    threads: Threads
    reload: Reload | None = None  # why this instance replaced the one before it
    busy: int = 0
    holders: Counter[str] = field(default_factory=Counter)  # requester key -> slots it holds here
    pins: list[int] = field(default_factory=list)  # `num_thread` of each running request that set one
    largest_asked: int = 0  # the largest num_ctx asked of this instance (a growth goes at least there)
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
    def queued(self) -> int:
        return len(self.queue)

    @property
    def idle(self) -> bool:
        """No request holds or waits for one of its slots."""
        return self.busy == 0 and not self.queue.waiting and not self.queue.loading

    @property
    def num_parallel(self) -> int:
        return self.shape.num_parallel

    @property
    def shares_cpu(self) -> bool:
        """Some layers on the CPU: it shares the CPU's threads with the others that do, unless a request set them."""
        return self.plan.layers < self.plan.total_layers


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
        self.queues: dict[str, ModelQueue] = {}  # model key -> its waiting requests, loaded or not
        self.users = Users(self.settings)
        self.pending = 0  # requests waiting for a load or a slot
        self.waiting_for_memory = 0  # loads waiting for busy models to free memory
        self.stats: dict[str, ModelStats] = {}
        self.evictions: deque[Eviction] = deque(maxlen=32)  # the latest, newest last
        self.exited: set[str] = set()  # models whose runner died: their next load is a reload
        self.remote = RemoteModels()  # models served by engines elsewhere: no memory, no slots of ours
        self.closing = False  # shutting down: requests in flight end with ShuttingDown, new ones are refused
        self._load_lock = asyncio.Lock()
        self._changed = asyncio.Condition()

    # -- what a load needs ----------------------------------------------------

    def load_request(self, model: LocalModel, options: dict[str, Any]) -> LoadRequest:
        """The shape a load for this request takes: request options over Modelfile parameters over defaults."""
        info = self.store.gguf(model)
        merged = _merged(model, options)
        trained = info.context_length if info and info.context_length else 0
        num_ctx = int(merged.get("num_ctx") or self.settings.context_length)
        num_ctx = max(4, min(num_ctx, trained) if trained else num_ctx)
        embedding = bool(info and info.pooling_type is not None)
        num_parallel = 1 if embedding else max(1, int(merged.get("num_parallel") or self.settings.num_parallel))
        return LoadRequest(
            model_path=str(model.model_path),
            draft_path=str(model.draft_path) if model.draft_path else None,
            projector_path=str(model.projector_paths[0]) if model.projector_paths else None,
            num_ctx=num_ctx,
            num_parallel=num_parallel,
            num_batch=int(merged.get("num_batch") or 512),
            num_gpu=int(merged.get("num_gpu", -1)),
            main_gpu=None if merged.get("main_gpu") is None else int(merged["main_gpu"]),
            use_mmap=merged.get("use_mmap"),
            kv_cache_type=self.settings.effective_kv_cache_type,
            flash_attention=self.settings.flash_attention,
        )

    def estimate(self, model: LocalModel, request: LoadRequest) -> MemoryEstimate:
        info = self.store.gguf(model)
        if info is None:
            return MemoryEstimate(model.size, 0, 0)
        return estimate(info, request.num_ctx, request.num_parallel, request.num_batch, request.kv_cache_type,
                        draft=self.store.draft_gguf(model), projector=self.store.projector_gguf(model),
                        prompt_cache=self.settings.prompt_cache_ram)

    def layer_sizes(self, model: LocalModel, memory: MemoryEstimate) -> LayerSizes:
        info = self.store.gguf(model)
        if info is None or not info.block_count:  # no layers to split: the model stays whole, on the CPU
            return LayerSizes((), 0, 0, 0, memory.total)
        return layer_sizes(info, memory)

    def capacity(self, model: LocalModel, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """The slots, context and memory a load at these settings would take (for /api/show), and, while the
        model is loaded, the shape that serves a request now (any whose num_ctx fits it)."""
        request = self.load_request(model, options or {})
        memory = self.estimate(model, request)
        loaded = self.loaded.get(str(model.name))
        now = ({"loaded": {"num_ctx": loaded.shape.num_ctx, "num_parallel": loaded.shape.num_parallel}}
               if loaded is not None and loaded.model.manifest_digest == model.manifest_digest else {})
        return {
            "num_parallel": request.num_parallel,
            "num_ctx": request.num_ctx,
            "kv_cache_type": request.kv_cache_type,
            "memory": {"weights": memory.weights, "kv_cache": memory.kv_cache, "compute": memory.compute, "total": memory.total,
                       **({"draft": memory.draft} if memory.draft else {}),
                       **({"projector": memory.projector} if memory.projector else {}),
                       **({"prompt_cache": memory.prompt_cache} if memory.prompt_cache else {})},
            "prompt_cache": {"ram": memory.prompt_cache, "disk": self.settings.prompt_cache_disk},
            **now,
        }

    @property
    def default_threads(self) -> Threads:
        n = self.settings.num_thread
        return Threads(n, n) if n > 0 else self.cpu.threads

    # -- using a model --------------------------------------------------------

    @contextlib.asynccontextmanager
    async def use(self, model: LocalModel, options: dict[str, Any], keep_alive: float | None | str = "default",
                  requester: Requester = ANONYMOUS, grow: bool = False) -> AsyncIterator[Loaded | RemoteLoaded]:
        """Hold one slot of `model` (loading it first if needed) for the body of the block.

        `requester` waits its turn among the others (turns.py), within its limits (429 past them).
        `grow`: the request's prompt did not fit the loaded slots, smaller than its num_ctx: it waits
        its turn and for the requests running on the model to end, which then loads again that large.
        A remote model has no slots here: its pool routes the request to one of its engines."""
        self.users.check(requester, lambda: self._wait_estimate(model, requester))
        if model.is_remote:
            self.users.of(requester).requests += 1
            yield await self.remote.get(model)
            return
        async with self._use_local(model, options, keep_alive, requester, grow) as loaded:
            yield loaded

    @contextlib.asynccontextmanager
    async def _use_local(self, model: LocalModel, options: dict[str, Any], keep_alive: Any, requester: Requester,
                         grow: bool) -> AsyncIterator[Loaded]:
        if self.closing:
            raise ShuttingDown()
        if self.pending >= self.settings.max_queue:
            raise Busy(BUSY)
        usage = self.users.of(requester)
        pin = max(0, int(_merged(model, options).get("num_thread") or 0))  # a thread count asked for is taken as asked
        since = time.monotonic()
        self.pending += 1
        usage.queued += 1
        try:
            request = await asyncio.to_thread(self.load_request, model, options)
            loaded = await self._take_slot(model, request, requester, grow, pin)
        finally:
            self.pending -= 1
            usage.queued -= 1
        admitted = time.monotonic()
        try:
            if keep_alive != "default":
                loaded.keep_alive = keep_alive
            self._disarm(loaded)
            if pin:
                loaded.pins.append(pin)
            sent = self._share_threads().get(loaded)
            if sent is not None:  # the request starts with its threads
                await asyncio.shield(sent)
            yield loaded
        finally:
            if pin:
                loaded.pins.remove(pin)
            self._release(loaded, requester)
            log.info("%s served %s: waited %.2f s, held a slot %.2f s (%d/%d busy, %d queued)",
                     model.name.display(), requester.label, admitted - since, time.monotonic() - admitted,
                     loaded.busy, loaded.num_parallel, loaded.queued)

    async def _take_slot(self, model: LocalModel, request: LoadRequest, requester: Requester, grow: bool,
                         pin: int) -> Loaded:
        """Wait for `requester`'s turn at a slot of `model`; when the turn says so, load the model first."""
        key = str(model.name)
        async with self._load_lock:  # nobody joins while a load makes room: a model it waits for can go idle
            queue = self.queues.setdefault(key, ModelQueue(key))
            waiter = queue.add(requester, model.manifest_digest, request.num_ctx, grow)
        self._dispatch(queue)
        try:
            turn = await waiter.future
        except asyncio.CancelledError:
            self._abandon(queue, waiter)
            raise
        if isinstance(turn, Loaded):
            return turn
        return await self._load_turn(queue, waiter, model, request, turn, pin)

    def _dispatch(self, queue: ModelQueue) -> None:
        """Admit a model's waiting requests in their turns while it has free slots; give the one whose turn
        needs a load (or a reload, once nothing runs on the instance it replaces) that job."""
        while not queue.loading:
            waiter = queue.next(self.users.may_take_slot)
            if waiter is None:
                return
            if waiter.future.done():  # its client went away
                queue.remove(waiter)
                continue
            loaded = self.loaded.get(queue.key)
            reload = None if loaded is None else self._reload_for(loaded, waiter)
            if loaded is None or reload is not None:
                if loaded is not None and loaded.busy:
                    return  # it waits for the requests running there to end, and nobody passes it
                queue.take(waiter, self.users.weight(waiter.requester))
                queue.loading = True
                self.users.of(waiter.requester).busy += 1
                waiter.future.set_result(LoadTurn(reload))
                return
            if loaded.busy >= loaded.num_parallel:
                return
            queue.take(waiter, self.users.weight(waiter.requester))
            self._hold(loaded, waiter)
            waiter.future.set_result(loaded)

    def _reload_for(self, loaded: Loaded, waiter: Waiter) -> Reload | None:
        """Why `waiter` needs the model loaded again, or None when the loaded instance serves it."""
        if not loaded.runner.alive:
            return Reload(RUNNER_EXITED, "its runner exited")
        if loaded.model.manifest_digest != waiter.digest:
            return Reload(MODEL_CHANGED, "the model was created again")
        asked, has = waiter.num_ctx, loaded.shape.num_ctx
        if asked > has and (loaded.busy == 0 or waiter.must_grow):
            why = "the prompt did not fit" if waiter.must_grow else "model idle"
            return Reload(GROWN, f"num_ctx {asked} > {has} loaded, {why}")
        return None

    def _hold(self, loaded: Loaded, waiter: Waiter) -> None:
        """`waiter` holds a slot of `loaded` from now on."""
        loaded.busy += 1
        loaded.holders[waiter.requester.key] += 1
        loaded.largest_asked = max(loaded.largest_asked, waiter.num_ctx)
        usage = self.users.of(waiter.requester)
        usage.busy += 1
        usage.requests += 1

    def _abandon(self, queue: ModelQueue, waiter: Waiter) -> None:
        """A waiting request was cancelled (its client went away): it leaves its turn, or gives back what it got."""
        future = waiter.future
        if not future.done() or future.cancelled():
            queue.remove(waiter)
            self._dispatch(queue)  # it may have stood in front of others
            return
        turn = future.result()
        if isinstance(turn, Loaded):  # admitted as it gave up
            self._release(turn, waiter.requester)
            return
        self.users.of(waiter.requester).busy -= 1  # its turn to load: the next one in turn will
        queue.loading = False
        self._dispatch(queue)

    async def _load_turn(self, queue: ModelQueue, waiter: Waiter, model: LocalModel, request: LoadRequest,
                         turn: LoadTurn, pin: int) -> Loaded:
        """Load the model for `waiter` (unloading the instance it replaces), then hold its first slot."""
        try:
            async with self._load_lock:
                old = self.loaded.get(queue.key)
                if old is not None:
                    if turn.reload is not None and turn.reload.kind == GROWN:  # to the largest context asked
                        asked = [old.largest_asked, *(w.num_ctx for q in queue.waiting.values() for w in q)]
                        request = request.grown(max(asked))
                        await self._refuse_if_never_fits(model, request)  # before the instance that serves goes
                    await self._unload(old)
                reload = turn.reload
                if reload is None and queue.key in self.exited:
                    reload = Reload(RUNNER_EXITED, "its runner exited")
                loaded = await self._load(model, request, queue, reload, waiter.requester, pin)
        except BaseException:
            self.users.of(waiter.requester).busy -= 1
            queue.loading = False
            self._dispatch(queue)  # the next in turn tries, and gets its own answer
            raise
        self.users.of(waiter.requester).busy -= 1  # counted again by _hold
        self._hold(loaded, waiter)
        queue.loading = False
        self._dispatch(queue)
        return loaded

    def _release(self, loaded: Loaded, requester: Requester) -> None:
        loaded.busy -= 1
        loaded.holders[requester.key] -= 1
        if not loaded.holders[requester.key]:
            del loaded.holders[requester.key]
        self.users.of(requester).busy -= 1
        self._share_threads()
        for queue in list(self.queues.values()):  # a slot here, or a requester under its cap everywhere
            self._dispatch(queue)
        self._after_use(loaded)

    def smaller_than_asked(self, model: LocalModel, options: dict[str, Any]) -> bool:
        """The loaded instance of `model` has slots smaller than the num_ctx these options ask for."""
        loaded = self.loaded.get(str(model.name))
        return loaded is not None and loaded.shape.num_ctx < self.load_request(model, options).num_ctx

    def position(self, loaded: Loaded, requester: Requester) -> int | None:
        """Where `requester`'s first waiting request stands in `loaded`'s turns (1: next), None if it has none."""
        order = loaded.queue.order(self.users.weight)
        return next((i + 1 for i, w in enumerate(order) if w.requester.key == requester.key), None)

    def _wait_estimate(self, model: LocalModel, requester: Requester) -> float:
        """Seconds until `requester`'s first waiting request is likely to start (Retry-After of a 429):
        its place in the turns times a request's mean time, over the slots."""
        stats = self.stats.get(model.name.display())
        mean = stats.duration_sum / stats.requests_total if stats and stats.requests_total else 1.0
        loaded = self.loaded.get(str(model.name))
        if loaded is None:
            return mean
        return mean * (self.position(loaded, requester) or 1) / loaded.num_parallel

    async def _load(self, model: LocalModel, request: LoadRequest, queue: ModelQueue, reload: Reload | None,
                    requester: Requester, pin: int) -> Loaded:
        while len(self.loaded) >= self.settings.max_loaded_models:
            await self._evict_one(reason=f"OLLAMA_MAX_LOADED_MODELS ({self.settings.max_loaded_models}) reached")
        memory = await asyncio.to_thread(self.estimate, model, request)
        sizes = await asyncio.to_thread(self.layer_sizes, model, memory)
        plan, machine = await self._make_room(model, request, sizes)
        threads = Threads(pin, pin) if pin else self.default_threads
        # Where there are GPUs, the runner sees only those of its plan (none for the CPU), so what it
        # allocates is what the plan says; without any, its environment is left as it is.
        gpu_ids = list(plan.gpu_ids) if machine.gpus else None
        runner = self.runner_factory(replace(
            request.load_config(plan, threads, gpu_ids),
            model_digest=model.model_layer.digest if model.model_layer else "", prompt_cache_ram=memory.prompt_cache,
            prompt_cache_dir=str(self.store.root / "cache"), prompt_cache_disk=self.settings.prompt_cache_disk))
        again = f", again: {reload.reason}" if reload else ""
        log.info("loading %s for %s (%s slots x %s tokens, %s threads%s): %s", model.name.display(), requester.label,
                 request.num_parallel, request.num_ctx, threads.decode, again, plan.reason)
        before = await asyncio.to_thread(devices.gpu_memory_used) if plan.gpus else {}
        await runner.start()
        self.exited.discard(queue.key)
        stats = self.stats_for(model)
        stats.loads_total += 1
        if reload is not None:
            stats.reloads_total[reload.kind] += 1
        loaded = Loaded(model, request, runner, memory, plan, queue, self.settings.keep_alive, threads, reload)
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

    def _place(self, sizes: LayerSizes, request: LoadRequest, machine: Machine, ceiling: bool = False) -> Plan:
        return place(sizes, self._gpus(machine, ceiling) if sizes.blocks else [], num_gpu=request.num_gpu,
                     main_gpu=request.main_gpu, spread=envconfig.sched_spread(), overhead=envconfig.gpu_overhead(),
                     no_gpu=machine.no_gpu or "no layer sizes in this model file")

    async def _make_room(self, model: LocalModel, request: LoadRequest, sizes: LayerSizes) -> tuple[Plan, Machine]:
        """Evict idle models until the new one is placed as well as it can be; refuse one that never fits in RAM.

        GPUs first, as Ollama: when our other models stand in the way of putting more layers on
        the GPUs, they go (idle ones now, busy ones once idle). Then RAM must hold what stays on the CPU.
        """
        name = model.name.display()
        while True:
            machine = await asyncio.to_thread(self.device_probe)
            plan = self._place(sizes, request, machine)
            best = self._place(sizes, request, machine, ceiling=True)
            if best.layers > plan.layers:
                keys = [f"gpu{g.index}" for g in best.gpus]
                holders = [x for x in self.loaded.values() if any(x.holds(k) for k in keys)]
                if holders:
                    wanted = ", ".join(f"gpu{g.index} {human_bytes_binary(g.size)}" for g in best.gpus)
                    why = f"{name} needs GPU memory for {best.layers}/{best.total_layers} layers ({wanted})"
                    await self._evict_or_wait(holders, keys[0], why)
                    continue  # evicted, or waited for a holder to go idle: look again
            held = sum(x.holds("cpu") for x in self.loaded.values())
            budget = self.settings.budget_for("cpu")
            room = machine.ram.free if budget is None else min(machine.ram.free, budget - held)
            if plan.ram <= room:
                return plan, machine
            self._refuse_past_ram(plan, machine)
            holders = [x for x in self.loaded.values() if x.holds("cpu")]
            why = f"{name} needs {human_bytes_binary(plan.ram)} of RAM, {human_bytes_binary(max(0, room))} free"
            await self._evict_or_wait(holders, "cpu", why)

    def _refuse_past_ram(self, plan: Plan, machine: Machine) -> None:
        """400 for a plan whose RAM part would not fit even with every model of ours gone."""
        held = sum(x.holds("cpu") for x in self.loaded.values())
        budget = self.settings.budget_for("cpu")
        ceiling = machine.ram.free + held if budget is None else min(machine.ram.free + held, budget)
        if plan.ram > ceiling:
            limit = "the memory budget" if budget is not None and budget < machine.ram.free + held else "is available"
            raise BadRequest(f"model requires more system memory ({human_bytes_binary(plan.ram)}) than {limit} "
                             f"({human_bytes_binary(ceiling)})")

    async def _refuse_if_never_fits(self, model: LocalModel, request: LoadRequest) -> None:
        """400 for a load that could not fit even with every model of ours gone, checked before any goes."""
        memory = await asyncio.to_thread(self.estimate, model, request)
        sizes = await asyncio.to_thread(self.layer_sizes, model, memory)
        machine = await asyncio.to_thread(self.device_probe)
        self._refuse_past_ram(self._place(sizes, request, machine, ceiling=True), machine)

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
            self.exited.add(loaded.key)
            self._disarm(loaded)
            self._dispatch(loaded.queue)  # requests waiting for it load it again

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

    def _share_threads(self) -> dict[Loaded, asyncio.Task[None]]:
        """Each busy model's threads: the most its running requests asked for (`num_thread`), else, for models
        generating on the CPU at the same time, an even split of the CPU's threads (one alone gets them all).

        Called when a request starts or ends. An idle model keeps its last threads until its next
        request. Returns the tasks telling runners their new counts.
        """
        busy = [x for x in self.loaded.values() if x.busy]
        sharing = sorted((x for x in busy if x.shares_cpu and not x.pins), key=lambda x: x.loaded_at)
        wanted = {x: self.default_threads for x in busy}
        wanted.update({x: self.default_threads.share(len(sharing), i) for i, x in enumerate(sharing)})
        wanted.update({x: Threads(max(x.pins), max(x.pins)) for x in busy if x.pins})
        sent = {}
        for loaded, threads in wanted.items():
            if threads != loaded.threads:
                loaded.threads = threads
                sent[loaded] = asyncio.get_running_loop().create_task(self._send_threads(loaded))
        return sent

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
        while (self.pending or any(u.busy for u in self.users.usage.values())) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.1)  # their last lines, written: out to the sockets before the loop stops


def _merged(model: LocalModel, options: dict[str, Any]) -> dict[str, Any]:
    """A request's options over its model's Modelfile parameters (an option sent as null is not set)."""
    return {**model.parameters, **{k: v for k, v in options.items() if v is not None}}


def _expiry(loaded: Loaded) -> tuple[float, float]:
    """Eviction order: the idle model that would expire soonest, then the oldest."""
    return (loaded.expires_at or float("inf"), loaded.loaded_at)


__all__ = ["Scheduler", "SchedulerSettings", "Loaded", "RemoteLoaded", "Requester", "RunnerError", "BUSY", "SHUTTING_DOWN",
           "ShuttingDown"]
