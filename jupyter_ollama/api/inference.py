"""Ollama's inference endpoints: generate, chat, embed, embeddings, and ps.

Handlers parse and validate, ask the scheduler for a slot, and shape the
runner's events into Ollama's chunks. The prompt itself is rendered by the
runner, which has the tokenizer and the model's template. The output is split
into thinking, content and tool calls here (`tools.OutputParser`); each call
goes out in the chunk where it is parsed, as Ollama sends it. `prepare_chat`/`prepare_generate` are shared with the
OpenAI routes, which reshape the same chunks.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

from ..errors import BadRequest, NotFound, PromptTooLong
from ..modelfile.options import validate_parameters
from ..runners.protocol import CompletionRequest, Done, EmbedReply, EmbedRequest, Piece, Prompt, Started
from ..scheduler.durations import parse_keep_alive
from ..scheduler.scheduler import Loaded, RemoteLoaded, RunnerError, ShuttingDown
from ..store.model import LocalModel, rfc3339
from ..templates.capabilities import EMBEDDING, TOOLS, go_capabilities, require
from ..templates.profile import TemplateProfile
from ..tools import OutputParser, Parsed, check_tools
from . import wire
from .base import OllamaHandler
from .prepare import (
    check_format,
    check_images,
    check_messages,
    check_think,
    generation_flags,
    merged,
    output_parser,
    think_tags,
    think_value,
)

# A remote model's template and capabilities are its engines' business: nothing to read here.
REMOTE_PROFILE = TemplateProfile((), None, None, ("", ""), "")


STARTED = "started"  # the key of the chunk that announces a generation (InferenceHandler.chunks)


def now() -> str:
    return rfc3339(time.time())


@dataclass
class Prepared:
    """A checked chat or generate request, ready to run."""

    name: str  # the model as the request named it (echoed in every chunk)
    model: LocalModel
    options: dict[str, Any]
    keep_alive: Any
    job: CompletionRequest  # what the runner gets
    output: Callable[[str], OutputParser]  # a fresh parser for the model's output, given the prompt's tail
    prompt_tokens: int = 0  # once it runs: the prompt's tokens, as the runner counted them (its Started event)


def chunk(name: str, field: str, content: str, thinking: str, calls: list[dict[str, Any]], done: bool) -> dict[str, Any]:
    """One Ollama chunk: `message` (chat) or `response` (generate), with thinking and tool calls when present."""
    extra: dict[str, Any] = {"thinking": thinking} if thinking else {}
    if calls:
        extra["tool_calls"] = calls
    if field == "message":
        body: dict[str, Any] = {"message": {"role": "assistant", "content": content, **extra}}
    else:
        body = {"response": content, **extra}
    return {"model": name, "created_at": now(), **body, "done": done}


def with_logprobs(body: dict[str, Any], logprobs: list[dict[str, Any]]) -> dict[str, Any]:
    return {**body, "logprobs": logprobs} if logprobs else body


class InferenceHandler(OllamaHandler):
    # The OpenAI and Anthropic routes' 404 says how an agent's model name (`claude-*`) reaches a local model.
    alias_hint = False
    prepared: Prepared | None = None  # the request being answered, once checked

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

    def request_options(self, body: dict[str, Any]) -> tuple[dict[str, Any], Any]:
        options = validate_parameters(body.get("options") or {})
        keep_alive = parse_keep_alive(body["keep_alive"]) if body.get("keep_alive") is not None else "default"
        return options, keep_alive

    def on_connection_close(self) -> None:
        # The client went away: stop generating for it (the runner frees the slot).
        task = getattr(self, "task", None)
        if task is not None and not task.done():
            task.cancel()

    async def load_only(self, body: dict[str, Any], model: LocalModel, options: dict[str, Any], keep_alive: Any, empty: dict[str, Any]) -> None:
        """An empty prompt or message list loads the model; with keep_alive 0 it unloads it."""
        if keep_alive == 0:
            await self.scheduler.unload(model)
            reason = "unload"
        else:
            async with self.scheduler.use(model, options, keep_alive, requester=self.requester()):
                pass
            reason = "load"
        self.write_json({"model": body["model"], "created_at": now(), **empty, "done": True, "done_reason": reason})

    async def render_only(self, body: dict[str, Any], model: LocalModel, options: dict[str, Any], keep_alive: Any,
                          prompt: Prompt, empty: dict[str, Any]) -> None:
        """`_debug_render_only`: the prompt the model would read, without generating.

        With the reply's empty `response` or `message`, so that a client's response type still parses it."""
        async with self.scheduler.use(model, options, keep_alive, requester=self.requester()) as loaded:
            rendered = await loaded.runner.render(prompt)
        self.write_json({"model": body["model"], "created_at": now(), **empty, "done": False,
                         "_debug_info": {"rendered_template": rendered}})

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

    async def chunks(self, p: Prepared, field: str, announce: bool = False) -> AsyncIterator[dict[str, Any]]:
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

    async def run(self, chunks: AsyncIterator[dict[str, Any]], stream: bool) -> None:
        """Respond in a task, so that a client hanging up cancels the generation."""
        self.task = asyncio.ensure_future(self.respond_stream(chunks, stream))
        try:
            await self.task
        except asyncio.CancelledError:
            pass


class GenerateHandler(InferenceHandler):
    async def post(self) -> None:
        body = self.json_body(wire.GENERATE)
        prepared = await self.prepare_generate(body)
        if prepared is None:
            return
        stream = body.get("stream", True)
        chunks = self.chunks(prepared, "response")
        await self.run(chunks if stream else merged(chunks, "response"), stream)

    async def prepare_generate(self, body: dict[str, Any]) -> Prepared | None:
        """Validate; None when the request was answered already (load, unload, render only)."""
        model = self.find_model(body.get("model"))
        options, keep_alive = self.request_options(body)
        fmt = check_format(body.get("format"))
        remote = model.is_remote  # its engines render, think and call tools: they decide what the model can do
        profile = REMOTE_PROFILE if remote else await asyncio.to_thread(self.store.profile, model)
        caps = profile.capabilities
        if not remote:
            check_images(model, caps, body.get("images"))
        raw = bool(body.get("raw"))
        if raw and (body.get("template") or body.get("system") or body.get("context")):
            raise BadRequest("raw mode does not support template, system, or context")
        think = check_think(body.get("think")) if remote else think_value(model, caps, body.get("think"))
        if EMBEDDING in caps and not remote:
            raise BadRequest(f'"{body["model"]}" does not support generate')
        prompt = body.get("prompt") or ""
        template = body.get("template") or model.template
        if body.get("suffix") and not remote:
            insert = go_capabilities(template) if template else []
            if "insert" not in insert:
                raise BadRequest(f'"{model.name.display()}" does not support insert')
        if not prompt and not body.get("suffix"):
            await self.load_only(body, model, options, keep_alive, {"response": ""})
            return None
        if raw:
            spec = Prompt(raw=prompt, images=list(body.get("images") or []))
        else:
            system = body.get("system") or model.system
            messages = ([{"role": "system", "content": system}] if system else [])
            if not body.get("context"):
                messages += model.messages
            images = {"images": body["images"]} if body.get("images") else {}
            messages.append({"role": "user", "content": prompt, **images})
            spec = Prompt(messages=messages, template=template, suffix=body.get("suffix"), think=think)
        if body.get("_debug_render_only"):
            await self.render_only(body, model, options, keep_alive, spec, {"response": ""})
            return None
        profile = profile if remote else profile.with_go_template(template)
        # With a format, a thinking model thinks first; the grammar applies after its thinking (runner/thinkfirst.py).
        job = CompletionRequest(spec, context=body.get("context") or [], format=fmt, return_tokens=not raw,
                                think_tags=None if raw or remote else think_tags(profile, spec), **generation_flags(body))
        output: Callable[[str], OutputParser] = (
            (lambda tail: OutputParser()) if raw or remote else (lambda tail: output_parser(profile, spec, tail)))
        return Prepared(body["model"], model, options, keep_alive, job, output)


class ChatHandler(InferenceHandler):
    async def post(self) -> None:
        body = self.json_body(wire.CHAT)
        prepared = await self.prepare_chat(body)
        if prepared is None:
            return
        stream = body.get("stream", True)
        chunks = self.chunks(prepared, "message")
        await self.run(chunks if stream else merged(chunks, "message"), stream)

    async def prepare_chat(self, body: dict[str, Any], forced: dict[str, Any] | None = None) -> Prepared | None:
        """Validate; None when answered already. `forced`: a JSON schema a forced tool call must follow."""
        model = self.find_model(body.get("model"))
        options, keep_alive = self.request_options(body)
        fmt = check_format(body.get("format"))
        messages = check_messages(body.get("messages") or [])
        tools = check_tools(body.get("tools"))
        remote = model.is_remote  # its engines render, think and call tools: they decide what the model can do
        profile = REMOTE_PROFILE if remote else await asyncio.to_thread(self.store.profile, model)
        caps = profile.capabilities
        if not remote:
            for i, message in enumerate(messages):
                check_images(model, caps, message.get("images"), f"messages[{i}].images")
        if tools and not remote:
            require(model, caps, TOOLS)
        think = check_think(body.get("think")) if remote else think_value(model, caps, body.get("think"))
        if EMBEDDING in caps and not remote:
            raise BadRequest(f'"{body["model"]}" does not support chat')
        if not messages:
            await self.load_only(body, model, options, keep_alive, {"message": {"role": "assistant", "content": ""}})
            return None
        first_is_system = messages[0]["role"] == "system"
        messages = model.messages + messages
        if model.system and not first_is_system:
            messages.insert(0, {"role": "system", "content": model.system})
        spec = Prompt(messages=messages, template=model.template, tools=tools or None, think=think)
        if body.get("_debug_render_only"):
            await self.render_only(body, model, options, keep_alive, spec, {"message": {"role": "assistant", "content": ""}})
            return None
        # With a format or a forced call, a thinking model thinks first; the grammar applies after its thinking
        # (runner/thinkfirst.py). A forced call is a grammar like any other there, so it thinks first too.
        job = CompletionRequest(spec, format=forced or fmt, think_tags=None if remote else think_tags(profile, spec),
                                **generation_flags(body))
        if remote:
            return Prepared(body["model"], model, options, keep_alive, job, lambda tail: OutputParser())
        return Prepared(body["model"], model, options, keep_alive, job,
                        lambda tail: output_parser(profile, spec, tail, forced=forced is not None))


class EmbedHandler(InferenceHandler):
    async def post(self) -> None:
        body = self.json_body(wire.EMBED)
        model = self.find_model(body.get("model"), embedding=True)
        options, keep_alive = self.request_options(body)
        inputs = body.get("input")
        if inputs is None or inputs == "":
            inputs = []
        elif isinstance(inputs, str):
            inputs = [inputs]
        elif not isinstance(inputs, list) or not all(isinstance(x, str) for x in inputs):
            raise BadRequest("invalid input type")
        dimensions = body.get("dimensions") or 0
        started = time.perf_counter()
        requester = self.requester()
        async with self.scheduler.use(model, options, keep_alive, requester=requester) as loaded:
            loaded_at = time.perf_counter()
            reply = await embed(loaded, inputs, body.get("truncate", True)) if inputs else EmbedReply([], 0)
        self.scheduler.users.record(requester, reply.prompt_eval_count, 0)
        vectors = [truncate_dims(v, dimensions) for v in reply.embeddings] if dimensions else reply.embeddings
        self.write_json({
            "model": body["model"], "embeddings": vectors,
            "total_duration": int((time.perf_counter() - started) * 1e9),
            "load_duration": int((loaded_at - started) * 1e9),
            "prompt_eval_count": reply.prompt_eval_count,
        })


class EmbeddingsHandler(InferenceHandler):
    """The legacy endpoint: one prompt, one vector."""

    async def post(self) -> None:
        body = self.json_body(wire.EMBEDDINGS)
        model = self.find_model(body.get("model"), embedding=True)
        options, keep_alive = self.request_options(body)
        async with self.scheduler.use(model, options, keep_alive, requester=self.requester()) as loaded:
            prompt = body.get("prompt") or ""
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
