"""The base of every native API handler: JSON in, Ollama-shaped JSON or NDJSON out.

Errors follow Ollama: `{"error": "..."}` with a real status before anything was
streamed, one `{"error": ...}` line after. Nothing ever answers with a traceback.
`send_events` is that ladder for every stream, NDJSON here and server-sent events
on the OpenAI and Anthropic routes (`Framing`), each error in the route's shape.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

import tornado.httputil
import tornado.iostream
import tornado.web

from .. import envconfig
from ..errors import BadRequest, Forbidden, OllamaError, TooLarge, TooManyRequests
from ..format import human_bytes_binary
from ..scheduler.scheduler import Scheduler
from ..scheduler.turns import ANONYMOUS, Requester
from ..store.store import ModelStore
from .encoding import decoded
from .origins import ALLOW_HEADERS, ALLOW_METHODS, BrowserGuard, host_allowed
from .wire import WireRequest

log = logging.getLogger("jupyter_ollama")

JSON_TYPE = "application/json; charset=utf-8"
NDJSON_TYPE = "application/x-ndjson"

R = TypeVar("R", bound=WireRequest)


class Framing(Protocol):
    """How a stream writes its events: the headers it opens with, each event, an error event, its end."""

    @property
    def headers(self) -> dict[str, str]: ...

    @property
    def end(self) -> str: ...

    def event(self, event: dict[str, Any]) -> str: ...

    def error(self, event: dict[str, Any]) -> str: ...


class NDJSONFraming:
    """Ollama's streams: one JSON object a line."""

    headers = {"Content-Type": NDJSON_TYPE}
    end = ""

    def event(self, event: dict[str, Any]) -> str:
        return json.dumps(event, ensure_ascii=False) + "\n"

    def error(self, event: dict[str, Any]) -> str:
        return json.dumps(event) + "\n"


NDJSON = NDJSONFraming()


@tornado.web.stream_request_body
class OllamaHandler(tornado.web.RequestHandler):
    """Mixed into Jupyter's handler classes by the server extension, used as is standalone.

    Bodies stream in so that a JSON body over `OLLAMA_MAX_BODY_SIZE` is refused (413, in
    the route's error shape) without being held in memory; the blob upload streams to disk.
    """

    _body: bytearray | None = None
    _body_limit = 0
    # What the handler's changing verbs do to the model store ("pull", "create", ...): where users are told apart
    # (a Hub service), those belong to admins. "" for a handler that only reads or runs models.
    manages_store = ""

    @property
    def store(self) -> ModelStore:
        return self.settings["ollama_store"]

    @property
    def scheduler(self) -> Scheduler:
        return self.settings["ollama_scheduler"]

    def requester(self) -> Requester:
        """Who asks, for fair turns and per-requester limits (scheduler/turns.py): a short hash of the token the
        request shows (`Authorization: Bearer` or `token`, `?token=`, `x-api-key`), or, with none, everyone
        together. Under JupyterHub the service overrides this with the Hub user and their groups."""
        token = request_token(self.request)
        return Requester.of_token(token) if token else ANONYMOUS

    async def prepare(self) -> None:  # async: a subclass may stream (the blob upload)
        if not self.guard_browser():
            self.expect_json_body()

    def expect_json_body(self) -> None:
        """Buffer the body that follows, up to the cap; refuse a declared length over it at once."""
        self._body_limit = envconfig.max_body_size()
        declared = self.request.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self._body_limit:
            raise self._too_large()
        self._body = bytearray()

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        if self._body is None:  # refused, answered, or a body nobody reads: dropped
            return None
        if len(self._body) + len(chunk) > self._body_limit:  # chunked: no length was declared
            self._body = None
            self._body_limit = -1
            return None
        self._body.extend(chunk)
        return None

    def _too_large(self) -> TooLarge:
        return TooLarge(f"request body too large: the limit is {human_bytes_binary(envconfig.max_body_size())} (OLLAMA_MAX_BODY_SIZE)")

    def guard_browser(self) -> bool:
        """Ollama's origin and Host rules, where the server has them (`api/origins.py`).

        Sets the CORS headers for an allowed origin; True when the request is a preflight,
        answered here (204) so the handler must not run.
        """
        guard: BrowserGuard | None = self.settings.get("ollama_browser_guard")
        if guard is None:  # under Jupyter: Jupyter's own rules
            return False
        host = self.request.headers.get("Host", "")
        if guard.check_host and not host_allowed(host):
            raise Forbidden(f"host {host!r} is not allowed: this server answers only to names of this machine")
        origin = self.request.headers.get("Origin")
        if origin is None:
            return False
        if not guard.origin_allowed(origin, host):
            raise Forbidden(f"origin {origin!r} is not allowed: add it to OLLAMA_ORIGINS to let that page in")
        self.set_header("Access-Control-Allow-Origin", origin)
        self.set_header("Vary", "Origin")
        if self.request.method == "OPTIONS" and "Access-Control-Request-Method" in self.request.headers:
            self.set_header("Access-Control-Allow-Methods", ALLOW_METHODS)
            self.set_header("Access-Control-Allow-Headers", ALLOW_HEADERS)
            self.set_header("Access-Control-Max-Age", "43200")
            self.set_status(204)
            self.finish()
            return True
        return False

    def check_xsrf_cookie(self) -> None:
        # An API for programmatic clients: the standalone server has no cookies to
        # protect, and under Jupyter the token in the Authorization header is the guard.
        return None

    def json_body(self, request: type[R]) -> R:
        """The body as the typed `request` it declares; 400 in Go's words when a field has the wrong type."""
        if self._body_limit < 0:
            raise self._too_large()
        body: bytes | None = bytes(self._body or b"")
        if encoding := self.request.headers.get("Content-Encoding", ""):  # the cap holds for the decoded body too
            body = decoded(body or b"", encoding, self._body_limit)
            if body is None:
                raise self._too_large()
        if not body or not body.strip():
            raise BadRequest("missing request body")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as err:
            raise BadRequest(f"invalid JSON: {err}") from None
        return request.from_json(data)

    def write_json(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(json.dumps(data, ensure_ascii=False))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, OllamaError):
            message = exc.message
        elif isinstance(exc, tornado.web.HTTPError) and exc.log_message:
            message = exc.log_message
        elif status_code == 405:
            message = "method not allowed"
        else:
            message = self._reason.lower() if status_code < 500 else "internal server error"
        if isinstance(exc, TooManyRequests):
            self.set_header("Retry-After", str(exc.retry_after))
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(json.dumps(self.error_body(status_code, message, exc if isinstance(exc, OllamaError) else None)))

    def error_body(self, status_code: int, message: str, err: OllamaError | None = None) -> dict[str, Any]:
        """Ollama's error shape; the OpenAI and Anthropic routes override this with theirs. `err`: the error, where
        one was raised, for a route that words some errors its own way (a prompt too long)."""
        return {"error": message}

    def log_exception(self, typ, value, tb) -> None:  # type: ignore[no-untyped-def]
        if isinstance(value, OllamaError):  # an answer, not a bug: one line, no traceback
            log.warning("%s %s: %s", self.request.method, self.request.path, value.message)
        else:
            super().log_exception(typ, value, tb)

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, OllamaError):
            status_code = exc.status
        super().send_error(status_code, **kwargs)

    def stream_error(self, status: int, message: str, err: OllamaError | None = None) -> dict[str, Any]:
        """The event that reports an error once streaming has started: the route's error shape."""
        return self.error_body(status, message, err)

    async def respond_stream(self, events: AsyncIterator[dict[str, Any]], stream: bool) -> None:
        """NDJSON when `stream` (Ollama's default), else only the last event as one object."""
        if not stream:
            last: dict[str, Any] = {}
            async for event in events:
                last = event
            self.write_json(last)
            return
        await self.send_events(events, NDJSON)

    async def send_events(self, events: AsyncIterator[dict[str, Any]], framing: Framing) -> None:
        """Stream `events` in `framing`. Before the first event an error is raised, to be answered with a real
        status in the route's shape; after it, one error event in that shape (`stream_error`) ends the stream.
        A client that hung up ends it quietly; a bug mid-stream is reported so, its traceback logged."""
        started = False
        try:
            async for event in events:
                if not started:
                    for name, value in framing.headers.items():
                        self.set_header(name, value)
                    started = True
                self.write(framing.event(event))
                await self.flush()
            if framing.end:
                self.write(framing.end)
        except OllamaError as err:
            if not started:
                raise
            self.write(framing.error(self.stream_error(err.status, err.message, err)))
        except tornado.iostream.StreamClosedError:
            return
        except Exception as err:  # a bug mid-stream: reported in the route's shape, traceback logged
            if not started:
                raise
            log.exception("error while streaming %s", self.request.path)
            self.write(framing.error(self.stream_error(500, f"internal error: {err}")))
        self.finish()


def request_token(request: tornado.httputil.HTTPServerRequest) -> str:
    """The token a request shows, however it shows it; "" when it shows none."""
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() in ("bearer", "token") and credentials.strip():
        return credentials.strip()
    query = request.query_arguments.get("token")
    if query and query[0]:
        return query[0].decode("utf-8", "replace")
    return request.headers.get("x-api-key", "").strip()


async def run_in_thread(work: Callable[[Callable[[dict[str, Any]], None]], None]) -> AsyncIterator[dict[str, Any]]:
    """Run blocking `work(progress)` in a thread and yield each progress event as it comes.

    An exception raised by `work` is re-raised in the caller after the events
    that came before it, so streamed replies keep Ollama's error rules.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    def progress(event: dict[str, Any]) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, ("event", event))

    def runner() -> None:
        try:
            work(progress)
        except BaseException as err:  # handed to the caller, never lost in the thread
            loop.call_soon_threadsafe(queue.put_nowait, ("error", err))
        else:
            loop.call_soon_threadsafe(queue.put_nowait, ("done", None))

    future = loop.run_in_executor(None, runner)
    while True:
        kind, value = await queue.get()
        if kind == "event":
            yield value
        elif kind == "error":
            await future
            raise value
        else:
            await future
            return
