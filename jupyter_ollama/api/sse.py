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
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import tornado.iostream

from ..errors import OllamaError
from ..tools import check_tools, forced_call_schema
from .inference import ChatHandler, InferenceHandler
from .prepare import merged

Chunks = AsyncIterator[dict[str, Any]]

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


async def chat_chunks(handler: ChatHandler, native: dict[str, Any], tool_choice: Any) -> Chunks | None:
    """The native chunks of an /api/chat body, a forced `tool_choice` (OpenAI's shape) constraining
    the output to a call; None when the request was answered already (an empty conversation loads)."""
    tools = check_tools(native.get("tools"))
    forced = forced_call_schema(tools, tool_choice) if tools else None
    prepared = handler.prepared = await handler.prepare_chat(native, forced)
    return None if prepared is None else handler.chunks(prepared, "message")
