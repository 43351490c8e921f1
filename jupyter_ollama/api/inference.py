"""Ollama's inference endpoints: generate, chat, embed, embeddings, and ps.

Handlers parse and validate, ask the scheduler for a slot, and shape the
runner's events into Ollama's chunks. The prompt itself is rendered by the
runner, which has the tokenizer and the model's template.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any, AsyncIterator

from ..errors import BadRequest, NotFound
from ..runner.prompt_go import capabilities as go_capabilities
from ..scheduler.durations import parse_keep_alive
from ..scheduler.scheduler import Loaded, Scheduler
from ..store.model import LocalModel, rfc3339
from ..store.options import validate_parameters
from . import wire
from .base import OllamaHandler

MESSAGE_ROLES = ("system", "user", "assistant", "tool")


def now() -> str:
    return rfc3339(time.time())


class InferenceHandler(OllamaHandler):
    @property
    def scheduler(self) -> Scheduler:
        return self.settings["ollama_scheduler"]

    def find_model(self, name: str | None) -> LocalModel:
        if not name:
            raise BadRequest("model is required")
        model = self.store.find(name)
        if model is None:
            raise NotFound(f'model "{name}" not found, try pulling it first')
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
            async with self.scheduler.use(model, options, keep_alive):
                pass
            reason = "load"
        self.write_json({"model": body["model"], "created_at": now(), **empty, "done": True, "done_reason": reason})

    async def render_only(self, body: dict[str, Any], model: LocalModel, options: dict[str, Any], keep_alive: Any, spec: dict[str, Any]) -> None:
        """`_debug_render_only`: the prompt the model would read, without generating."""
        async with self.scheduler.use(model, options, keep_alive) as loaded:
            reply = await loaded.runner.request("POST", "/render", {"prompt": spec})
        self.write_json({"model": body["model"], "created_at": now(), "done": False,
                         "_debug_info": {"rendered_template": reply["prompt"]}})

    async def generation(self, model: LocalModel, options: dict[str, Any], keep_alive: Any, job: dict[str, Any]) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Yield ("piece", event) for text and one ("done", event) with Ollama's six timings."""
        started = time.perf_counter()
        merged = {**model.parameters, **options}
        async with self.scheduler.use(model, options, keep_alive) as loaded:
            loaded_at = time.perf_counter()
            job = {**job, "options": merged}
            async for event in loaded.runner.stream("/completion", job):
                if event.get("done"):
                    end = time.perf_counter()
                    self.scheduler.stats_for(model).record(
                        event["prompt_eval_count"], event["prompt_eval_duration"],
                        event["eval_count"], event["eval_duration"], int((end - started) * 1e9),
                    )
                    yield "done", {
                        "done_reason": event["done_reason"],
                        "total_duration": int((end - started) * 1e9),
                        "load_duration": int((loaded_at - started) * 1e9),
                        "prompt_eval_count": event["prompt_eval_count"],
                        "prompt_eval_duration": event["prompt_eval_duration"],
                        "eval_count": event["eval_count"],
                        "eval_duration": event["eval_duration"],
                        **({"context": event["tokens"]} if "tokens" in event else {}),
                    }
                else:
                    yield "piece", event

    async def run(self, chunks: AsyncIterator[dict[str, Any]], stream: bool) -> None:
        """Respond in a task, so that a client hanging up cancels the generation."""
        self.task = asyncio.ensure_future(self.respond_stream(chunks, stream))
        try:
            await self.task
        except asyncio.CancelledError:
            pass


def check_format(fmt: Any) -> Any:
    if fmt in (None, "") or fmt == "json" or isinstance(fmt, dict):
        return fmt or None
    raise BadRequest(f'invalid format: {fmt!r}; expected "json" or a valid JSON Schema object')


def check_text_only(model: LocalModel, images: Any) -> None:
    if images:
        raise BadRequest(f'"{model.name.display()}" does not support images')


def check_think(model: LocalModel, think: Any, template: str | None) -> bool | None:
    if think in (None, False):
        return False if think is False else None
    text = template or ""
    if ".Think" not in text and "<think>" not in text and "enable_thinking" not in text:
        raise BadRequest(f'"{model.name.display()}" does not support thinking')
    return True


class GenerateHandler(InferenceHandler):
    async def post(self) -> None:
        body = self.json_body(wire.GENERATE)
        model = self.find_model(body.get("model"))
        options, keep_alive = self.request_options(body)
        fmt = check_format(body.get("format"))
        check_text_only(model, body.get("images"))
        raw = bool(body.get("raw"))
        if raw and (body.get("template") or body.get("system") or body.get("context")):
            raise BadRequest("raw mode does not support template, system, or context")
        prompt = body.get("prompt") or ""
        if body.get("suffix"):
            template = body.get("template") or model.template
            if not template or "insert" not in go_capabilities(template):
                raise BadRequest(f'"{model.name.display()}" does not support insert')
        if not prompt and not body.get("suffix"):
            return await self.load_only(body, model, options, keep_alive, {"response": ""})
        if raw:
            spec: dict[str, Any] = {"raw": prompt}
        else:
            system = body.get("system") or model.system
            messages = ([{"role": "system", "content": system}] if system else [])
            if not body.get("context"):
                messages += model.messages
            messages.append({"role": "user", "content": prompt})
            template = body.get("template") or model.template
            spec = {"messages": messages, "template": template, "suffix": body.get("suffix"),
                    "think": check_think(model, body.get("think"), template or self.store.effective_template(model))}
        if body.get("_debug_render_only"):
            return await self.render_only(body, model, options, keep_alive, spec)
        job = {"prompt": spec, "context": body.get("context") or [], "format": fmt,
               "truncate": body.get("truncate", True), "return_tokens": not raw}

        async def chunks() -> AsyncIterator[dict[str, Any]]:
            async for kind, event in self.generation(model, options, keep_alive, job):
                base = {"model": body["model"], "created_at": now()}
                if kind == "piece":
                    yield {**base, "response": event["content"], "done": False}
                else:
                    yield {**base, "response": "", "done": True, **event}

        stream = body.get("stream", True)
        await self.run(chunks() if stream else merged(chunks(), "response"), stream)


class ChatHandler(InferenceHandler):
    async def post(self) -> None:
        body = self.json_body(wire.CHAT)
        model = self.find_model(body.get("model"))
        options, keep_alive = self.request_options(body)
        fmt = check_format(body.get("format"))
        messages = check_messages(body.get("messages") or [])
        if any(m.get("images") for m in messages):
            check_text_only(model, True)
        if not messages:
            return await self.load_only(body, model, options, keep_alive, {"message": {"role": "assistant", "content": ""}})
        first_is_system = messages[0]["role"] == "system"
        messages = model.messages + messages
        if model.system and not first_is_system:
            messages.insert(0, {"role": "system", "content": model.system})
        template = model.template
        spec = {"messages": messages, "template": template, "tools": body.get("tools") or None,
                "think": check_think(model, body.get("think"), template or self.store.effective_template(model))}
        if body.get("_debug_render_only"):
            return await self.render_only(body, model, options, keep_alive, spec)
        job = {"prompt": spec, "format": fmt, "truncate": body.get("truncate", True)}

        async def chunks() -> AsyncIterator[dict[str, Any]]:
            async for kind, event in self.generation(model, options, keep_alive, job):
                base = {"model": body["model"], "created_at": now()}
                if kind == "piece":
                    yield {**base, "message": {"role": "assistant", "content": event["content"]}, "done": False}
                else:
                    yield {**base, "message": {"role": "assistant", "content": ""}, "done": True, **event}

        stream = body.get("stream", True)
        await self.run(chunks() if stream else merged(chunks(), "message"), stream)


async def merged(chunks: AsyncIterator[dict[str, Any]], field: str) -> AsyncIterator[dict[str, Any]]:
    """`stream: false`: one object whose text is every chunk's text joined."""
    parts: list[str] = []
    final: dict[str, Any] = {}
    async for chunk in chunks:
        if chunk["done"]:
            final = chunk
        else:
            parts.append(chunk[field]["content"] if field == "message" else chunk[field])
    if field == "message":
        final["message"] = {"role": "assistant", "content": "".join(parts)}
    else:
        final["response"] = "".join(parts)
    yield final


def check_messages(messages: list[Any]) -> list[dict[str, Any]]:
    out = []
    for message in messages:
        if not isinstance(message, dict):
            raise BadRequest("json: cannot unmarshal into Go struct field ChatRequest.messages of type api.Message")
        role = str(message.get("role", "")).lower()
        if role not in MESSAGE_ROLES:
            raise BadRequest(f'invalid role "{message.get("role")}": must be one of system, user, assistant, tool')
        content = message.get("content") or ""
        if not isinstance(content, str):
            raise BadRequest("json: cannot unmarshal into Go struct field Message.messages.content of type string")
        out.append({**message, "role": role, "content": content})
    return out


class EmbedHandler(InferenceHandler):
    async def post(self) -> None:
        body = self.json_body(wire.EMBED)
        model = self.find_model(body.get("model"))
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
        async with self.scheduler.use(model, options, keep_alive) as loaded:
            loaded_at = time.perf_counter()
            reply = await embed(loaded, inputs, body.get("truncate", True)) if inputs else {"embeddings": [], "prompt_eval_count": 0}
        vectors = [truncate_dims(v, dimensions) for v in reply["embeddings"]] if dimensions else reply["embeddings"]
        self.write_json({
            "model": body["model"], "embeddings": vectors,
            "total_duration": int((time.perf_counter() - started) * 1e9),
            "load_duration": int((loaded_at - started) * 1e9),
            "prompt_eval_count": reply["prompt_eval_count"],
        })


class EmbeddingsHandler(InferenceHandler):
    """The legacy endpoint: one prompt, one vector."""

    async def post(self) -> None:
        body = self.json_body(wire.EMBEDDINGS)
        model = self.find_model(body.get("model"))
        options, keep_alive = self.request_options(body)
        async with self.scheduler.use(model, options, keep_alive) as loaded:
            prompt = body.get("prompt") or ""
            # Unlike /api/embed, this legacy endpoint returns the vector unnormalized.
            reply = await embed(loaded, [prompt], True, normalize=False) if prompt else {"embeddings": [[]]}
        self.write_json({"embedding": reply["embeddings"][0]})


async def embed(loaded: Loaded, inputs: list[str], truncate: bool, normalize: bool = True) -> dict[str, Any]:
    return await loaded.runner.request("POST", "/embed", {"input": inputs, "truncate": truncate, "normalize": normalize})


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
