"""Scheduler policy with made-up runners and devices: loads, keep-alive, eviction, queue, memory, threads.

Each test runs in milliseconds; test_scheduler.py runs the same kind of scenarios on real llama.cpp runners.
When a loaded model is loaded again is test_shape.py's; turns between requesters are test_turns.py's.
"""

from __future__ import annotations

import asyncio
import shutil
from typing import Any

import pytest

from jupyter_ollama.digests import sha256_file
from jupyter_ollama.errors import BadRequest, Busy
from jupyter_ollama.scheduler.cpus import CpuBudget, Threads
from jupyter_ollama.scheduler.devices import Device
from jupyter_ollama.scheduler.placement import Gpu, LayerSizes, place
from jupyter_ollama.scheduler.report import entry
from jupyter_ollama.scheduler.scheduler import Scheduler, SchedulerSettings
from jupyter_ollama.store.create import ModelCreator
from jupyter_ollama.store.store import ModelStore
from jupyter_ollama.views import processor

from .fake_runner import FakeRunner
from .fake_scheduler import GIB, NAMES, TWO_CORES, hold, make_store, run, until


@pytest.fixture(scope="module")
def store(tmp_path_factory, smollm2_gguf) -> ModelStore:
    return make_store(tmp_path_factory.mktemp("models"), smollm2_gguf)


def loaded_names(scheduler: Scheduler) -> list[str]:
    return sorted(x.model.name.model for x in scheduler.loaded.values())


def test_a_model_loads_once_on_first_use(store):
    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(store.get("a"), {}) as first:
            assert first.busy == 1
        async with scheduler.use(store.get("a"), {}) as again:
            assert again is first
        [runner] = FakeRunner.started
        assert (runner.config.num_ctx, runner.config.num_parallel, runner.config.threads) == (512, 2, 2)
        assert runner.config.num_gpu == 0  # placed on the CPU

    run(store, scenario)


def test_keep_alive_zero_unloads_when_the_request_ends(store):
    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(store.get("a"), {}, keep_alive=0):
            assert loaded_names(scheduler) == ["a"]
        await until(lambda: not scheduler.loaded, "the unload")
        assert FakeRunner.started[0].exit_code == 0

    run(store, scenario)


def test_an_idle_model_expires(store):
    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(store.get("a"), {}, keep_alive=0.05) as loaded:
            assert loaded.expires_at is None  # never while busy
        assert loaded.expires_at is not None
        await until(lambda: not scheduler.loaded, "expiry")

    run(store, scenario)


def test_past_max_loaded_models_the_idle_model_expiring_first_goes(store):
    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(store.get("a"), {}, keep_alive=100):
            pass
        async with scheduler.use(store.get("b"), {}, keep_alive=10):
            pass
        async with scheduler.use(store.get("c"), {}):
            assert loaded_names(scheduler) == ["a", "c"]
        assert scheduler.stats_for(store.get("b")).evictions_total == 1

    run(store, scenario, max_loaded_models=2)


def test_past_max_loaded_models_a_load_waits_for_a_busy_model(store):
    async def scenario(scheduler: Scheduler) -> None:
        release = asyncio.Event()
        holder = hold(scheduler, store.get("a"), release)
        await until(lambda: loaded_names(scheduler) == ["a"], "a to load")
        waiting = asyncio.create_task(scheduler.use(store.get("b"), {}).__aenter__())
        await asyncio.sleep(0.05)
        assert not waiting.done() and loaded_names(scheduler) == ["a"]
        release.set()
        await holder
        await waiting
        assert loaded_names(scheduler) == ["b"]

    run(store, scenario, max_loaded_models=1)


def test_past_the_queue_limit_requests_get_503(store):
    async def scenario(scheduler: Scheduler) -> None:
        release = asyncio.Event()
        tasks = [hold(scheduler, store.get("a"), release)]
        await until(lambda: bool(scheduler.loaded) and scheduler.loaded["registry.ollama.ai/library/a:latest"].busy == 1,
                    "the slot to be held")
        tasks.append(hold(scheduler, store.get("a"), release))  # queues for the only slot
        await until(lambda: scheduler.pending == 1, "a queued request")
        with pytest.raises(Busy) as info:
            async with scheduler.use(store.get("a"), {}):
                pass
        assert info.value.status == 503
        release.set()
        await asyncio.gather(*tasks)

    run(store, scenario, num_parallel=1, max_queue=1)


def test_a_crashed_runner_is_dropped_and_the_next_request_reloads(store):
    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(store.get("a"), {}):
            pass
        FakeRunner.started[0].crash()
        await until(lambda: not scheduler.loaded, "the dead runner to be dropped")
        async with scheduler.use(store.get("a"), {}) as again:
            assert again.runner is FakeRunner.started[1]

    run(store, scenario)


def test_memory_idle_models_make_room_and_a_model_that_never_fits_is_refused(store):
    size = None

    async def scenario(scheduler: Scheduler) -> None:
        nonlocal size
        async with scheduler.use(store.get("a"), {}) as first:
            size = first.memory.total
        # Room for one model: the idle one goes to make room for the next.
        async with scheduler.use(store.get("b"), {}):
            assert loaded_names(scheduler) == ["b"]
        [evicted] = scheduler.evictions
        assert (evicted.model, evicted.device) == ("a:latest", "cpu") and "of RAM" in evicted.reason

    # The probe reports free memory as it is before any load: the budget is what limits here.
    run(store, scenario, memory_budget={"cpu": int(1.5 * store_model_size(store))})
    assert size is not None

    async def too_big(scheduler: Scheduler) -> None:
        with pytest.raises(BadRequest) as info:
            async with scheduler.use(store.get("a"), {}):
                pass
        assert info.value.status == 400 and info.value.message.startswith("model requires more system memory")
        assert not FakeRunner.started

    run(store, too_big, free=1 << 20)


def store_model_size(store: ModelStore) -> int:
    scheduler = Scheduler(store, SchedulerSettings(num_parallel=2, context_length=512), CpuBudget(2, 2, None))
    return int(scheduler.capacity(store.get("a"))["memory"]["total"])


def test_a_busy_model_holding_the_memory_makes_a_load_wait(store):
    async def scenario(scheduler: Scheduler) -> None:
        release = asyncio.Event()
        holder = hold(scheduler, store.get("a"), release)
        await until(lambda: loaded_names(scheduler) == ["a"], "a to load")
        waiting = asyncio.create_task(scheduler.use(store.get("b"), {}).__aenter__())
        await until(lambda: scheduler.waiting_for_memory == 1, "the load to wait for memory")
        release.set()
        await holder
        await waiting
        assert loaded_names(scheduler) == ["b"]

    run(store, scenario, memory_budget={"cpu": int(1.5 * store_model_size(store))})


def test_models_busy_together_split_the_threads(store):
    async def scenario(scheduler: Scheduler) -> None:
        release = asyncio.Event()
        holding: list[Any] = []

        async def hold(name: str) -> None:
            async with scheduler.use(store.get(name), {}) as loaded:
                holding.append(loaded)
                await release.wait()

        tasks = []
        for name in NAMES:
            tasks.append(asyncio.create_task(hold(name)))
            await until(lambda: len(holding) == len(tasks), f"{name} to be busy")
        await asyncio.sleep(0.01)  # the thread changes are sent in tasks of their own
        assert [x.threads for x in holding] == [Threads(2, 3), Threads(1, 3), Threads(1, 2)]
        assert [r.threads for r in FakeRunner.started] == [(2, 3), (1, 3), (1, 2)]
        release.set()
        await asyncio.gather(*tasks)
        async with scheduler.use(store.get("c"), {}):
            await asyncio.sleep(0.01)
            assert FakeRunner.started[2].threads == (4, 8)  # alone again: all of them

    run(store, scenario, cpu=CpuBudget(allowed=8, physical=4, quota=None))


def test_the_kv_cache_type_reaches_the_runner_and_the_memory_estimate(store):
    f16 = Scheduler(store, SchedulerSettings(num_parallel=2, context_length=512), TWO_CORES).capacity(store.get("a"))
    q8 = Scheduler(store, SchedulerSettings(num_parallel=2, context_length=512, kv_cache_type="q8_0"),
                   TWO_CORES).capacity(store.get("a"))
    assert (f16["kv_cache_type"], q8["kv_cache_type"]) == ("f16", "q8_0")
    # q8_0 keeps 32 values in 34 bytes: a little over half of f16's 64.
    assert q8["memory"]["kv_cache"] / f16["memory"]["kv_cache"] == pytest.approx(34 / 64, rel=0.01)
    assert q8["memory"]["total"] < f16["memory"]["total"]

    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(store.get("a"), {}):
            pass
        [runner] = FakeRunner.started
        assert (runner.config.kv_cache_type, runner.config.flash_attention) == ("q4_0", None)

    run(store, scenario, kv_cache_type="q4_0")


def test_a_projector_reaches_the_runner_and_the_memory_estimate(store, tmp_path):
    from tests.projector import write_projector

    projector_gguf = write_projector(tmp_path / "mmproj.gguf", text_width=576)  # SmolLM2's width
    digest = sha256_file(projector_gguf)
    shutil.copyfile(projector_gguf, store.blobs.path(digest))
    ModelCreator(store, progress=lambda event: None).create(
        {"model": "seeing", "files": {"m.gguf": store.get("a").model_layer.digest, "mmproj.gguf": digest}})
    seeing = store.get("seeing")
    assert seeing.projector_paths == [store.blobs.path(digest)] and seeing.model_layer == store.get("a").model_layer
    plain = Scheduler(store, SchedulerSettings(num_parallel=2, context_length=512), TWO_CORES).capacity(store.get("a"))
    shown = Scheduler(store, SchedulerSettings(num_parallel=2, context_length=512), TWO_CORES).capacity(seeing)
    # Its weights and one image's activations (17 patches of a 64-wide, one-block tower) on top of the model's.
    assert projector_gguf.stat().st_size < shown["memory"]["projector"] < projector_gguf.stat().st_size + (1 << 20)
    assert shown["memory"]["total"] == plain["memory"]["total"] + shown["memory"]["projector"]

    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(seeing, {}):
            pass
        [runner] = FakeRunner.started
        assert runner.config.projector_path == str(store.blobs.path(digest))

    run(store, scenario)
    store.delete("seeing")


def test_a_quantized_kv_cache_needs_flash_attention(store):
    settings = SchedulerSettings(kv_cache_type="q8_0", flash_attention=False)
    assert settings.effective_kv_cache_type == "f16"  # as Ollama: without flash attention the cache stays f16
    assert SchedulerSettings(kv_cache_type="q8_0", flash_attention=None).effective_kv_cache_type == "q8_0"


def test_kv_cache_type_from_the_environment(monkeypatch):
    for value, expected in (("q8_0", "q8_0"), ("Q4_0", "q4_0"), ("bf16", "f16"), ("", "f16")):
        monkeypatch.setenv("OLLAMA_KV_CACHE_TYPE", value)
        assert SchedulerSettings().kv_cache_type == expected
    for value, expected in (("1", True), ("false", False), ("", None)):
        monkeypatch.setenv("OLLAMA_FLASH_ATTENTION", value)
        assert SchedulerSettings().flash_attention is expected


def test_prompt_cache_sizes_from_the_environment(monkeypatch):
    for ram, disk, expected in (("", "", (2 * GIB, 10 * GIB)), ("0", "0", (0, 0)), ("512MiB", "1G", (512 << 20, 10**9)),
                                ("lots", "-1", (2 * GIB, 10 * GIB))):  # a malformed size is the default (and logged)
        monkeypatch.setenv("OLLAMA_PROMPT_CACHE_RAM", ram)
        monkeypatch.setenv("OLLAMA_PROMPT_CACHE_DISK", disk)
        settings = SchedulerSettings()
        assert (settings.prompt_cache_ram, settings.prompt_cache_disk) == expected


def test_the_prompt_cache_counts_in_system_memory_wherever_the_layers_go(store):
    """The RAM tier's budget is in the estimate (at most the KV cache's size: one more set of slots' worth) and in
    system memory even with every layer on a GPU; the runner gets it with the model's digest and the cache's folder."""
    model = store.get("a")

    def capacity(ram: int) -> dict[str, Any]:
        return Scheduler(store, SchedulerSettings(num_parallel=2, context_length=512, prompt_cache_ram=ram),
                         TWO_CORES).capacity(model)

    off, small, huge = capacity(0), capacity(1 << 20), capacity(1 << 40)
    assert "prompt_cache" not in off["memory"] and off["prompt_cache"] == {"ram": 0, "disk": 10 * GIB}
    assert small["memory"]["prompt_cache"] == 1 << 20 and small["memory"]["total"] == off["memory"]["total"] + (1 << 20)
    assert huge["memory"]["prompt_cache"] == off["memory"]["kv_cache"]

    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(model, {}) as loaded:
            [runner] = FakeRunner.started
            assert (runner.config.prompt_cache_ram, runner.config.prompt_cache_disk) == (1 << 20, 1 << 30)
            assert runner.config.model_digest == model.model_layer.digest
            assert runner.config.prompt_cache_dir == str(store.root / "cache")
            assert loaded.size_vram == whole_on_one_gpu(store) and loaded.plan.ram == 1 << 20
            shown = entry(scheduler, loaded)
            assert shown["memory"]["prompt_cache"] == shown["prompt_cache"]["ram_budget"] == 1 << 20

    run(store, scenario, gpus=[gpu(0, 80 * GIB)], prompt_cache_ram=1 << 20, prompt_cache_disk=1 << 30)


def test_a_draft_model_reaches_the_runner_and_counts_in_system_memory(store):
    """Its weights, KV cache for every slot and compute buffer: on the CPU wherever the model's layers go."""
    model = store.get("a")
    ModelCreator(store, progress=lambda event: None).create(
        {"model": "drafted", "from": "a", "draft_files": {"d.gguf": model.model_layer.digest}})
    drafted = store.get("drafted")
    # No prompt cache: the model's own total is then what it takes as a draft (a draft keeps no prompt cache).
    scheduler = Scheduler(store, SchedulerSettings(num_parallel=2, context_length=512, prompt_cache_ram=0), TWO_CORES)
    plain, with_draft = scheduler.capacity(model)["memory"], scheduler.capacity(drafted)["memory"]
    assert "draft" not in plain and with_draft["draft"] == plain["total"]  # the model drafting for itself
    assert with_draft["total"] == 2 * plain["total"]

    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(drafted, {}) as loaded:
            [runner] = FakeRunner.started
            assert runner.config.draft_model_path == str(drafted.draft_path)
            assert loaded.size_vram == whole_on_one_gpu(store) and loaded.plan.ram == plain["total"]
            assert entry(scheduler, loaded)["draft"] == {"digest": model.model_layer.digest, "size": plain["total"]}

    run(store, scenario, gpus=[gpu(0, 40 * GIB)])
    store.delete("drafted")


# -- GPUs: the scheduler places with placement.py and tells the runner -------------------------------


def gpu(index: int, free: int, total: int = 80 * GIB) -> Device:
    return Device("gpu", index, "NVIDIA H200", total, free, f"GPU-{index}")


def model_sizes(store: ModelStore) -> LayerSizes:
    scheduler = Scheduler(store, SchedulerSettings(num_parallel=2, context_length=512, prompt_cache_ram=0), TWO_CORES)
    model = store.get("a")
    return scheduler.layer_sizes(model, scheduler.estimate(model, scheduler.load_request(model, {})))


def whole_on_one_gpu(store: ModelStore) -> int:
    return place(model_sizes(store), [Gpu(0, "x", "", 80 * GIB, 80 * GIB)]).size_vram


def test_the_whole_model_on_the_gpu_with_most_room(store):
    layers = model_sizes(store).count

    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(store.get("a"), {}) as loaded:
            [runner] = FakeRunner.started
            assert (runner.config.num_gpu, runner.config.gpu_ids, runner.config.tensor_split) == (layers, ["GPU-1"], [])
            assert loaded.size_vram == loaded.size == whole_on_one_gpu(store)
            shown = entry(scheduler, loaded)
            assert (processor(shown), shown["device"], shown["placement"]["gpus"][0]["layers"]) == ("100% GPU", "gpu1", layers)

    run(store, scenario, gpus=[gpu(0, 2 * GIB), gpu(1, 40 * GIB)])


def test_a_partial_offload_reaches_the_runner(store):
    sizes = model_sizes(store)

    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(store.get("a"), {}) as loaded:
            [runner] = FakeRunner.started
            assert 0 < runner.config.num_gpu == loaded.plan.layers < sizes.count
            assert runner.config.gpu_ids == ["GPU-0"] and runner.config.tensor_split == []
            assert 0 < loaded.size_vram < loaded.size and processor(entry(scheduler, loaded)).endswith("CPU/GPU")
            # What stays in RAM is the rest: the blocks not offloaded and the head.
            assert loaded.plan.ram == sum(sizes.blocks[: sizes.count - 1 - loaded.plan.layers]) + sizes.output
            assert loaded.memory_by_device == {"gpu0": loaded.size_vram, "cpu": loaded.plan.ram}

    run(store, scenario, gpus=[gpu(0, int(0.9 * whole_on_one_gpu(store)))])


def test_two_gpus_too_small_alone_share_the_model_and_the_runner_gets_the_split(store):
    room = whole_on_one_gpu(store) - (10 << 20)  # each pays CUDA's context and a compute buffer: together they fit

    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(store.get("a"), {}) as loaded:
            [runner] = FakeRunner.started
            assert runner.config.gpu_ids == ["GPU-0", "GPU-1"] and runner.config.num_gpu == loaded.plan.total_layers
            assert runner.config.tensor_split == list(loaded.plan.tensor_split) and sum(runner.config.tensor_split) == 31
            assert loaded.size == loaded.size_vram == loaded.vram_on(0) + loaded.vram_on(1)
            assert all(loaded.vram_on(i) <= room for i in (0, 1))
            assert loaded.memory_by_device == {"gpu0": loaded.vram_on(0), "gpu1": loaded.vram_on(1)}  # for /metrics

    run(store, scenario, gpus=[gpu(0, room), gpu(1, room)])


def test_num_gpu_zero_keeps_the_runner_off_the_gpus(store):
    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(store.get("a"), {"num_gpu": 0, "main_gpu": 1}) as loaded:
            [runner] = FakeRunner.started
            assert (runner.config.num_gpu, runner.config.gpu_ids) == (0, [])  # CUDA shows it no GPU at all
            assert loaded.size_vram == 0 and loaded.size == loaded.memory.total
            assert processor(entry(scheduler, loaded)) == "100% CPU"

    run(store, scenario, gpus=[gpu(0, 40 * GIB), gpu(1, 40 * GIB)])


def test_an_idle_model_on_the_gpu_is_evicted_for_a_fuller_offload_with_the_reason(store):
    whole = whole_on_one_gpu(store)

    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(store.get("a"), {}):
            pass
        async with scheduler.use(store.get("b"), {}) as loaded:
            assert loaded_names(scheduler) == ["b"] and loaded.size_vram == whole
        [evicted] = scheduler.evictions
        assert (evicted.model, evicted.device) == ("a:latest", "gpu0")
        assert evicted.reason.startswith("b:latest needs GPU memory for 31/31 layers (gpu0 ")

    # The fake GPU's free memory never drops: what `a` holds is counted from the scheduler's own books.
    run(store, scenario, gpus=[gpu(0, int(1.5 * whole), total=int(1.5 * whole))])


def test_an_unload_waits_for_nvml_to_show_the_gpu_memory_free(monkeypatch):
    readings = iter([{0: 9 * GIB}, {0: 8 * GIB}, {0: 1 * GIB}])  # a lagging driver, then free
    taken = []

    def used() -> dict[int, int]:
        taken.append(next(readings))
        return taken[-1]

    monkeypatch.setattr("jupyter_ollama.scheduler.devices.gpu_memory_used", used)
    asyncio.run(Scheduler._vram_released({0: 9 * GIB}, 8 * GIB))
    assert len(taken) == 3  # until 80% of the model's 8 GiB showed as free
