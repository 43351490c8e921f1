"""`POST /v1/responses`: OpenAI's Responses API on the native chat path.

The request becomes a chat completion body (`responses_wire.chat_body`), then an
`/api/chat` one, so templates, tools, thinking, `format` and options work as on
/api/chat; a forced `tool_choice` constrains the output as on /v1/chat/completions.
The reply is one `response` object, or with `stream: true` the Responses events
(`event: <type>` lines, no `[DONE]`). Errors use OpenAI's shape; once streaming,
an `error` event.
"""

from __future__ import annotations

from typing import Any

from ..errors import OllamaError
from . import openai_wire as ow
from . import responses_wire as rw
from .inference import STARTED, ChatHandler, Chunks
from .openai import OpenAIHandler
from .sse import HEARTBEAT, NAMED_SSE, Events, chat_chunks, with_heartbeat


class ResponsesHandler(OpenAIHandler, ChatHandler):
    framing = NAMED_SSE
    events: rw.ResponseStream | None = None

    def stream_error(self, status: int, message: str, err: OllamaError | None = None) -> dict[str, Any]:
        assert self.events is not None  # the stream has started
        return self.events.error(status, message)

    async def post(self) -> None:
        request = self.json_body(rw.ResponsesRequest)
        table = rw.tool_table(request.tools)
        chat = rw.chat_body(request, table)
        native = ow.chat_request(chat)
        chunks = await chat_chunks(self, native, chat.tool_choice, announce=True)
        rid = rw.new_id("resp")
        events = self.events = rw.ResponseStream(rid, request, table)
        await self.answer(chunks, native.stream,
                          lambda final: rw.response_object(rid, request, "completed", rw.final_output(final, table), final),
                          lambda c: with_heartbeat(_sse(c, events), HEARTBEAT, events.in_progress))


async def _sse(chunks: Chunks, events: rw.ResponseStream) -> Events:
    """response.created and .in_progress once the model begins to read the prompt (errors before keep their
    status); then the output items."""
    async for chunk in chunks:
        if chunk.get(STARTED):
            for event in events.start():
                yield event
            continue
        for event in events.add(chunk):
            yield event


def responses_routes() -> list[tuple[str, type, dict[str, Any]]]:
    return [(r"v1/responses", ResponsesHandler, {})]
