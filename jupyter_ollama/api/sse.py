"""Server-sent events for the OpenAI, Responses and Anthropic routes.

Each event goes out as `data: <json>` (OpenAI's chat and completions, ending in
`data: [DONE]`) or as `event: <type>` + `data: <json>` (the Responses and
Messages APIs, which name every event by its `type` and have no end marker).
Before the first event an error gets a real status in the route's shape; after
it, one error event in that shape, and the stream ends: the ladder is
`OllamaHandler.send_events`, the same as for Ollama's NDJSON, with the `SSE` framing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any

from ..tools import check_tools, forced_call_schema
from .inference import ChatHandler, Chunks, InferenceHandler
from .prepare import merged
from .wire import ChatRequest

Events = AsyncGenerator[dict[str, Any], None]  # a stream's events, from a generator (closed when the client leaves)
HEARTBEAT = 10.0  # seconds of quiet in a begun stream before a keep-alive event (see `with_heartbeat`)


@dataclass(frozen=True)
class SSE:
    """Server-sent events: `data: <json>` each, or with `named` an `event: <type>` line before; `end` after the last."""

    named: bool = False
    end: str = ""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})

    def event(self, event: dict[str, Any]) -> str:
        data = f"data: {json.dumps(event, ensure_ascii=False)}\n\n"
        return f"event: {event['type']}\n{data}" if self.named else data

    def error(self, event: dict[str, Any]) -> str:
        return self.event(event)


OPENAI_SSE = SSE(end="data: [DONE]\n\n")  # chat completions and completions
NAMED_SSE = SSE(named=True)  # the Responses and Messages APIs


class SSEHandler(InferenceHandler):
    alias_hint = True
    framing = OPENAI_SSE

    async def answer(self, chunks: Chunks, stream: bool, whole: Callable[[dict[str, Any]], dict[str, Any]],
                     events: Callable[[Chunks], Chunks], field: str = "message") -> None:
        """A generation's answer: `events(chunks)` as a stream, or `whole(reply)` for the merged reply."""
        async def reply() -> None:
            async for final in merged(chunks, field):
                self.write_json(whole(final))

        await self.run(self.send_events(events(chunks), self.framing) if stream else reply())


async def chat_chunks(handler: ChatHandler, native: ChatRequest, tool_choice: Any, announce: bool = False) -> Chunks:
    """The native chunks of an /api/chat request, a forced `tool_choice` (OpenAI's shape) constraining the output
    to a call (an empty conversation loads the model: one final chunk says so, see `InferenceHandler.native_chunks`).
    `announce`: a streamed reply that opens when the prompt starts to be read (see `InferenceHandler.chunks`)."""
    tools = check_tools(native.tools)
    forced = forced_call_schema(tools, tool_choice) if tools else None
    preparation = await handler.prepare_chat(native, forced)
    return await handler.native_chunks(preparation, "message", announce and native.stream)


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
