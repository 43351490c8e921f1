"""The HTTP client that reaches remote engines: kept-alive connections, and a request sent once
more when the connection it went out on turns out to be closed."""

from __future__ import annotations

import logging

import httpx

log = logging.getLogger("jupyter_ollama")

# What a request meets on a kept-alive connection that the engine closed as it was sent: no response
# at all. Errors after the response began are not among them: those end the stream they are in.
CLOSED_UNDER_US = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


class ResendOnClosedConnection(httpx.AsyncBaseTransport):
    """Sends a request again, on a fresh connection, when it got no response on a pooled one.

    llama-server closes a connection after a streamed reply. A request that takes that connection
    from the pool in the instant before the close arrives fails without any response (httpx's
    "Server disconnected without sending a response"), though the engine is well: streams that end
    together and clients that ask again at once make that instant common. A request that fails
    `tries` times running fails as the engine's error (an engine that is down refuses connections).
    """

    def __init__(self, transport: httpx.AsyncBaseTransport, tries: int = 3) -> None:
        self.transport = transport
        self.tries = tries

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        for _ in range(self.tries - 1):
            try:
                return await self.transport.handle_async_request(request)
            except CLOSED_UNDER_US as err:
                log.debug("%s %s: %s; sending it again on a fresh connection", request.method, request.url, err)
        return await self.transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self.transport.aclose()


def engine_client() -> httpx.AsyncClient:
    """One client for all of a pool's engines: its requests, checks and capacity reads."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
    return httpx.AsyncClient(transport=ResendOnClosedConnection(httpx.AsyncHTTPTransport(limits=limits)))
