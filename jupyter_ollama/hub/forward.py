"""A user's server under JupyterHub, using the hub's one model manager (the Hub service) instead of its own.

With JUPYTER_OLLAMA_HUB_SERVICE (or `c.JupyterOllama.hub_service`) set, the server extension
starts no manager and no runner: its `{base_url}ollama/` routes forward every request to the
service, as that user, so the sidebar, `%ollama` in the kernels, the widgets and the CLI in
the terminals reach the hub's models through it unchanged. Requests go with the server's own
Hub token, which inherits its user's scopes (the hub's `server` role with `inherit`); bodies
(a blob upload is gigabytes) and replies (a chat streams) stream both ways, and a client that
hangs up hangs up on the service too, which frees its slot.

Where the service is: the setting itself when it is a URL; else the Hub's record of the
service (`GET /hub/api/services/<name>`, which needs `read:services:name`); else the Hub's
host at `serve`'s port, 11434, as the documented recipe runs it.

Forwarded traffic counts as the server's activity (`record_activity`), so an idle culler
never stops a server in the middle of a chat or a pull; a server that stops ends the streams
it forwards with "the server is shutting down", in each route's shape.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import tornado.web

from ..api import anthropic_wire
from ..api.openai import error_body as openai_error
from ..envconfig import HubServerEnv
from ..scheduler.scheduler import SHUTTING_DOWN

log = logging.getLogger("jupyter_ollama")

SERVE_PORT = 11434  # `serve`'s default port, where the documented recipe runs the service
# Request headers the service reads; the user's own credentials for this server never leave it.
FORWARDED_REQUEST = ("content-type", "content-encoding", "accept", "user-agent", "anthropic-version", "anthropic-beta")
# Response headers that describe the connection, not the reply: tornado writes its own.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}


@dataclass(frozen=True)
class ServiceLocation:
    base: str  # the service's URL with its prefix, ending with a slash: http://127.0.0.1:11434/services/ollama/
    found: str  # how it was found, for messages


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


async def locate(setting: str, hub: HubServerEnv, http: httpx.AsyncClient) -> ServiceLocation:
    """Where the service named (or given) by `setting` is."""
    if _is_url(setting):
        return ServiceLocation(setting.rstrip("/") + "/", "JUPYTER_OLLAMA_HUB_SERVICE")
    prefix = f"{hub.base_url.rstrip('/')}/services/{setting}/"
    try:
        reply = await http.get(f"{hub.api_url}/services/{setting}", headers={"Authorization": f"token {hub.api_token}"})
        if reply.status_code == 200 and reply.json().get("url"):
            record = reply.json()
            return ServiceLocation(record["url"].rstrip("/") + (record.get("prefix") or prefix), "the Hub's record of the service")
    except (httpx.HTTPError, ValueError) as err:
        log.info("hub service %r: the Hub did not say where it is (%s)", setting, err)
    hub_host = urlsplit(hub.api_url)
    return ServiceLocation(f"{hub_host.scheme}://{hub_host.hostname}:{SERVE_PORT}{prefix}", "the Hub's host, port 11434")


def error_frame(path: str, message: str, status: int, streaming: str | None) -> bytes:
    """An error in the shape of the route at `path`: a whole body, or one more frame of a stream of type
    `streaming` (the reply's content type) when the reply has begun."""
    if path.startswith("v1/messages"):
        body: dict[str, Any] = anthropic_wire.error_body(status, message)
    elif path.startswith("v1/"):
        body = openai_error(status, message)
    else:
        body = {"error": message}
    text = json.dumps(body)
    if streaming and "event-stream" in streaming:
        event = f"event: {body.get('type', 'error')}\n" if path.startswith("v1/messages") else ""
        return f"{event}data: {text}\n\n".encode()
    return (text + "\n").encode() if streaming else text.encode()


def _nothing() -> asyncio.Future[None]:
    """An awaitable that is done already (a reply finished before)."""
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future


class Forwarding:
    """The user server's side: where the service is, the HTTP client, and the requests in flight."""

    def __init__(self, setting: str, hub: HubServerEnv, record_activity: Callable[[], None]) -> None:
        self.setting, self.hub, self.record_activity = setting, hub, record_activity
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=None, write=None))
        self.location: ServiceLocation | None = None
        self.in_flight: set[ForwardHandler] = set()

    async def base(self) -> str:
        if self.location is None:
            self.location = await locate(self.setting, self.hub, self.http)
            log.info("jupyter-ollama: models from the hub service at %s (%s)", self.location.base, self.location.found)
        return self.location.base

    def headers(self, request: Any) -> dict[str, str]:
        out = {k: v for k, v in request.headers.items() if k.lower() in FORWARDED_REQUEST}
        return {**out, "Authorization": f"token {self.hub.api_token}"}

    async def stop(self, grace: float = 3.0) -> None:
        """The server is stopping: every forwarded stream ends with an error that says so, written out to its
        client (within `grace` seconds) before the server goes."""
        ending = [handler.end_with(SHUTTING_DOWN) for handler in list(self.in_flight)]
        if ending:
            log.info("jupyter-ollama: ending %d forwarded request(s): the server is shutting down", len(ending))
            await asyncio.wait([asyncio.ensure_future(f) for f in ending], timeout=grace)
        await self.http.aclose()


@tornado.web.stream_request_body
class ForwardHandler(tornado.web.RequestHandler):
    """Every `ollama/...` request, forwarded to the hub service with the server's token."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
    body: asyncio.Queue[bytes | None] | None = None
    reply: asyncio.Task[None] | None = None
    streaming: str | None = None  # the reply's content type, once it has begun
    ended = False  # answered already (an error, a hang-up): what is left of the request's body is dropped

    @property
    def forwarding(self) -> Forwarding:
        return self.settings["ollama_forwarding"]

    def check_xsrf_cookie(self) -> None:
        return None  # an API: the token in the Authorization header is the guard, as on the local routes

    async def prepare(self) -> None:
        if not self.current_user:  # Jupyter authenticated first (its prepare); nothing is forwarded for a stranger
            raise tornado.web.HTTPError(403)
        self.forwarding.record_activity()
        self.body = asyncio.Queue(maxsize=8)  # a few chunks in flight: the client waits for the service
        self.reply = asyncio.ensure_future(self._forward(self.path_args[0] if self.path_args else ""))
        self.forwarding.in_flight.add(self)

    async def data_received(self, chunk: bytes) -> None:
        if self.body is not None and not self.ended:
            await self.body.put(chunk)

    async def _body(self) -> AsyncIterator[bytes]:
        assert self.body is not None
        while (chunk := await self.body.get()) is not None:
            yield chunk

    async def _forward(self, path: str) -> None:
        forwarding = self.forwarding
        method = self.request.method or "GET"
        query = f"?{self.request.query}" if self.request.query else ""
        has_body = method in ("POST", "PUT", "PATCH", "DELETE")
        try:
            url = await forwarding.base() + path + query
            request = forwarding.http.build_request(method, url, headers=forwarding.headers(self.request),
                                                    content=self._body() if has_body else None)
            upstream = await forwarding.http.send(request, stream=True)
        except httpx.HTTPError as err:
            where = forwarding.location.base if forwarding.location else forwarding.setting
            self._fail(502, f"the hub's model service at {where} is not reachable: {err or type(err).__name__}")
            return
        try:
            self.set_status(upstream.status_code)
            for name, value in upstream.headers.items():
                if name.lower() not in HOP_BY_HOP:
                    self.set_header(name, value)
            self.streaming = upstream.headers.get("content-type", "application/octet-stream")
            async for chunk in upstream.aiter_raw():
                self.write(chunk)
                await self.flush()
                forwarding.record_activity()
        except tornado.iostream.StreamClosedError:
            return
        except httpx.HTTPError as err:
            self._fail(502, f"the hub's model service stopped answering: {err or type(err).__name__}")
            return
        finally:
            await upstream.aclose()
        self._done()

    def _fail(self, status: int, message: str) -> Awaitable[None]:
        if self._finished:
            return _nothing()
        if self.streaming is None:
            self.clear()
            self.set_status(status)
            self.set_header("Content-Type", "application/json")
        self.write(error_frame(self.path_args[0] if self.path_args else "", message, status, self.streaming))
        return self._done()

    def _done(self) -> Awaitable[None]:
        """Finish the reply; what is returned is done when the reply's last bytes are out."""
        self.ended = True
        while self.body is not None and not self.body.empty():  # a client blocked on a full queue goes on
            self.body.get_nowait()
        finished = self.finish() if not self._finished else _nothing()
        self.forwarding.in_flight.discard(self)
        self.forwarding.record_activity()
        return finished

    def end_with(self, message: str) -> Awaitable[None]:
        """End the reply now with `message` as its error (the server is stopping); done when it is out."""
        if self.reply is not None:
            self.reply.cancel()
        return self._fail(503, message)

    async def _finish_request(self) -> None:
        if self.body is not None and not self.ended:
            await self.body.put(None)  # the request's body is complete
        if self.reply is not None:
            try:
                await self.reply
            except asyncio.CancelledError:
                pass

    async def get(self, path: str) -> None:
        await self._finish_request()

    head = post = put = patch = delete = options = get

    def on_connection_close(self) -> None:
        # The client went away: so do we, and the service sees it (the slot is freed, the download stops).
        self.ended = True
        if self.reply is not None and not self.reply.done():
            self.reply.cancel()
        self.forwarding.in_flight.discard(self)
        self.forwarding.record_activity()
