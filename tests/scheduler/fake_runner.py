"""A runner made up by the tests: the `Runner` interface in-process, so scheduler policy runs in milliseconds.

It keeps what the scheduler did to it (the load config, thread changes, whether it was stopped)
and can be crashed. Real llama.cpp runners are covered by test_scheduler.py and tests/runner/.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from jupyter_ollama.runners.process import RUNNER_STOPPED, RunnerError
from jupyter_ollama.runners.protocol import (
    CompletionEvent,
    CompletionRequest,
    Done,
    EmbedReply,
    EmbedRequest,
    LoadConfig,
    Piece,
    Prompt,
    RunnerHealth,
    SlotState,
    Started,
)


class FakeRunner:
    started: list[FakeRunner] = []  # every runner the factory made, in order (reset per test)

    def __init__(self, config: LoadConfig) -> None:
        self.config = config
        self.threads = (config.threads, config.threads_batch)
        self.exit_code: int | None = None
        self.running = False
        self._exited = asyncio.Event()

    @classmethod
    def factory(cls, config: LoadConfig) -> FakeRunner:
        runner = cls(config)
        cls.started.append(runner)
        return runner

    @property
    def alive(self) -> bool:
        return self.running and self.exit_code is None

    async def start(self) -> None:
        self.running = True

    async def wait(self) -> int:
        await self._exited.wait()
        assert self.exit_code is not None
        return self.exit_code

    def crash(self) -> None:
        self.exit_code = -9
        self._exited.set()

    async def health(self) -> RunnerHealth:
        self._check()
        slots = [SlotState(i, "idle", self.config.num_ctx, 0) for i in range(self.config.num_parallel)]
        return RunnerHealth(slots, 0, *self.threads)

    async def completion(self, request: CompletionRequest) -> AsyncIterator[CompletionEvent]:
        self._check()
        yield Started(prompt_tail="")
        yield Piece("hi")
        yield Done("stop", 1, 1, 1, 1)

    async def render(self, prompt: Prompt) -> str:
        return prompt.raw or ""

    async def count_tokens(self, prompt: Prompt) -> int:
        return len((prompt.raw or "").split())

    async def embed(self, request: EmbedRequest) -> EmbedReply:
        return EmbedReply([[1.0] for _ in request.inputs], len(request.inputs))

    async def set_threads(self, decode: int, batch: int) -> None:
        self._check()
        self.threads = (decode, batch)

    async def stop(self) -> None:
        if self.exit_code is None:
            self.exit_code = 0
            self._exited.set()

    def _check(self) -> None:
        if not self.alive:
            raise RunnerError(RUNNER_STOPPED)
