"""The runner subprocess: one model, one engine, a small HTTP API on loopback for the manager.

Started as `python -m jupyter_ollama.runner`; its first stdin line is a JSON
config (model path, slots, context, the shared secret). It prints `{"port": N}`
once the model is loaded, and exits as soon as stdin closes, so a manager that
dies, however it dies, never leaves a runner holding memory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

import tornado.iostream
import tornado.log
import tornado.web

from ..errors import BadRequest, OllamaError, PromptTooLong
from ..runners.protocol import (
    CompletionRequest,
    Done,
    EmbedReply,
    EmbedRequest,
    Failed,
    LoadConfig,
    Prompt,
    RunnerHealth,
    Started,
    StreamEvent,
    event_to_json,
    from_json,
    to_json,
)
from .engine import DRAFT_NUM_PREDICT, BatchEngine, Completion, EngineEvent
from .llama import LlamaModel
from .prompt import images_of, media_prompt, prompt_text, prompt_tokens
from .prompt_cache import Settings as CacheSettings
from .sampling import SamplingOptions, grammar_for_format
from .thinkfirst import ThinkFirst
from .vision import IMAGE_TOKEN, MediaPrompt, Vision

PROMPT_TAIL = 64  # characters of the rendered prompt the manager sees (an open think tag at its end)


class RunnerHandler(tornado.web.RequestHandler):
    @property
    def engine(self) -> BatchEngine:
        return self.settings["engine"]

    @property
    def model(self) -> LlamaModel:
        return self.settings["model"]

    def prepare(self) -> None:
        expected = f"Bearer {self.settings['secret']}"
        if not hmac.compare_digest(self.request.headers.get("Authorization", ""), expected):
            raise tornado.web.HTTPError(401)

    def body(self) -> dict[str, Any]:
        return json.loads(self.request.body or b"{}")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = exc.message if isinstance(exc, OllamaError) else self._reason
        counts = {"prompt_tokens": exc.tokens, "context_length": exc.limit} if isinstance(exc, PromptTooLong) else {}
        self.finish({"error": message, **counts})

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        super().send_error(exc.status if isinstance(exc, OllamaError) else status_code, **kwargs)

    def log_exception(self, typ, value, tb) -> None:  # type: ignore[no-untyped-def]
        if not isinstance(value, OllamaError):  # an answer for the manager, not a bug: no traceback
            super().log_exception(typ, value, tb)


class RunnerHealthHandler(RunnerHandler):
    def get(self) -> None:
        health = RunnerHealth(
            slots=self.engine.slot_states(),
            waiting=len(self.engine.waiting),
            threads=self.engine.threads[0],
            threads_batch=self.engine.threads[1],
            prompt_tokens_total=self.engine.prompt_tokens_total,
            tokens_predicted_total=self.engine.tokens_predicted_total,
            tokens_drafted_total=self.engine.tokens_drafted_total,
            tokens_draft_accepted_total=self.engine.tokens_draft_accepted_total,
            draft_error=self.engine.draft_error,
            prompt_cache=self.engine.cache_report(),
        )
        self.finish(to_json(health))


class CompletionHandler(RunnerHandler):
    """Streams the engine's events as NDJSON (runners/protocol.py): Started, Pieces, then Done or Failed."""

    async def post(self) -> None:
        request = CompletionRequest.of(self.body())
        options = request.options
        text, tokens, media = await asyncio.to_thread(self.tokens, request)
        if len(tokens) >= self.engine.n_ctx_slot and (media or not request.cut_prompt):  # never cut in silence
            if media:
                media.close()
            raise PromptTooLong(len(tokens), self.engine.n_ctx_slot)
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[EngineEvent] = asyncio.Queue()
        self.completion = Completion(
            tokens=tokens,
            options=SamplingOptions.from_options(options),
            on_event=lambda event: loop.call_soon_threadsafe(events.put_nowait, event),
            grammar=grammar_for_format(request.format),
            think_first=think_first(request, text),
            stop=list(options.get("stop") or []),
            num_predict=int(options.get("num_predict", -1)),
            num_keep=int(options.get("num_keep", 4)),
            shift=request.shift,
            cut_prompt=request.cut_prompt,
            draft_max=int(options.get("draft_num_predict", DRAFT_NUM_PREDICT)),
            logprobs=request.logprobs,
            top_logprobs=request.top_logprobs,
            media=media,
        )
        await asyncio.to_thread(self.engine.find_cached, self.completion)  # reads a disk entry: not on the IOLoop
        self.engine.submit(self.completion)
        self.set_header("Content-Type", "application/x-ndjson")
        if not await self.send(Started(prompt_tail=text.rstrip()[-PROMPT_TAIL:], prompt_tokens=len(tokens))):
            return
        while True:
            event = await events.get()
            if isinstance(event, Done) and request.return_tokens:
                context = [t for t in tokens if t != IMAGE_TOKEN] + self.completion.generated  # an image is not a token
                event = dataclasses.replace(event, tokens=context)
            if not await self.send(event):
                return
            if isinstance(event, (Done, Failed)):
                break
        self.finish()

    def tokens(self, request: CompletionRequest) -> tuple[str, list[int], MediaPrompt | None]:
        """The rendered prompt, its tokens after an earlier reply's `context`, and its images where it has any."""
        images = images_of(request.prompt)
        vision = self.settings["vision"]
        if not images:
            text, tokens = prompt_tokens(self.model, request.prompt, self.engine.n_ctx_slot, request.truncate)
            return text, list(request.context) + tokens, None
        if vision is None:  # Ollama's words, where a model without a projector is sent images
            raise BadRequest(self.settings["vision_error"] or "this model is missing data required for image input")
        before = self.model.detokenize(list(request.context))
        text, media = media_prompt(self.model, vision, request.prompt, self.engine.n_ctx_slot, request.truncate, before)
        if media.media_end == 0:  # no tag kept: the images are not read (as Ollama's runner)
            media.close()
            return text, media.tokens, None
        if media.media_end == len(media.tokens):
            media.close()
            raise BadRequest("the prompt ends with an image: the model needs text after it")
        return text, media.tokens, media

    async def send(self, event: StreamEvent) -> bool:
        """Write one line; False (and the request cancelled) when the manager has hung up."""
        try:
            self.write(json.dumps(event_to_json(event)) + "\n")
            await self.flush()
            return True
        except tornado.iostream.StreamClosedError:
            self.completion.cancel()
            return False

    def on_connection_close(self) -> None:
        # The manager went away from this request (its client cancelled): free the slot.
        completion = getattr(self, "completion", None)
        if completion is not None:
            completion.cancel()
            with self.engine.cond:
                self.engine.cond.notify()


def log_failures(handler: tornado.web.RequestHandler) -> None:
    """Only the runner's own failures: its answers (a 400 for a prompt too long) are the manager's to log, once."""
    if handler.get_status() >= 500:
        tornado.log.access_log.error("%d %s %s", handler.get_status(), handler.request.method, handler.request.uri)


def think_first(request: CompletionRequest, prompt: str) -> ThinkFirst | None:
    """The gate that holds a `format` back while the model thinks; the prompt may have opened the thinking."""
    if not request.format or not request.think_tags:
        return None
    opening, closing = request.think_tags
    return ThinkFirst(opening, closing, opened=prompt.rstrip().endswith(opening))


class RenderHandler(RunnerHandler):
    """The prompt text a spec renders to (Ollama's `_debug_render_only`)."""

    def post(self) -> None:
        self.finish({"prompt": prompt_text(self.model, Prompt.of(self.body().get("prompt") or {}))})


class CountHandler(RunnerHandler):
    """The tokens a spec renders to, the whole conversation (nothing dropped to fit a slot)."""

    def post(self) -> None:
        _, tokens = prompt_tokens(self.model, Prompt.of(self.body().get("prompt") or {}), self.engine.n_ctx_slot, truncate=False)
        self.finish({"tokens": len(tokens)})


class TokenizeHandler(RunnerHandler):
    def post(self) -> None:
        self.finish({"tokens": self.model.tokenize(self.body().get("content", ""), special=True, add_bos=False)})


class DetokenizeHandler(RunnerHandler):
    def post(self) -> None:
        self.finish({"content": self.model.detokenize(self.body().get("tokens") or [])})


class EmbedHandler(RunnerHandler):
    async def post(self) -> None:
        request = from_json(EmbedRequest, self.body())
        vectors, count = await asyncio.to_thread(
            self.model.embed, request.inputs, self.engine.n_ctx_slot, request.truncate, self.engine.threads,
            request.normalize,
        )
        self.finish(to_json(EmbedReply(vectors, count)))


class ThreadsHandler(RunnerHandler):
    """The manager's share of the CPU for this runner (it changes as other models start and stop)."""

    def post(self) -> None:
        body = self.body()
        self.engine.set_threads(int(body["threads"]), int(body["threads_batch"]))
        self.finish({"threads": self.engine.threads[0], "threads_batch": self.engine.threads[1]})


def cache_settings(config: LoadConfig) -> CacheSettings | None:
    if not config.model_digest:
        return None
    folder = Path(config.prompt_cache_dir) if config.prompt_cache_dir else None
    return CacheSettings(config.model_digest, config.prompt_cache_ram, folder, config.prompt_cache_disk)


def _exit_when_stdin_closes(engine: BatchEngine) -> None:
    sys.stdin.read()
    engine.flush_cache(EXIT_FLUSH)  # prompts saved in the last moments reach the disk (the manager waits 10 s)
    os._exit(0)  # the manager is gone: leave at once, the OS takes the memory back


EXIT_FLUSH = 5.0  # seconds


async def main() -> None:
    hello = json.loads(sys.stdin.readline())
    config = from_json(LoadConfig, hello)
    model = LlamaModel(config.model_path, n_gpu_layers=config.num_gpu, use_mmap=config.use_mmap,
                       tensor_split=config.tensor_split, main_gpu=config.main_gpu)
    vision, vision_error = None, ""
    if config.projector_path:
        try:
            vision = Vision(model, config.projector_path, config.threads_batch, use_gpu=config.num_gpu != 0)
        except BadRequest as err:  # the model serves text all the same; images get this reason
            vision_error = err.message
            print(f"warning: {vision_error}; the model reads no images", file=sys.stderr, flush=True)
    engine = BatchEngine(
        model,
        n_slots=config.num_parallel,
        n_ctx_slot=config.num_ctx,
        n_batch=config.num_batch,
        n_threads=config.threads,
        n_threads_batch=config.threads_batch,
        kv_cache_type=config.kv_cache_type,
        flash_attention=config.flash_attention,
        draft_path=config.draft_model_path,
        vision=vision,
        prompt_cache=cache_settings(config),
    )
    if engine.draft_error:  # the model serves all the same, without guesses
        print(f"warning: {engine.draft_error}; decoding without it", file=sys.stderr, flush=True)
    app = tornado.web.Application(
        [
            (r"/health", RunnerHealthHandler),
            (r"/completion", CompletionHandler),
            (r"/render", RenderHandler),
            (r"/count", CountHandler),
            (r"/tokenize", TokenizeHandler),
            (r"/detokenize", DetokenizeHandler),
            (r"/embed", EmbedHandler),
            (r"/threads", ThreadsHandler),
        ],
        engine=engine,
        model=model,
        vision=vision,
        vision_error=vision_error,
        secret=hello["secret"],
        log_function=log_failures,
    )
    server = app.listen(0, address="127.0.0.1")
    port = next(iter(server._sockets.values())).getsockname()[1]
    threading.Thread(target=_exit_when_stdin_closes, args=(engine,), daemon=True).start()
    print(json.dumps({"port": port}), flush=True)
    await asyncio.Event().wait()
