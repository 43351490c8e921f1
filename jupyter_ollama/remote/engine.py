"""One remote engine: what API it speaks, whether it is up, how loaded it is, and a request to it.

A failure before the engine's first token is `Unavailable` (the pool tries another engine);
the engine refusing the request itself (a 400 for bad input) is an `EngineError` with its
status, which the client gets as is; a failure after the first token ends that stream.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncGenerator
from typing import Any

import httpx

from .. import envconfig
from ..errors import OllamaError
from ..runners.protocol import CompletionEvent, CompletionRequest, Done, EmbedReply, EmbedRequest
from ..store.remote_hosts import EngineSpec
from . import ollama_api, openai_api
from .signals import Capacity, read_capacity

TIMEOUT = httpx.Timeout(connect=5.0, read=600.0, write=60.0, pool=None)
CHECK_TIMEOUT = httpx.Timeout(3.0)
# Statuses after which another engine of the pool may do better: our key refused there (the engine's
# setting, not the client's fault), not found there, overloaded, failing.
RETRYABLE = (401, 403, 404, 408, 429)


class EngineError(OllamaError):
    """The engine failed or refused; 502 unless it gave a status of the client's making."""

    status = 502


class Unavailable(EngineError):
    """The engine could not take the request (down, unreachable, overloaded): another one may."""


def error_text(body: bytes) -> str:
    """The message in an engine's error reply: Ollama's `{"error": str}` or OpenAI's `{"error": {"message"}}`."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace").strip()[:300]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return str(error.get("message") or error)
    return str(error or data)[:300]


class RemoteEngine:
    """One engine serving a remote model elsewhere: its API, health and capacity, and the requests sent to it."""

    def __init__(self, spec: EngineSpec, model: str, http: httpx.AsyncClient) -> None:
        self.url = spec.url
        self.key_env = spec.api_key_env  # read at each request: a rotated key needs no restart
        self.api = spec.api  # "" until detected
        self.model = model  # the model's name on the engine
        self.http = http
        self.up: bool | None = None  # None: not checked yet
        self.error = ""
        self.capacity: Capacity | None = None
        self.in_flight = 0  # our requests on it now
        self.in_flight_at_check = 0  # ours when its capacity was last read: the rest of what it reported is others'
        self.requests_total = 0
        self.failures_total = 0

    @property
    def headers(self) -> dict[str, str]:
        key = envconfig.remote_engine_key(self.key_env)
        return {"Authorization": f"Bearer {key}"} if key else {}

    # -- health ---------------------------------------------------------------

    async def check(self) -> None:
        """Find its API if not named, read its capacity signal, mark it up or down."""
        try:
            if not self.api:
                self.api = await self._detect()
            known = self.capacity.source if self.capacity else ""
            self.in_flight_at_check = self.in_flight
            self.capacity = await read_capacity(self.http, self.url, self.api, self.model, known, self.headers)
            if self.capacity is None:
                await self._ping()
            self.mark_up()
        except (httpx.HTTPError, EngineError) as err:
            self.mark_down(str(err) or type(err).__name__)

    async def _detect(self) -> str:
        version = await self.http.get(self.url + "/api/version", timeout=CHECK_TIMEOUT, headers=self.headers)
        if version.status_code == 200 and "version" in _json(version):
            return "ollama"
        models = await self.http.get(self.url + "/v1/models", timeout=CHECK_TIMEOUT, headers=self.headers)
        if models.status_code == 200:
            return "openai"
        raise Unavailable(f"{self.url} speaks neither Ollama's API (/api/version) nor OpenAI's (/v1/models)")

    async def _ping(self) -> None:
        path = "/api/version" if self.api == "ollama" else "/v1/models"
        response = await self.http.get(self.url + path, timeout=CHECK_TIMEOUT, headers=self.headers)
        if response.status_code != 200:
            raise Unavailable(f"{self.url}{path}: HTTP {response.status_code}")

    def mark_up(self) -> None:
        self.up, self.error = True, ""

    def mark_down(self, error: str) -> None:
        self.up, self.error = False, error
        self.capacity = None  # what it said last no longer holds

    @property
    def busy(self) -> int:
        """Requests on it now: ours in flight, plus others' as of its last report (what it reported
        running or waiting then, less ours then), since our own count is current and its report is not."""
        capacity = self.capacity
        others = max(0, capacity.busy + capacity.waiting - self.in_flight_at_check) if capacity else 0
        return self.in_flight + others

    @property
    def slots_busy(self) -> int:
        """`busy`, capped at its slots where it says how many it has (the rest wait there)."""
        capacity = self.capacity
        return min(self.busy, capacity.slots) if capacity and capacity.slots else self.busy

    @property
    def load(self) -> float:
        """Busy share of its slots. An engine that does not say how many slots it has counts as one
        slot, so requests go to engines with room they have told us about first."""
        capacity = self.capacity
        return self.busy / (capacity.slots if capacity and capacity.slots else 1)

    def describe(self) -> dict[str, Any]:
        capacity = self.capacity
        return {
            "host": self.url,
            "api": self.api or "unknown",
            "state": {True: "up", False: "down", None: "unknown"}[self.up],
            **({"error": self.error} if self.error else {}),
            "in_flight": self.in_flight,
            "slots_total": capacity.slots if capacity else None,
            "slots_busy": capacity.busy if capacity else None,
            "requests_waiting": capacity.waiting if capacity else None,
            "signal": capacity.source if capacity else "in flight",
            "requests_total": self.requests_total,
            "failures_total": self.failures_total,
        }

    # -- requests -------------------------------------------------------------

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self.http.post(self.url + path, json=body, timeout=TIMEOUT, headers=self.headers)
        except httpx.HTTPError as err:
            raise self._unavailable(err) from None
        if response.status_code != 200:
            raise self._refused(response.status_code, response.content)
        return _json(response)

    def _unavailable(self, err: Exception) -> Unavailable:
        self.failures_total += 1
        self.mark_down(f"{type(err).__name__}: {err}".rstrip(": "))
        return Unavailable(f"engine {self.url} is unavailable: {self.error}")

    def _refused(self, status: int, body: bytes) -> EngineError:
        message = error_text(body)
        if status in RETRYABLE or status >= 500:
            self.failures_total += 1
            return Unavailable(f"engine {self.url} answered {status}: {message}")
        return EngineError(message, status)

    async def completion(self, job: CompletionRequest) -> AsyncGenerator[CompletionEvent, None]:
        """Pieces then Done; `Unavailable` only before the first Piece."""
        api = ollama_api if self.api == "ollama" else openai_api
        path, body = api.completion_body(job, self.model)
        reader = openai_api.StreamReader(job.top_logprobs)
        started = False
        self.in_flight += 1
        self.requests_total += 1
        try:
            async with self.http.stream("POST", self.url + path, json=body, timeout=TIMEOUT, headers=self.headers) as response:
                if response.status_code != 200:
                    raise self._refused(response.status_code, await response.aread())
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    for event in self._events(line, reader):
                        if isinstance(event, Done):
                            yield event
                            return
                        started = True
                        yield event
            if self.api == "openai" and (reader.finish_reason or started):
                yield reader.done()
                return
            raise EngineError(f"engine {self.url} ended the response before it was done")
        except httpx.HTTPError as err:
            if not started:
                raise self._unavailable(err) from None
            self.failures_total += 1
            raise EngineError(f"engine {self.url} failed during the response: {type(err).__name__}") from None
        finally:
            self.in_flight -= 1

    def _events(self, line: str, reader: openai_api.StreamReader) -> list[CompletionEvent]:
        if self.api == "openai":
            read = reader.line(line)
            if isinstance(read, str):
                raise EngineError(f"engine {self.url}: {read}")
            return read
        try:
            data = json.loads(line)
        except ValueError:
            raise EngineError(f"engine {self.url} sent a line that is not JSON: {line[:80]!r}") from None
        event = ollama_api.read_line(data) if isinstance(data, dict) else "a line that is not an object"
        if isinstance(event, str):
            raise EngineError(f"engine {self.url}: {event}")
        last = ollama_api.final_piece(data) if isinstance(event, Done) else None
        return [last, event] if last else [event]

    async def embed(self, request: EmbedRequest) -> EmbedReply:
        self.in_flight += 1
        self.requests_total += 1
        try:
            if self.api == "ollama" and request.normalize:
                path, body = ollama_api.embed_body(request, self.model)
                data = await self._post(path, body)
                return EmbedReply(data.get("embeddings") or [], int(data.get("prompt_eval_count") or 0))
            if self.api == "ollama":  # the legacy route's unnormalized vectors, one input at a time
                vectors = [(await self._post("/api/embeddings", {"model": self.model, "prompt": text}))["embedding"]
                           for text in request.inputs]
                return EmbedReply(vectors, 0)
            data = await self._post("/v1/embeddings", {"model": self.model, "input": request.inputs})
            rows = sorted(data.get("data") or [], key=lambda row: row.get("index", 0))
            vectors = [row["embedding"] for row in rows]
            if request.normalize:
                vectors = [_normalized(v) for v in vectors]
            return EmbedReply(vectors, int((data.get("usage") or {}).get("prompt_tokens") or 0))
        finally:
            self.in_flight -= 1


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _normalized(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]
