"""A remote model's engines as one `Runner`: least-loaded routing, health checks, retries.

Each request goes to the healthy engine with the smallest busy share of its slots (its own
signal where it has one, our requests in flight otherwise; ties go to the one that served
fewer). Every engine is checked in the background every OLLAMA_REMOTE_CHECK_INTERVAL
seconds; one that fails leaves the rotation until a check finds it up again. A request
that fails before its first token is tried on the next engine; after it, the client gets
the error (an error line on a stream). When every engine is down, each is still tried once:
a check may simply not have seen it come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from ..errors import BadRequest
from ..runners.protocol import (
    CompletionEvent,
    CompletionRequest,
    EmbedReply,
    EmbedRequest,
    Prompt,
    RunnerHealth,
    SlotState,
    Started,
)
from ..store.remote_hosts import EngineSpec
from .engine import EngineError, RemoteEngine, Unavailable
from .transport import engine_client

log = logging.getLogger("jupyter_ollama")


class RemotePool:
    """The `Runner` of a remote model (see `runners.protocol.Runner`)."""

    def __init__(self, remote_model: str, engines: list[EngineSpec], check_interval: float = 5.0) -> None:
        self.remote_model = remote_model
        self.http = engine_client()
        self.engines = [RemoteEngine(spec, remote_model, self.http) for spec in engines]
        self.check_interval = check_interval
        self.retries_total = 0
        self._checks: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()

    @property
    def alive(self) -> bool:
        return not self._stopped.is_set()

    async def start(self) -> None:
        """Check every engine once, then keep checking in the background."""
        await self.check()
        self._checks = asyncio.get_running_loop().create_task(self._check_forever())

    async def check(self) -> None:
        await asyncio.gather(*(engine.check() for engine in self.engines))

    async def _check_forever(self) -> None:
        while self.alive:
            await asyncio.sleep(self.check_interval)
            with contextlib.suppress(Exception):  # one bad check must not end the checking
                await self.check()

    async def wait(self) -> int:
        await self._stopped.wait()
        return 0

    async def stop(self) -> None:
        self._stopped.set()
        if self._checks is not None:
            self._checks.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checks
        await self.http.aclose()

    # -- routing --------------------------------------------------------------

    def order(self) -> list[RemoteEngine]:
        """Engines to try, best first: up ones by load, then those not known up (they may be back)."""
        def key(engine: RemoteEngine) -> tuple[int, float, int]:
            return (0 if engine.up else 1, engine.load, engine.requests_total)
        return sorted(self.engines, key=key)

    def _unavailable(self, errors: list[str]) -> EngineError:
        return EngineError(f"no engine of remote model '{self.remote_model}' could take the request: " + "; ".join(errors))

    async def completion(self, request: CompletionRequest) -> AsyncIterator[CompletionEvent]:
        errors: list[str] = []
        for attempt, engine in enumerate(self.order()):
            if attempt:
                self.retries_total += 1
            events: AsyncGenerator[CompletionEvent, None] = engine.completion(request)
            try:
                first = await anext(events)
            except Unavailable as err:
                log.warning("remote model %s: %s", self.remote_model, err.message)
                errors.append(err.message)
                continue
            except StopAsyncIteration:
                errors.append(f"engine {engine.url} sent nothing")
                continue
            try:
                yield Started("", remote_host=engine.url)
                yield first
                async for event in events:
                    yield event
            finally:
                await events.aclose()
            return
        raise self._unavailable(errors)

    async def embed(self, request: EmbedRequest) -> EmbedReply:
        errors: list[str] = []
        for engine in self.order():
            try:
                return await engine.embed(request)
            except Unavailable as err:
                errors.append(err.message)
        raise self._unavailable(errors)

    async def render(self, prompt: Prompt) -> str:
        raise BadRequest("a remote model's prompt is rendered by its engine; _debug_render_only needs a local model")

    async def count_tokens(self, prompt: Prompt) -> int:
        """An estimate, as Ollama makes one for count_tokens: a token per four characters of the conversation."""
        text = prompt.raw if prompt.raw is not None else json.dumps(prompt.messages) + json.dumps(prompt.tools or [])
        return max(1, len(text) // 4)

    async def set_threads(self, decode: int, batch: int) -> None:
        """The engines choose their own threads."""

    # -- what it shows --------------------------------------------------------

    async def health(self) -> RunnerHealth:
        """Every engine's reported slots as one list (busy ones `generating`), and the requests they queue."""
        slots: list[SlotState] = []
        waiting = 0
        for engine in self.engines:
            capacity = engine.capacity
            if engine.up and capacity and capacity.slots:
                slots += [SlotState(len(slots), "generating" if i < engine.slots_busy else "idle", 0, 0)
                          for i in range(capacity.slots)]
            waiting += capacity.waiting if engine.up and capacity else 0
        return RunnerHealth(slots, waiting, 0, 0)

    def describe(self) -> dict[str, Any]:
        """The pool for /api/ps and /health: each engine's state, slots where known, and requests in flight."""
        engines = [engine.describe() for engine in self.engines]
        up = [e for e in self.engines if e.up]
        known = [e.capacity.slots for e in up if e.capacity and e.capacity.slots]
        return {
            "remote_model": self.remote_model,
            "engines": engines,
            "engines_up": len(up),
            "in_flight": sum(e.in_flight for e in self.engines),
            "slots_total": sum(known) if known and len(known) == len(up) else None,
            "slots_busy": sum(e.slots_busy for e in up),
            "requests_waiting": sum(e.capacity.waiting for e in up if e.capacity),
            "retries_total": self.retries_total,
        }
