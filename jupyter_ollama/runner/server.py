"""The runner subprocess: one model, one engine, a small HTTP API on loopback for the manager.

Started as `python -m jupyter_ollama.runner`; its first stdin line is a JSON
config (model path, slots, context, the shared secret). It prints `{"port": N}`
once the model is loaded, and exits as soon as stdin closes, so a manager that
dies, however it dies, never leaves a runner holding memory.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import sys
import threading
from typing import Any

import tornado.iostream
import tornado.web

from ..errors import OllamaError
from .engine import Completion, Engine
from .llama import LlamaModel
from .prompt import prompt_tokens, render
from .sampling import SamplingOptions, grammar_for_format


class RunnerHandler(tornado.web.RequestHandler):
    @property
    def engine(self) -> Engine:
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
        self.finish({"error": message})

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        super().send_error(exc.status if isinstance(exc, OllamaError) else status_code, **kwargs)


class HealthHandler(RunnerHandler):
    def get(self) -> None:
        self.finish(
            {
                "status": "ok",
                "slots": self.engine.slot_states(),
                "waiting": len(self.engine.waiting),
                "prompt_tokens_total": self.engine.prompt_tokens_total,
                "tokens_predicted_total": self.engine.tokens_predicted_total,
            }
        )


class CompletionHandler(RunnerHandler):
    """Streams NDJSON: `{"content"}` pieces, then one `{"done": true, ...}` (or `{"error"}`)."""

    async def post(self) -> None:
        body = self.body()
        options = body.get("options") or {}
        tokens = list(body.get("context") or []) + await asyncio.to_thread(
            prompt_tokens, self.model, body["prompt"], self.engine.n_ctx_slot, body.get("truncate", True)
        )
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.completion = Completion(
            tokens=tokens,
            options=SamplingOptions.from_options(options),
            on_event=lambda event: loop.call_soon_threadsafe(events.put_nowait, event),
            grammar=grammar_for_format(body.get("format")),
            stop=list(options.get("stop") or []),
            num_predict=int(options.get("num_predict", -1)),
            num_keep=int(options.get("num_keep", 4)),
        )
        self.engine.submit(self.completion)
        self.set_header("Content-Type", "application/x-ndjson")
        while True:
            event = await events.get()
            if event.get("done") and body.get("return_tokens"):
                event["tokens"] = tokens + self.completion.generated
            try:
                self.write(json.dumps(event) + "\n")
                await self.flush()
            except tornado.iostream.StreamClosedError:
                self.completion.cancel()
                return
            if event.get("done") or "error" in event:
                break
        self.finish()

    def on_connection_close(self) -> None:
        # The manager went away from this request (its client cancelled): free the slot.
        completion = getattr(self, "completion", None)
        if completion is not None:
            completion.cancel()
            with self.engine.cond:
                self.engine.cond.notify()


class RenderHandler(RunnerHandler):
    """The prompt text a spec renders to (Ollama's `_debug_render_only`)."""

    def post(self) -> None:
        spec = self.body().get("prompt") or {}
        self.finish({"prompt": spec["raw"] if "raw" in spec else render(self.model, spec)})


class TokenizeHandler(RunnerHandler):
    def post(self) -> None:
        self.finish({"tokens": self.model.tokenize(self.body().get("content", ""), special=True, add_bos=False)})


class DetokenizeHandler(RunnerHandler):
    def post(self) -> None:
        self.finish({"content": self.model.detokenize(self.body().get("tokens") or [])})


class EmbedHandler(RunnerHandler):
    async def post(self) -> None:
        body = self.body()
        vectors, count = await asyncio.to_thread(
            self.model.embed, list(body.get("input") or []), self.engine.n_ctx_slot,
            body.get("truncate", True), body.get("normalize", True),
        )
        self.finish({"embeddings": vectors, "prompt_eval_count": count})


def _exit_when_stdin_closes() -> None:
    sys.stdin.read()
    os._exit(0)  # the manager is gone: leave at once, the OS takes the memory back


async def main() -> None:
    config = json.loads(sys.stdin.readline())
    model = LlamaModel(config["model_path"], n_gpu_layers=config.get("num_gpu", -1), use_mmap=config.get("use_mmap"))
    engine = Engine(
        model,
        n_slots=config["num_parallel"],
        n_ctx_slot=config["num_ctx"],
        n_batch=config.get("num_batch", 512),
        n_threads=config.get("num_thread", 0),
    )
    app = tornado.web.Application(
        [
            (r"/health", HealthHandler),
            (r"/completion", CompletionHandler),
            (r"/render", RenderHandler),
            (r"/tokenize", TokenizeHandler),
            (r"/detokenize", DetokenizeHandler),
            (r"/embed", EmbedHandler),
        ],
        engine=engine,
        model=model,
        secret=config["secret"],
    )
    server = app.listen(0, address="127.0.0.1")
    port = next(iter(server._sockets.values())).getsockname()[1]
    threading.Thread(target=_exit_when_stdin_closes, daemon=True).start()
    print(json.dumps({"port": port}), flush=True)
    await asyncio.Event().wait()
