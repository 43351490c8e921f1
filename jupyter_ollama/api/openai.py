"""OpenAI-compatible routes: /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models.

As in Ollama (middleware/openai.go), each request is translated to the native
request (`openai_wire`), run by the same code as /api/chat, /api/generate and
/api/embed, and the native chunks are shaped back into OpenAI's objects: SSE
events ending in `data: [DONE]` when streaming, one object otherwise. Errors use
OpenAI's shape, `{"error": {"message", "type", "param": null, "code": null}}`.

Beyond Ollama, which ignores `tool_choice`: a `tool_choice` naming a function (or
"required") constrains the output to a call of it (see `tools.choice`), and
"none" leaves the tools out of the prompt.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ..errors import OllamaError, PromptTooLong
from . import openai_wire as ow
from .inference import ChatHandler, Chunks, GenerateHandler, embed, truncate_dims
from .sse import SSEHandler, chat_chunks

_ERROR_TYPES = {400: "invalid_request_error", 404: "not_found_error"}


def error_body(status: int, message: str, err: OllamaError | None = None) -> dict[str, Any]:
    if isinstance(err, PromptTooLong):  # OpenAI's words and code, which clients look for to shorten the conversation
        message = (f"This model's maximum context length is {err.limit} tokens. However, your messages resulted in "
                   f"{err.tokens} tokens. Please reduce the length of the messages. ({err.message})")
        return {"error": {"message": message, "type": "invalid_request_error", "param": "messages",
                          "code": "context_length_exceeded"}}
    return {"error": {"message": message, "type": _ERROR_TYPES.get(status, "api_error"), "param": None, "code": None}}


class OpenAIHandler(SSEHandler):
    """OpenAI's error shape, and SSE streaming."""

    def error_body(self, status_code: int, message: str, err: OllamaError | None = None) -> dict[str, Any]:
        return error_body(status_code, message, err)


def _envelope(rid: str, kind: str, created: int, model: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": rid, "object": kind, "created": created, "model": model, "system_fingerprint": "fp_ollama",
            "choices": choices}


def _finish_reason(final: dict[str, Any], tool_calls: bool) -> str | None:
    reason = final.get("done_reason") or None
    return "tool_calls" if reason == "stop" and tool_calls else reason


async def chat_sse(chunks: AsyncIterator[dict[str, Any]], rid: str, include_usage: bool) -> AsyncIterator[dict[str, Any]]:
    """Ollama's ChatWriter: role on the first delta, reasoning split from content, a finish chunk, usage."""
    created, first, tool_sent = ow.now_s(), True, False

    def event(delta: dict[str, Any], model: str, reason: str | None = None,
              logprobs: dict[str, Any] | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": reason, **({"logprobs": logprobs} if logprobs else {})}
        return _envelope(rid, "chat.completion.chunk", created, model, [choice])

    async for chunk in chunks:
        msg, model = chunk["message"], chunk["model"]
        calls = ow.openai_tool_calls(msg.get("tool_calls") or [])
        thinking, content = msg.get("thinking", ""), msg.get("content", "")
        logprobs = ow.chat_logprobs(chunk.get("logprobs"))
        if not (chunk["done"] and not first and not content and not thinking and not calls and not logprobs):
            role = {"role": "assistant"} if first else {}
            if thinking and (content or calls):  # a mixed chunk goes out as two, the logprobs with the first
                yield event({**role, "reasoning": thinking}, model, logprobs=logprobs)
                role, thinking, logprobs = {}, "", None
            delta = {**role, "content": content, **({"reasoning": thinking} if thinking else {})}
            yield event({**delta, **({"tool_calls": calls} if calls else {})}, model, logprobs=logprobs)
            tool_sent, first = tool_sent or bool(calls), False
        if chunk["done"]:
            yield event({}, model, _finish_reason(chunk, tool_sent) or "stop")
            if include_usage:
                yield {**event({}, model), "choices": [], "usage": ow.usage(chunk)}


def chat_completion(rid: str, final: dict[str, Any]) -> dict[str, Any]:
    msg = final["message"]
    calls = ow.openai_tool_calls(msg.get("tool_calls") or [])
    message: dict[str, Any] = {"role": "assistant", "content": msg.get("content", "")}
    if msg.get("thinking"):
        message["reasoning"] = msg["thinking"]
    if calls:
        message["tool_calls"] = calls
    choice = {"index": 0, "message": message, "finish_reason": _finish_reason(final, bool(calls))}
    logprobs = ow.chat_logprobs(final.get("logprobs"))
    if logprobs:
        choice["logprobs"] = logprobs
    return {**_envelope(rid, "chat.completion", ow.now_s(), final["model"], [choice]), "usage": ow.usage(final)}


class ChatCompletionsHandler(OpenAIHandler, ChatHandler):
    async def post(self) -> None:
        request = self.json_body(ow.ChatCompletionRequest)
        native = ow.chat_request(request)
        chunks = await chat_chunks(self, native, request.tool_choice)
        rid = ow.reply_id("chatcmpl")
        await self.answer(chunks, native.stream, lambda final: chat_completion(rid, final),
                          lambda c: chat_sse(c, rid, request.include_usage))


def _completion_choice(chunk: dict[str, Any], logprobs: ow.CompletionLogprobs) -> dict[str, Any]:
    choice = {"text": chunk.get("response", ""), "index": 0, "finish_reason": chunk.get("done_reason") or None}
    shaped = logprobs.shape(chunk.get("logprobs"))
    return {**choice, "logprobs": shaped} if shaped else choice


class CompletionsHandler(OpenAIHandler, GenerateHandler):
    async def post(self) -> None:
        request = self.json_body(ow.CompletionRequest)
        native = ow.completion_request(request)
        rid, created = ow.reply_id("cmpl"), ow.now_s()
        # An empty prompt loads the model, as on /api/generate: an empty completion, its finish_reason "load".
        chunks = await self.native_chunks(await self.prepare_generate(native), "response")
        logprobs = ow.CompletionLogprobs()

        def whole(final: dict[str, Any]) -> dict[str, Any]:
            return {**_envelope(rid, "text_completion", created, final["model"], [_completion_choice(final, logprobs)]),
                    "usage": ow.usage(final)}

        async def events(chunks: Chunks) -> Chunks:
            async for chunk in chunks:
                yield _envelope(rid, "text_completion", created, chunk["model"], [_completion_choice(chunk, logprobs)])
                if chunk["done"] and request.include_usage:
                    yield {**_envelope(rid, "text_completion", created, chunk["model"], []), "usage": ow.usage(chunk)}

        await self.answer(chunks, native.stream, whole, events, field="response")


class EmbeddingsHandler(OpenAIHandler):
    async def post(self) -> None:
        request = self.json_body(ow.EmbedRequest)
        inputs = ow.embedding_input(request)
        model = self.find_model(request.model)
        requester = self.requester()
        async with self.scheduler.use(model, {}, "default", requester=requester) as loaded:
            reply = await embed(loaded, inputs, True)
        self.scheduler.users.record(requester, reply.prompt_eval_count, 0)
        vectors = reply.embeddings
        if request.dimensions:
            vectors = [truncate_dims(v, request.dimensions) for v in vectors]
        self.write_json(ow.embedding_list(request.model, vectors, reply.prompt_eval_count, request.encoding_format))


class ModelsHandler(OpenAIHandler):
    def get(self) -> None:
        stored = sorted(self.store.manifests.all(), key=lambda s: s.modified, reverse=True)
        data = [ow.model_object(s.name.display(), s.modified, s.name.namespace) for s in stored]
        self.write_json({"object": "list", "data": data})


class ModelHandler(OpenAIHandler):
    def get(self, name: str) -> None:
        model = self.store.get(name)
        self.write_json(ow.model_object(name, model.stored.modified, model.name.namespace))


def openai_routes() -> list[tuple[str, type, dict[str, Any]]]:
    return [
        (r"v1/chat/completions", ChatCompletionsHandler, {}),
        (r"v1/completions", CompletionsHandler, {}),
        (r"v1/embeddings", EmbeddingsHandler, {}),
        (r"v1/models", ModelsHandler, {}),
        (r"v1/models/(.+?)", ModelHandler, {}),
    ]
