"""`POST /v1/messages` and `/v1/messages/count_tokens`: Anthropic's Messages API on the native chat path.

As in Ollama (middleware/anthropic.go) the request becomes an `/api/chat` body
(`anthropic_wire.chat_request`), so templates, tools and thinking work as there;
the reply is one `message`, or with `stream: true` Anthropic's events (`event:
<type>` lines). As Ollama does for Claude Code, `thinking` asked of a model that
cannot think is dropped rather than refused. A `tool_choice` of "any" or a named
tool constrains the output to a call (see `tools.choice`). Errors, before or
during a stream, are Anthropic's `{"type": "error", "error": {...}}`.
`count_tokens` renders the same prompt and counts its tokens with the model's own
tokenizer. Claude Code adds `?beta=true` to both paths: the query is not read.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from ..errors import OllamaError, PromptTooLong
from ..templates.capabilities import THINKING
from ..tools import check_tools, forced_call_schema
from . import anthropic_wire as aw
from .inference import STARTED, ChatHandler, Chunks
from .prepare import LoadOnly, RenderOnly
from .sse import HEARTBEAT, NAMED_SSE, Events, SSEHandler, chat_chunks, with_heartbeat
from .wire import ChatRequest


class AnthropicHandler(SSEHandler, ChatHandler):
    framing = NAMED_SSE

    def error_body(self, status_code: int, message: str, err: OllamaError | None = None) -> dict[str, Any]:
        if isinstance(err, PromptTooLong):  # Anthropic's words, which Claude Code reads to compact the conversation
            message = f"prompt is too long: {err.tokens} tokens > {err.limit} maximum"
        return aw.error_body(status_code, message)

    async def relax_think(self, native: ChatRequest) -> ChatRequest:
        """Claude Code asks every model to think: one that cannot answers without thinking, as from Ollama."""
        if native.think:
            profile = await asyncio.to_thread(self.store.profile, self.find_model(native.model))
            if THINKING not in profile.capabilities:
                return replace(native, think=None)
        return native


class MessagesHandler(AnthropicHandler):
    async def post(self) -> None:
        request = self.json_body(aw.MessagesRequest)
        native, choice = aw.chat_request(request)
        native = await self.relax_think(native)
        chunks = await chat_chunks(self, native, choice, announce=True)
        stream = aw.MessageStream(aw.new_id("msg"), request.model)
        await self.answer(chunks, native.stream, lambda final: aw.message(stream.mid, request.model, final),
                          lambda c: with_heartbeat(self._events(c, stream), HEARTBEAT, lambda: {"type": "ping"}))

    async def _events(self, chunks: Chunks, stream: aw.MessageStream) -> Events:
        """message_start once the model begins to read the prompt (errors before keep their status), with the
        prompt's token count; then the content blocks."""
        async for chunk in chunks:
            if chunk.get(STARTED):
                yield stream.start(self.prepared.prompt_tokens if self.prepared else 0)
                continue
            for event in stream.add(chunk):
                yield event


class CountTokensHandler(AnthropicHandler):
    """The tokens the prompt of a Messages request takes, as the model reads it: `{"input_tokens": N}`."""

    async def post(self) -> None:
        native, choice = aw.count_request(self.json_body(aw.CountTokensRequest))
        native = await self.relax_think(native)
        tools = check_tools(native.tools)
        preparation = await self.prepare_chat(native, forced_call_schema(tools, choice) if tools else None)
        if isinstance(preparation, LoadOnly):  # no turn to read (as on /api/chat, the model is loaded)
            await self.load(preparation)
            self.write_json({"input_tokens": 0})
            return
        prompt = preparation.prompt if isinstance(preparation, RenderOnly) else preparation.job.prompt
        async with self.scheduler.use(preparation.model, preparation.options, preparation.keep_alive,
                                      requester=self.requester()) as loaded:
            tokens = await loaded.runner.count_tokens(prompt)
        self.write_json({"input_tokens": tokens})


def anthropic_routes() -> list[tuple[str, type, dict[str, Any]]]:
    return [(r"v1/messages", MessagesHandler, {}), (r"v1/messages/count_tokens", CountTokensHandler, {})]
