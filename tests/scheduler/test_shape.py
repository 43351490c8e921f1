"""A loaded model's shape: requests that fit it are served there, a larger num_ctx grows it only while nothing
runs on it, other load options wait for the next load, and every reload says why. Made-up runners: each load
is a FakeRunner in `FakeRunner.started`."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from jupyter_ollama.errors import BadRequest
from jupyter_ollama.scheduler.report import entry
from jupyter_ollama.scheduler.scheduler import Scheduler
from jupyter_ollama.scheduler.shape import GROWN, MODEL_CHANGED, RUNNER_EXITED
from jupyter_ollama.store.create import ModelCreator
from jupyter_ollama.store.store import ModelStore

from .fake_runner import FakeRunner
from .fake_scheduler import GIB, hold, make_store, run, until

# The sequence issue 26 tried: ten requests alternating options. Ollama reloads at each change.
ALTERNATING: list[dict[str, Any]] = [
    {"num_ctx": 2048}, {"num_ctx": 8192}, {"num_ctx": 4096}, {"num_batch": 256}, {"use_mlock": True},
    {"num_thread": 1}, {}, {}, {}, {},
]


@pytest.fixture(scope="module")
def store(tmp_path_factory, smollm2_gguf) -> ModelStore:
    return make_store(tmp_path_factory.mktemp("models"), smollm2_gguf)


def contexts() -> list[int]:
    return [r.config.num_ctx for r in FakeRunner.started]


def test_alternating_options_reload_once_to_the_largest_context(store):
    async def scenario(scheduler: Scheduler) -> None:
        for options in ALTERNATING:
            async with scheduler.use(store.get("a"), options):
                pass
        assert contexts() == [2048, 8192]  # grown once, when asked for more while idle; never shrunk
        assert FakeRunner.started[0].exit_code == 0 and FakeRunner.started[1].alive
        stats = scheduler.stats_for(store.get("a"))
        assert stats.loads_total == 2 and stats.reloads_total == {GROWN: 1, MODEL_CHANGED: 0, RUNNER_EXITED: 0}
        shown = entry(scheduler, scheduler.loaded["registry.ollama.ai/library/a:latest"])
        assert shown["context_length"] == 8192
        assert shown["last_reload"]["reason"] == "num_ctx 8192 > 2048 loaded, model idle"
        assert shown["last_reload"]["kind"] == GROWN

    run(store, scenario, context_length=4096)


def test_a_smaller_num_ctx_runs_in_the_larger_slots_at_once(store):
    async def scenario(scheduler: Scheduler) -> None:
        release = asyncio.Event()
        holder = hold(scheduler, store.get("a"), release, {"num_ctx": 4096})
        await until(lambda: len(FakeRunner.started) == 1, "the first load")
        async with scheduler.use(store.get("a"), {"num_ctx": 256}) as loaded:  # beside the running request
            assert loaded.runner is FakeRunner.started[0] and loaded.busy == 2
        release.set()
        await holder
        assert contexts() == [4096]

    run(store, scenario)


def test_a_larger_num_ctx_beside_a_running_request_is_served_at_the_loaded_size(store):
    async def scenario(scheduler: Scheduler) -> None:
        release = asyncio.Event()
        stream = hold(scheduler, store.get("a"), release, {"num_ctx": 2048})
        await until(lambda: len(FakeRunner.started) == 1, "the first load")
        async with scheduler.use(store.get("a"), {"num_ctx": 8192}) as loaded:
            assert loaded.runner is FakeRunner.started[0] and loaded.shape.num_ctx == 2048
        assert FakeRunner.started[0].alive and not stream.done()  # the stream goes on, untouched
        release.set()
        await stream
        assert contexts() == [2048]
        # Idle now: the next request that asks for more grows it, to the largest context asked (8192).
        async with scheduler.use(store.get("a"), {"num_ctx": 4096}) as loaded:
            assert loaded.shape.num_ctx == 8192
        assert contexts() == [2048, 8192]

    run(store, scenario)


def test_with_every_slot_busy_a_larger_num_ctx_waits_and_grows_after(store):
    async def scenario(scheduler: Scheduler) -> None:
        release = asyncio.Event()
        stream = hold(scheduler, store.get("a"), release, {"num_ctx": 2048})
        await until(lambda: len(FakeRunner.started) == 1, "the first load")
        larger = asyncio.create_task(scheduler.use(store.get("a"), {"num_ctx": 8192}).__aenter__())
        await until(lambda: scheduler.loaded["registry.ollama.ai/library/a:latest"].queued == 1, "it to queue")
        assert FakeRunner.started[0].alive and len(FakeRunner.started) == 1  # nothing reloads under the stream
        release.set()
        await stream
        loaded = await larger
        assert contexts() == [2048, 8192] and loaded.runner is FakeRunner.started[1]
        assert FakeRunner.started[0].exit_code == 0  # stopped after the stream ended

    run(store, scenario, num_parallel=1)


def test_a_prompt_that_did_not_fit_waits_for_the_running_requests_and_the_next_go_after_it(store):
    """`grow`: the request's prompt did not fit the loaded slots (the runner said so): its turn closes the
    gate, the requests running end untouched, the model grows, it runs, then the others."""

    async def scenario(scheduler: Scheduler) -> None:
        release, order = asyncio.Event(), []
        stream = hold(scheduler, store.get("a"), release, {"num_ctx": 2048})
        await until(lambda: len(FakeRunner.started) == 1, "the first load")

        async def request(name: str, options: dict[str, Any], grow: bool = False) -> int:
            async with scheduler.use(store.get("a"), options, grow=grow) as loaded:
                order.append(name)
                return loaded.shape.num_ctx

        grower = asyncio.create_task(request("grower", {"num_ctx": 8192}, grow=True))
        queue = scheduler.queues["registry.ollama.ai/library/a:latest"]
        await until(lambda: len(queue) == 1, "the grower to wait")
        later = asyncio.create_task(request("later", {"num_ctx": 2048}))  # fits, and a slot is free: waits its turn
        await until(lambda: len(queue) == 2, "the later request to wait")
        assert order == [] and FakeRunner.started[0].alive
        release.set()
        await stream
        assert await grower == 8192 and await later == 8192
        assert order == ["grower", "later"] and contexts() == [2048, 8192]
        assert scheduler.loaded["registry.ollama.ai/library/a:latest"].reload.reason == (
            "num_ctx 8192 > 2048 loaded, the prompt did not fit")

    run(store, scenario)


def test_growth_stops_at_the_training_context(store):
    async def scenario(scheduler: Scheduler) -> None:
        for options in ({"num_ctx": 2048}, {"num_ctx": 100_000}, {"num_ctx": 100_000}):
            async with scheduler.use(store.get("a"), options):
                pass
        assert contexts() == [2048, 8192]  # SmolLM2 was trained on 8192

    run(store, scenario)


def test_other_load_options_never_reload_and_apply_at_the_next_load(store):
    async def scenario(scheduler: Scheduler) -> None:
        for options in ({"num_batch": 512}, {"num_batch": 128}, {"use_mmap": False}, {"num_gpu": 0},
                        {"num_parallel": 1}, {"main_gpu": 1}):
            async with scheduler.use(store.get("a"), options):
                pass
        [runner] = FakeRunner.started
        assert (runner.config.num_batch, runner.config.use_mmap, runner.config.num_parallel) == (512, None, 2)
        await scheduler.unload(store.get("a"))
        async with scheduler.use(store.get("a"), {"num_batch": 128, "num_parallel": 1}):
            pass
        assert (FakeRunner.started[1].config.num_batch, FakeRunner.started[1].config.num_parallel) == (128, 1)
        assert scheduler.stats_for(store.get("a")).reloads_total[GROWN] == 0

    run(store, scenario)


def test_num_thread_applies_per_request_without_a_reload(store):
    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(store.get("a"), {}):
            pass
        [runner] = FakeRunner.started
        assert runner.threads == (2, 2)  # the CPU's threads (two cores)
        first, second = asyncio.Event(), asyncio.Event()
        one = hold(scheduler, store.get("a"), first, {"num_thread": 1})
        await until(lambda: runner.threads == (1, 1), "the request's thread count")
        three = hold(scheduler, store.get("a"), second, {"num_thread": 3})
        await until(lambda: runner.threads == (3, 3), "the larger of the two counts asked")
        second.set()
        await three
        await until(lambda: runner.threads == (1, 1), "the count of the request still running")
        first.set()
        await one
        async with scheduler.use(store.get("a"), {}):
            assert runner.threads == (2, 2)  # a request that sets none shares the CPU again
        assert len(FakeRunner.started) == 1

    run(store, scenario)


def test_a_model_created_again_reloads_once_its_requests_end(store):
    async def scenario(scheduler: Scheduler) -> None:
        release = asyncio.Event()
        stream = hold(scheduler, store.get("again"), release)
        await until(lambda: len(FakeRunner.started) == 1, "the first load")
        ModelCreator(store, progress=lambda event: None).create({"model": "again", "from": "a", "parameters": {"top_k": 5}})
        changed = asyncio.create_task(scheduler.use(store.get("again"), {}).__aenter__())
        await asyncio.sleep(0.05)
        assert not changed.done() and FakeRunner.started[0].alive  # the running request is not cut short
        release.set()
        await stream
        loaded = await changed
        assert loaded.runner is FakeRunner.started[1] and loaded.reload.kind == MODEL_CHANGED
        assert scheduler.stats_for(store.get("again")).reloads_total[MODEL_CHANGED] == 1

    ModelCreator(store, progress=lambda event: None).create({"model": "again", "from": "a"})
    run(store, scenario)
    store.delete("again")


def test_a_runner_that_died_is_loaded_again_and_counted(store):
    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(store.get("a"), {}):
            pass
        FakeRunner.started[0].crash()
        await until(lambda: not scheduler.loaded, "the dead runner to be dropped")
        async with scheduler.use(store.get("a"), {}) as loaded:
            assert loaded.reload is not None and loaded.reload.kind == RUNNER_EXITED
        assert scheduler.stats_for(store.get("a")).reloads_total[RUNNER_EXITED] == 1

    run(store, scenario)


def test_show_tells_what_a_load_takes_and_what_is_loaded(store):
    async def scenario(scheduler: Scheduler) -> None:
        assert "loaded" not in scheduler.capacity(store.get("a"), {"num_ctx": 1024})
        async with scheduler.use(store.get("a"), {"num_ctx": 2048}):
            pass
        shown = scheduler.capacity(store.get("a"), {"num_ctx": 1024})
        assert shown["num_ctx"] == 1024 and shown["loaded"] == {"num_ctx": 2048, "num_parallel": 2}

    run(store, scenario)


def test_a_growth_that_could_never_fit_is_refused_and_the_loaded_model_stays(store):
    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(store.get("a"), {"num_ctx": 512}):
            pass
        with pytest.raises(BadRequest) as refused:
            async with scheduler.use(store.get("a"), {"num_ctx": 8192, "num_parallel": 512}):
                pass
        assert refused.value.message.startswith("model requires more system memory")
        assert FakeRunner.started[0].alive and len(FakeRunner.started) == 1  # refused before it was unloaded
        async with scheduler.use(store.get("a"), {"num_ctx": 512}) as loaded:  # and it still serves
            assert loaded.runner is FakeRunner.started[0]

    run(store, scenario, memory_budget={"cpu": 2 * GIB})
