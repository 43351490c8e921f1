"""The scheduler with real runner subprocesses on SmolLM2: load, keep-alive, growth, eviction, queue, crashes."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from jupyter_ollama.digests import sha256_file
from jupyter_ollama.errors import Busy
from jupyter_ollama.runners.process import RUNNER_STOPPED, RunnerError
from jupyter_ollama.runners.protocol import CompletionRequest, Done, Piece, Prompt
from jupyter_ollama.scheduler import report
from jupyter_ollama.scheduler.cpus import CpuBudget, Threads
from jupyter_ollama.scheduler.scheduler import BUSY, Loaded, Scheduler, SchedulerSettings
from jupyter_ollama.store.create import ModelCreator
from jupyter_ollama.store.store import ModelStore

# One thread per runner: the test machine is small and shared, and spinning threads slow everyone.
OPTIONS = {"num_thread": 1}


@pytest.fixture(scope="module")
def store(tmp_path_factory, smollm2_gguf) -> ModelStore:
    models = ModelStore(tmp_path_factory.mktemp("models"))
    digest = sha256_file(smollm2_gguf)
    target = models.blobs.path(digest)
    try:
        os.link(smollm2_gguf, target)
    except OSError:
        shutil.copyfile(smollm2_gguf, target)
    ModelCreator(models, progress=lambda event: None).create({"model": "smollm2", "files": {"m.gguf": digest}})
    models.copy("smollm2", "smollm2-copy")
    return models


def settings(**overrides: Any) -> SchedulerSettings:
    values = dict(num_parallel=2, max_loaded_models=3, max_queue=512, context_length=512, keep_alive=300.0)
    return SchedulerSettings(**{**values, **overrides})


def run(store: ModelStore, scenario: Callable[[Scheduler], Awaitable[None]], cpu: CpuBudget | None = None,
        **overrides: Any) -> None:
    """Run `scenario` with a fresh scheduler, always shutting it down (no runner outlives a test)."""

    async def main() -> None:
        scheduler = Scheduler(store, settings(**overrides), cpu)
        try:
            await asyncio.wait_for(scenario(scheduler), 120)
        finally:
            await scheduler.shutdown()

    asyncio.run(main())


async def until(condition: Callable[[], bool], timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def generate(loaded: Loaded, n: int = 3) -> str:
    request = CompletionRequest(Prompt(raw="Once upon a time"), {"temperature": 0, "num_predict": n})
    events = [event async for event in loaded.runner.completion(request)]
    assert isinstance(events[-1], Done) and events[-1].eval_count == n
    return "".join(e.content for e in events if isinstance(e, Piece))


def pid(loaded: Loaded) -> int:
    assert loaded.runner.process is not None
    return loaded.runner.process.pid


def names(scheduler: Scheduler) -> list[str]:
    return [entry["name"] for entry in report.summary(scheduler)]


def test_load_on_first_use(store):
    async def scenario(scheduler: Scheduler) -> None:
        model = store.get("smollm2")
        assert report.summary(scheduler) == []
        async with scheduler.use(model, OPTIONS) as loaded:
            [entry] = report.summary(scheduler)
            assert entry["name"] == entry["model"] == "smollm2:latest"
            assert entry["digest"] == model.manifest_digest
            assert entry["slots_total"] == 2 and entry["slots_busy"] == 1 and entry["requests_queued"] == 0
            assert entry["context_length"] == 512
            assert entry["size"] >= model.size and entry["size_vram"] == 0
            assert entry["details"]["family"] == "llama"
            assert await generate(loaded)
        [entry] = report.summary(scheduler)
        assert entry["slots_busy"] == 0
        assert loaded.expires_at is not None and 250 < loaded.expires_at - time.time() <= 300
        # A second request finds it loaded: the same runner serves it.
        async with scheduler.use(model, OPTIONS) as again:
            assert again is loaded and pid(again) == pid(loaded)
            assert loaded.expires_at is None  # no expiry while busy

    run(store, scenario)


def test_keep_alive_zero_unloads_after_the_request(store):
    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(store.get("smollm2"), OPTIONS, keep_alive=0) as loaded:
            await generate(loaded)
            assert names(scheduler) == ["smollm2:latest"]
        await until(lambda: report.summary(scheduler) == [], what="unload")
        assert await asyncio.wait_for(loaded.runner.process.wait(), 10) == 0

    run(store, scenario)


def test_short_keep_alive_expires(store):
    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(store.get("smollm2"), OPTIONS, keep_alive=0.5) as loaded:
            await generate(loaded)
        assert loaded.expires_at is not None
        await until(lambda: report.summary(scheduler) == [], what="expiry")
        assert await asyncio.wait_for(loaded.runner.process.wait(), 10) == 0

    run(store, scenario)


def test_keep_alive_forever_stays(store):
    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(store.get("smollm2"), OPTIONS, keep_alive=None) as loaded:
            await generate(loaded)
        assert loaded.expires_at is None and loaded.timer is None  # nothing will unload it
        await asyncio.sleep(0.3)
        [entry] = report.summary(scheduler)
        assert int(entry["expires_at"][:4]) > 2200  # Ollama shows "forever" as a far-future date
        assert loaded.runner.alive

    run(store, scenario, keep_alive=0.1)  # the per-request value wins over the default


def test_a_larger_context_grows_an_idle_model_and_a_smaller_one_runs_in_it(store):
    async def scenario(scheduler: Scheduler) -> None:
        model = store.get("smollm2")
        async with scheduler.use(model, {**OPTIONS, "num_ctx": 256}) as first:
            pass
        async with scheduler.use(model, {**OPTIONS, "num_ctx": 512}) as second:
            assert pid(second) != pid(first)  # idle: loaded again, larger
            assert first.runner.process.returncode is not None
            [entry] = report.summary(scheduler)
            assert entry["context_length"] == 512
            assert entry["last_reload"]["reason"] == "num_ctx 512 > 256 loaded, model idle"
            assert (await second.runner.health()).slots[0].n_ctx == 512
            await generate(second)
        async with scheduler.use(model, {**OPTIONS, "num_ctx": 256, "num_batch": 64}) as same:
            assert same is second  # a smaller context and another batch size: served as loaded
            await generate(same)

    run(store, scenario)


def test_max_loaded_models_evicts_the_idle_model(store):
    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(store.get("smollm2"), OPTIONS) as first:
            await generate(first)
        async with scheduler.use(store.get("smollm2-copy"), OPTIONS) as second:
            assert names(scheduler) == ["smollm2-copy:latest"]
            assert await asyncio.wait_for(first.runner.process.wait(), 10) == 0
            await generate(second)

    run(store, scenario, max_loaded_models=1)


def test_queue_limit_answers_busy(store):
    async def scenario(scheduler: Scheduler) -> None:
        model = store.get("smollm2")
        release = asyncio.Event()
        holding: list[Loaded] = []

        async def hold() -> None:
            async with scheduler.use(model, OPTIONS) as loaded:
                holding.append(loaded)
                await release.wait()

        first = asyncio.create_task(hold())
        await until(lambda: len(holding) == 1, what="the first request to hold the slot")
        second = asyncio.create_task(hold())  # the only slot is taken: this one queues
        await until(lambda: holding[0].queued == 1, what="the second request to queue")
        assert report.summary(scheduler)[0]["requests_queued"] == 1

        with pytest.raises(Busy) as info:
            async with scheduler.use(model, OPTIONS):
                pass
        assert info.value.status == 503
        assert info.value.message == "server busy, please try again.  maximum pending requests exceeded" == BUSY

        release.set()
        await asyncio.gather(first, second)
        assert len(holding) == 2 and holding[1] is holding[0]
        async with scheduler.use(model, OPTIONS):  # the queue drained: accepted again
            pass

    run(store, scenario, num_parallel=1, max_queue=1)


def test_killed_runner_is_dropped_and_reloaded(store):
    async def scenario(scheduler: Scheduler) -> None:
        model = store.get("smollm2")
        request = CompletionRequest(Prompt(raw="Once upon a time"), {"num_predict": 10_000})
        async with scheduler.use(model, OPTIONS) as first:
            with pytest.raises(RunnerError) as info:
                async for _ in first.runner.completion(request):
                    if first.runner.alive:
                        os.kill(pid(first), signal.SIGKILL)  # a crash inside llama.cpp, mid-stream
                        await first.runner.wait()
            assert info.value.message == RUNNER_STOPPED and info.value.status == 500
        await until(lambda: report.summary(scheduler) == [], what="the dead runner to be dropped")
        assert first.runner.process.returncode == -signal.SIGKILL
        async with scheduler.use(model, OPTIONS) as second:
            assert second is not first and pid(second) != pid(first)
            assert await generate(second)
        assert names(scheduler) == ["smollm2:latest"]

    run(store, scenario)


def test_unload_and_shutdown_stop_every_runner(store):
    async def scenario(scheduler: Scheduler) -> None:
        loaded = []
        for name in ("smollm2", "smollm2-copy"):
            async with scheduler.use(store.get(name), OPTIONS) as entry:
                loaded.append(entry)
        assert sorted(names(scheduler)) == ["smollm2-copy:latest", "smollm2:latest"]
        assert pid(loaded[0]) != pid(loaded[1])

        await scheduler.unload(store.get("smollm2-copy"))
        assert names(scheduler) == ["smollm2:latest"]
        assert loaded[1].runner.process.returncode == 0

        await scheduler.shutdown()
        assert report.summary(scheduler) == [] and scheduler.loaded == {}
        assert loaded[0].runner.process.returncode == 0

    run(store, scenario)


async def runner_threads(loaded: Loaded) -> tuple[int, int]:
    health = await loaded.runner.health()
    return health.threads, health.threads_batch


async def until_runner_threads(loaded: Loaded, expected: tuple[int, int]) -> None:
    deadline = time.monotonic() + 10
    while (got := await runner_threads(loaded)) != expected:
        assert time.monotonic() < deadline, f"runner threads {got}, expected {expected}"
        await asyncio.sleep(0.02)


def test_default_threads_fit_the_cpus_and_models_busy_together_share_them(store):
    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(store.get("smollm2"), {}) as first:
            [entry] = report.summary(scheduler)
            assert entry["threads"] == {"decode": 2, "batch": 2}  # the budget's, not llama.cpp's 4
            assert await runner_threads(first) == (2, 2)
            async with scheduler.use(store.get("smollm2-copy"), {}) as second:
                # Two models generating at once on 2 cores: one thread each, never 4 threads on 2 cores.
                assert first.threads == second.threads == Threads(1, 1)
                await until_runner_threads(first, (1, 1))
                await until_runner_threads(second, (1, 1))
                assert {e["name"]: e["threads"]["decode"] for e in report.summary(scheduler)} == {
                    "smollm2:latest": 1, "smollm2-copy:latest": 1}
                await generate(second)
            # The second went idle: the first, still busy, gets the whole CPU back.
            assert first.threads == Threads(2, 2)
            await until_runner_threads(first, (2, 2))
            await generate(first)

    run(store, scenario, cpu=CpuBudget(allowed=2, physical=2, quota=None))


def test_an_explicit_num_thread_is_taken_as_asked_and_not_shared(store):
    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(store.get("smollm2"), {"num_thread": 1}) as pinned:
            async with scheduler.use(store.get("smollm2-copy"), {}) as automatic:
                assert pinned.threads == Threads(1, 1)
                assert automatic.threads == Threads(2, 4)  # alone among the models that share
                assert await runner_threads(pinned) == (1, 1)
                assert await runner_threads(automatic) == (2, 4)

    run(store, scenario, cpu=CpuBudget(allowed=4, physical=2, quota=None))


def test_ollama_num_thread_sets_the_default(store):
    async def scenario(scheduler: Scheduler) -> None:
        async with scheduler.use(store.get("smollm2"), {}) as loaded:
            assert loaded.threads == Threads(1, 1)
            assert await runner_threads(loaded) == (1, 1)

    run(store, scenario, num_thread=1)
