"""Ollama's inference endpoints: generate, chat, embed, embeddings, and ps.

Handlers read their typed request (`wire`), check it (`prepare_chat`/`prepare_generate`: what it comes to,
a generation, a load or a rendered prompt, which each route answers in its own shape), ask the scheduler for
a slot, and shape the runner's events into Ollama's chunks. The prompt itself is rendered by the runner, which
has the tokenizer and the model's template. The output is split into thinking, content and tool calls here
(`tools.OutputParser`); each call goes out in the chunk where it is parsed, as Ollama sends it. The OpenAI and
Anthropic routes translate their requests to the native ones and reshape the same chunks.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import replace
from typing import Any

from ..errors import BadRequest, NotFound, PromptTooLong
from ..modelfile.options import validate_parameters
from ..runners.protocol import CompletionRequest, Done, EmbedReply, EmbedRequest, Piece, Prompt, Started
from ..scheduler.durations import parse_keep_alive
from ..scheduler.scheduler import Loaded, RemoteLoaded, RunnerError, ShuttingDown
from ..store.model import LocalModel, rfc3339
from ..tools import OutputParser, Parsed, check_tools
from . import wire
from .base import OllamaHandler
from .prepare import (
    LoadOnly,
    LocalPolicy,
    ModelPolicy,
    Preparation,
    Prepared,
    RemotePolicy,
    RenderOnly,
    check_format,
    check_messages,
    generation_flags,
    merged,
)

STARTED = "started"  # the key of the chunk that announces a generation (InferenceHandler.chunks)

Chunks = AsyncIterator[dict[str, Any]]


def now() -> str:
    return rfc3339(time.time())


def chunk(name: str, field: str, content: str, thinking: str, calls: list[dict[str, Any]], done: bool) -> dict[str, Any]:
    """One Ollama chunk: `message` (chat) or `response` (generate), with thinking and tool calls when present."""
    extra: dict[str, Any] = {"thinking": thinking} if thinking else {}
    if calls:
        extra["tool_calls"] = calls
    if field == "message":
        said: dict[str, Any] = {"message": {"role": "assistant", "content": content, **extra}}
    else:
        said = {"response": content, **extra}
    return {"model": name, "created_at": now(), **said, "done": done}


def loaded_chunk(name: str, field: str, reason: str) -> dict[str, Any]:
    """Ollama's reply to an empty prompt or conversation: the model was loaded (`reason` "load") or unloaded."""
    return {**chunk(name, field, "", "", [], done=True), "done_reason": reason}


def rendered_chunk(name: str, field: str, rendered: str) -> dict[str, Any]:
    """Ollama's reply to `_debug_render_only`: with an empty `response` or `message`, so that a client's response
    type still parses it."""
    return {**chunk(name, field, "", "", [], done=False), "_debug_info": {"rendered_template": rendered}}


def with_logprobs(reply: dict[str, Any], logprobs: list[dict[str, Any]]) -> dict[str, Any]:
    return {**reply, "logprobs": logprobs} if logprobs else reply


class InferenceHandler(OllamaHandler):
    # The OpenAI and Anthropic routes' 404 says how an agent's model name (`claude-*`) reaches a local model.
    alias_hint = False
    prepared: Prepared | None = None  # the request being answered, once checked
    task: asyncio.Future[None] | None = None  # the answer, while it runs (a hang-up cancels it)

    def find_model(self, name: str | None, embedding: bool = False) -> LocalModel:
        """The model a request names, or its alias; 404 in Ollama's words, which differ between its generate/chat and embed."""
        if not name:
            raise BadRequest("model is required")
        model = self.store.find_or_alias(name)
        if model is None:
            message = f'model "{name}" not found, try pulling it first' if embedding else f"model '{name}' not found"
            if self.alias_hint:
                message += (f"; to answer it with a local model, map the name in OLLAMA_MODEL_ALIASES "
                            f"(c.JupyterOllama.model_aliases), e.g. {name}=<model>")
            raise NotFound(message)
        return model

    def request_options(self, request: wire.ModelRequest) -> tuple[dict[str, Any], Any]:
        options = validate_parameters(request.options)
        keep_alive = parse_keep_alive(request.keep_alive) if request.keep_alive is not None else "default"
        return options, keep_alive

    async def policy(self, model: LocalModel) -> ModelPolicy:
        """How this request's model is checked and read: by its template here, or by its engines (a remote model)."""
        if model.is_remote:
            return RemotePolicy()
        return LocalPolicy(model, await asyncio.to_thread(self.store.profile, model))

    def on_connection_close(self) -> None:
        # The client went away: stop generating for it (the runner frees the slot).
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def run(self, answer: Awaitable[None]) -> None:
        """Answer in a task, so that a client hanging up cancels the generation."""
        self.task = asyncio.ensure_future(answer)
        try:
            await self.task
        except asyncio.CancelledError:
            pass

    async def load(self, request: LoadOnly) -> str:
        """Load the model; with keep_alive 0, unload it. The done_reason that says which: "load" or "unload"."""
        if request.keep_alive == 0:
            await self.scheduler.unload(request.model)
            return "unload"
        async with self.scheduler.use(request.model, request.options, request.keep_alive, requester=self.requester()):
            pass
        return "load"

    async def render_prompt(self, request: RenderOnly) -> str:
        """The prompt the model would read, rendered by its runner."""
        async with self.scheduler.use(request.model, request.options, request.keep_alive, requester=self.requester()) as loaded:
            return await loaded.runner.render(request.prompt)

    async def answer_native(self, preparation: Preparation, field: str, stream: bool) -> None:
        """Ollama's answer: a load, an unload or a rendered prompt as one object; a generation as NDJSON chunks,
        or with `stream: false` as one object."""
        if isinstance(preparation, LoadOnly):
            self.write_json(loaded_chunk(preparation.name, field, await self.load(preparation)))
        elif isinstance(preparation, RenderOnly):
            self.write_json(rendered_chunk(preparation.name, field, await self.render_prompt(preparation)))
        else:
            chunks = self.chunks(preparation, field)
            await self.run(self.respond_stream(chunks if stream else merged(chunks, field), stream))

    async def native_chunks(self, preparation: Preparation, field: str, announce: bool = False) -> Chunks:
        """The native chunks a preparation comes to, for a route that shapes them its own way (OpenAI's, Anthropic's):
        a generation's; for an empty prompt, which loads the model, one final chunk with done_reason "load"
        (or "unload"). `announce`: first a STARTED chunk (see `chunks`)."""
        if isinstance(preparation, RenderOnly):  # no translated request asks for it
            raise BadRequest("_debug_render_only is answered on /api/chat and /api/generate only")
        if isinstance(preparation, Prepared):
            self.prepared = preparation
            return self.chunks(preparation, field, announce)
        final = loaded_chunk(preparation.name, field, await self.load(preparation))
        return _replayed([{"model": preparation.name, STARTED: True, "done": False}] if announce else [], final)

    async def generation(self, model: LocalModel, options: dict[str, Any], keep_alive: Any,
                         job: CompletionRequest) -> AsyncIterator[Started | Piece | dict[str, Any]]:
        """The runner's Started and Pieces, then one dict of Ollama's final fields with its six timings.

        A prompt that does not fit the loaded slots, which are smaller than the request's num_ctx (the
        model was busy when it came), waits for the model to grow to its num_ctx and runs then."""
        started = time.perf_counter()
        merged = {**model.parameters, **options}
        requester = self.requester()
        grow = False
        while True:
            try:
                async with self.scheduler.use(model, options, keep_alive, requester=requester, grow=grow) as loaded:
                    loaded_at = time.perf_counter()
                    async for event in self.stopping_aware(loaded.runner.completion(replace(job, options=merged))):
                        if not isinstance(event, Done):
                            yield event
                            continue
                        end = time.perf_counter()
                        stats = self.scheduler.stats_for(model)
                        stats.record(event.prompt_eval_count, event.prompt_eval_duration, event.eval_count,
                                     event.eval_duration, int((end - started) * 1e9))
                        self.scheduler.users.record(requester, event.prompt_eval_count, event.eval_count)
                        if event.prompt_dropped:
                            stats.prompts_cut_total += 1
                            stats.prompt_tokens_dropped_total += event.prompt_dropped
                        stats.record_cache(event.prompt_cache, event.prompt_restored, event.prompt_cache_saved)
                        yield {
                            "done_reason": event.done_reason,
                            "total_duration": int((end - started) * 1e9),
                            "load_duration": int((loaded_at - started) * 1e9),
                            "prompt_eval_count": event.prompt_eval_count,
                            "prompt_eval_duration": event.prompt_eval_duration,
                            "eval_count": event.eval_count,
                            "eval_duration": event.eval_duration,
                            # Ours: prompt tokens read from the prompt cache instead of computed (after an unload, a restart).
                            **({"prompt_restored_count": event.prompt_restored} if event.prompt_restored else {}),
                            **({"context": event.tokens} if event.tokens is not None else {}),
                        }
                return
            except PromptTooLong:  # refused before anything was generated
                if grow or not self.scheduler.smaller_than_asked(model, options):
                    raise
                grow = True

    async def stopping_aware(self, events: AsyncIterator[Any]) -> AsyncIterator[Any]:
        """`events`, where a runner stopped because the server is stopping says that, not a runner failure."""
        try:
            async for event in events:
                yield event
        except RunnerError:
            if self.scheduler.closing:
                raise ShuttingDown() from None
            raise

    async def chunks(self, p: Prepared, field: str, announce: bool = False) -> Chunks:
        """Ollama's chunks for a generation: thinking, content and each tool call as soon as it is parsed.

        `announce`: first a STARTED chunk, when the model begins to read the prompt (a stream that opens
        then, as the Messages and Responses streams do, tells a client waiting through a long prompt it is read)."""
        parser = p.output("")
        logprobs: list[dict[str, Any]] = []  # of tokens whose text is not out yet: they ride with it
        remote: dict[str, str] = {}  # a remote model's replies say which model on which engine answered
        async for event in self.generation(p.model, p.options, p.keep_alive, p.job):
            if isinstance(event, Started):
                parser = p.output(event.prompt_tail)
                p.prompt_tokens = event.prompt_tokens
                if announce:
                    yield {"model": p.name, STARTED: True, "done": False}
                if event.remote_host:
                    remote = {"remote_model": p.model.remote_model, "remote_host": event.remote_host}
                continue
            parsed = parser.add(event.content) if isinstance(event, Piece) else parser.finish()
            if isinstance(event, Piece):
                logprobs += event.logprobs or []
                if event.thinking or event.tool_calls:  # split by the engine that made them
                    parsed = Parsed(parsed.thinking + event.thinking, parsed.content,
                                    parsed.tool_calls + (event.tool_calls or []))
            if parsed:
                yield with_logprobs({**chunk(p.name, field, parsed.content, parsed.thinking, parsed.tool_calls, done=False),
                                     **remote}, logprobs)
                logprobs = []
            if isinstance(event, dict):
                yield with_logprobs({**chunk(p.name, field, "", "", [], done=True), **remote, **event}, logprobs)


async def _replayed(first: list[dict[str, Any]], last: dict[str, Any]) -> Chunks:
    for item in first:
        yield item
    yield last


class GenerateHandler(InferenceHandler):
    async def post(self) -> None:
        request = self.json_body(wire.GenerateRequest)
        await self.answer_native(await self.prepare_generate(request), "response", request.stream)

    async def prepare_generate(self, request: wire.GenerateRequest) -> Preparation:
        """Check the request; what it comes to: a generation, a load (an empty prompt), a rendered prompt."""
        model = self.find_model(request.model)
        options, keep_alive = self.request_options(request)
        fmt = check_format(request.format)
        policy = await self.policy(model)
        policy.check_images(request.images)
        raw = request.raw
        if raw and (request.template or request.system or request.context):
            raise BadRequest("raw mode does not support template, system, or context")
        think = policy.think(request.think)
        policy.check_route(request.model, "generate")
        template = request.template or model.template
        if request.suffix:
            policy.check_insert(template)
        if not request.prompt and not request.suffix:
            return LoadOnly(request.model, model, options, keep_alive)
        if raw:
            spec = Prompt(raw=request.prompt, images=list(request.images))
        else:
            system = request.system or model.system
            messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
            if not request.context:
                messages += model.messages
            images = {"images": request.images} if request.images else {}
            messages.append({"role": "user", "content": request.prompt, **images})
            spec = Prompt(messages=messages, template=template, suffix=request.suffix, think=think)
        if request.debug_render_only:
            return RenderOnly(request.model, model, options, keep_alive, spec)
        policy = policy.with_template(template)
        # With a format, a thinking model thinks first; the grammar applies after its thinking (runner/thinkfirst.py).
        job = CompletionRequest(spec, context=request.context, format=fmt, return_tokens=not raw,
                                think_tags=None if raw else policy.think_tags(spec), **generation_flags(request))
        output = (lambda tail: OutputParser()) if raw else policy.output(spec)
        return Prepared(request.model, model, options, keep_alive, job, output)


class ChatHandler(InferenceHandler):
    async def post(self) -> None:
        request = self.json_body(wire.ChatRequest)
        await self.answer_native(await self.prepare_chat(request), "message", request.stream)

    async def prepare_chat(self, request: wire.ChatRequest, forced: dict[str, Any] | None = None) -> Preparation:
        """Check the request; what it comes to: a generation, a load (no messages), a rendered prompt.
        `forced`: a JSON schema a forced tool call must follow."""
        model = self.find_model(request.model)
        options, keep_alive = self.request_options(request)
        fmt = check_format(request.format)
        messages = check_messages(request.messages)
        tools = check_tools(request.tools)
        policy = await self.policy(model)
        for i, message in enumerate(messages):
            policy.check_images(message.get("images"), f"messages[{i}].images")
        if tools:
            policy.check_tools()
        think = policy.think(request.think)
        policy.check_route(request.model, "chat")
        if not messages:
            return LoadOnly(request.model, model, options, keep_alive)
        first_is_system = messages[0]["role"] == "system"
        messages = model.messages + messages
        if model.system and not first_is_system:
            messages.insert(0, {"role": "system", "content": model.system})
        spec = Prompt(messages=messages, template=model.template, tools=tools or None, think=think)
        if request.debug_render_only:
            return RenderOnly(request.model, model, options, keep_alive, spec)
        # With a format or a forced call, a thinking model thinks first; the grammar applies after its thinking
        # (runner/thinkfirst.py). A forced call is a grammar like any other there, so it thinks first too.
        job = CompletionRequest(spec, format=forced or fmt, think_tags=policy.think_tags(spec), **generation_flags(request))
        return Prepared(request.model, model, options, keep_alive, job, policy.output(spec, forced=forced is not None))


class EmbedHandler(InferenceHandler):
    async def post(self) -> None:
        request = self.json_body(wire.EmbedRequest)
        model = self.find_model(request.model, embedding=True)
        options, keep_alive = self.request_options(request)
        inputs = request.input
        if inputs is None or inputs == "":
            inputs = []
        elif isinstance(inputs, str):
            inputs = [inputs]
        elif not isinstance(inputs, list) or not all(isinstance(x, str) for x in inputs):
            raise BadRequest("invalid input type")
        dimensions = request.dimensions
        started = time.perf_counter()
        requester = self.requester()
        async with self.scheduler.use(model, options, keep_alive, requester=requester) as loaded:
            loaded_at = time.perf_counter()
            reply = await embed(loaded, inputs, request.truncate) if inputs else EmbedReply([], 0)
        self.scheduler.users.record(requester, reply.prompt_eval_count, 0)
        vectors = [truncate_dims(v, dimensions) for v in reply.embeddings] if dimensions else reply.embeddings
        self.write_json({
            "model": request.model, "embeddings": vectors,
            "total_duration": int((time.perf_counter() - started) * 1e9),
            "load_duration": int((loaded_at - started) * 1e9),
            "prompt_eval_count": reply.prompt_eval_count,
        })


class EmbeddingsHandler(InferenceHandler):
    """The legacy endpoint: one prompt, one vector."""

    async def post(self) -> None:
        request = self.json_body(wire.EmbeddingRequest)
        model = self.find_model(request.model, embedding=True)
        options, keep_alive = self.request_options(request)
        async with self.scheduler.use(model, options, keep_alive, requester=self.requester()) as loaded:
            prompt = request.prompt
            # Unlike /api/embed, this legacy endpoint returns the vector unnormalized.
            reply = await embed(loaded, [prompt], True, normalize=False) if prompt else EmbedReply([[]], 0)
        self.write_json({"embedding": reply.embeddings[0]})


async def embed(loaded: Loaded | RemoteLoaded, inputs: list[str], truncate: bool, normalize: bool = True) -> EmbedReply:
    return await loaded.runner.embed(EmbedRequest(inputs, truncate, normalize))


def truncate_dims(vector: list[float], dimensions: int) -> list[float]:
    if dimensions < 0:
        raise BadRequest("dimensions must be a positive number")
    cut = vector[:dimensions]
    norm = math.sqrt(sum(x * x for x in cut)) or 1.0
    return [x / norm for x in cut]


def inference_routes() -> list[tuple[str, type, dict[str, Any]]]:
    return [
        (r"api/generate", GenerateHandler, {}),
        (r"api/chat", ChatHandler, {}),
        (r"api/embed", EmbedHandler, {}),
        (r"api/embeddings", EmbeddingsHandler, {}),
    ]
