"""`POST /v1/messages`: Anthropic's Messages API on the native chat path.

As in Ollama (middleware/anthropic.go) the request becomes an `/api/chat` body
(`anthropic_wire.chat_request`), so templates, tools and thinking work as there;
the reply is one `message`, or with `stream: true` Anthropic's events (`event:
<type>` lines). As Ollama does for Claude Code, `thinking` asked of a model that
cannot think is dropped rather than refused. A `tool_choice` of "any" or a named
tool constrains the output to a call (see `tools.choice`). Errors, before or
during a stream, are Anthropic's `{"type": "error", "error": {...}}`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..templates.capabilities import THINKING
from . import anthropic_wire as aw
from .inference import ChatHandler
from .sse import Chunks, SSEHandler, chat_chunks


class MessagesHandler(SSEHandler, ChatHandler):
    named_events = True
    end_marker = None

    def error_body(self, status_code: int, message: str) -> dict[str, Any]:
        return aw.error_body(status_code, message)

    async def post(self) -> None:
        body = self.json_body(aw.MESSAGES)
        native, choice = aw.chat_request(body)
        model = self.find_model(native["model"])
        if native["think"]:
            profile = await asyncio.to_thread(self.store.profile, model)
            if THINKING not in profile.capabilities:
                native["think"] = None
        chunks = await chat_chunks(self, native, choice)
        if chunks is None:
            return
        stream = aw.MessageStream(aw.new_id("msg"), body["model"])
        await self.answer(chunks, native["stream"], lambda final: aw.message(stream.mid, body["model"], final),
                          lambda c: _events(c, stream))


async def _events(chunks: Chunks, stream: aw.MessageStream) -> Chunks:
    first = True
    async for chunk in chunks:
        if first:  # started on the first chunk: errors before it keep their status
            yield stream.start()
            first = False
        for event in stream.add(chunk):
            yield event


def anthropic_routes() -> list[tuple[str, type, dict[str, Any]]]:
    return [(r"v1/messages", MessagesHandler, {})]
