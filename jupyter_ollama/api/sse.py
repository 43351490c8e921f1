"""Server-sent events for the OpenAI, Responses and Anthropic routes.

Each event goes out as `data: <json>` (OpenAI's chat and completions, ending in
`data: [DONE]`) or as `event: <type>` + `data: <json>` (the Responses and
Messages APIs, which name every event by its `type` and have no end marker).
Before the first event an error gets a real status in the route's shape; after
it, one error event in that shape, and the stream ends.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any

import tornado.iostream

from ..errors import OllamaError
from ..tools import check_tools, forced_call_schema
from .inference import ChatHandler, InferenceHandler
from .prepare import merged

Chunks = AsyncIterator[dict[str, Any]]
Events = AsyncGenerator[dict[str, Any], None]  # a stream's events, from a generator (closed when the client leaves)
HEARTBEAT = 10.0  # seconds of quiet in a begun stream before a keep-alive event (see `with_heartbeat`)

log = logging.getLogger("jupyter_ollama")


class SSEHandler(InferenceHandler):
    alias_hint = True
    named_events = False  # write `event: <type>` before each `data:` line
    end_marker: str | None = "data: [DONE]\n\n"

    def stream_error(self, status: int, message: str) -> dict[str, Any]:
        """The event that reports an error once streaming has started."""
        return self.error_body(status, message)

    def frame(self, event: dict[str, Any]) -> str:
        data = f"data: {json.dumps(event, ensure_ascii=False)}\n\n"
        return f"event: {event['type']}\n{data}" if self.named_events else data

    async def run_task(self, work: Awaitable[None]) -> None:
        """Respond in a task, so that a client hanging up cancels the generation."""
        self.task = asyncio.ensure_future(work)
        try:
            await self.task
        except asyncio.CancelledError:
            pass

    async def answer(self, chunks: Chunks, stream: bool, whole: Callable[[dict[str, Any]], dict[str, Any]],
                     events: Callable[[Chunks], Chunks]) -> None:
        """A chat's answer: `events(chunks)` as a stream, or `whole(reply)` for the merged reply."""
        async def reply() -> None:
            async for final in merged(chunks, "message"):
                self.write_json(whole(final))

        await self.run_task(self.respond_sse(events(chunks)) if stream else reply())

    async def respond_sse(self, events: Chunks) -> None:
        started = False
        try:
            async for event in events:
                if not started:
                    self.set_header("Content-Type", "text/event-stream")
                    self.set_header("Cache-Control", "no-cache")
                    started = True
                self.write(self.frame(event))
                await self.flush()
            if self.end_marker:
                self.write(self.end_marker)
        except OllamaError as err:
            if not started:
                raise
            self.write(self.frame(self.stream_error(err.status, err.message)))
        except tornado.iostream.StreamClosedError:
            return
        except Exception as err:  # a bug mid-stream: reported in the route's shape, traceback logged
            if not started:
                raise
            log.exception("error while streaming %s", self.request.path)
            self.write(self.frame(self.stream_error(500, f"internal error: {err}")))
        self.finish()


async def chat_chunks(handler: ChatHandler, native: dict[str, Any], tool_choice: Any, announce: bool = False) -> Chunks | None:
    """The native chunks of an /api/chat body, a forced `tool_choice` (OpenAI's shape) constraining
    the output to a call; None when the request was answered already (an empty conversation loads).
    `announce`: a streamed reply that opens when the prompt starts to be read (see `InferenceHandler.chunks`)."""
    tools = check_tools(native.get("tools"))
    forced = forced_call_schema(tools, tool_choice) if tools else None
    prepared = handler.prepared = await handler.prepare_chat(native, forced)
    return None if prepared is None else handler.chunks(prepared, "message", announce and bool(native.get("stream")))


async def with_heartbeat(events: Events, every: float,
                         beat: Callable[[], dict[str, Any]]) -> Chunks:
    """`events`, and `beat()` whenever `every` seconds pass without one once the stream has begun: a client that
    waits for a long prompt to be read (minutes on a CPU) hears that the server is at it, and its idle timer,
    which agents keep (Claude Code's, Codex's), does not run out."""
    pending: asyncio.Task[dict[str, Any]] | None = None
    started = False
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(events))
            done, _ = await asyncio.wait({pending}, timeout=every if started else None)
            if not done:
                yield beat()
                continue
            finished, pending = pending, None
            try:
                event = finished.result()
            except StopAsyncIteration:
                return
            started = True
            yield event
    finally:
        if pending is not None:  # the client left mid-wait: the generation under it stops (its slot is freed)
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)
        await events.aclose()
