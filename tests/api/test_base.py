"""The streaming error ladder (`OllamaHandler.send_events`), in both framings, on a real tornado server.

Before the first event an error gets a real status in the route's shape; after it, one error event or
line in that shape ends the stream; a bug mid-stream is reported so and logged with its traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import tornado.httpserver
import tornado.testing
import tornado.web

from jupyter_ollama.api import anthropic_wire as aw
from jupyter_ollama.api.base import NDJSON, OllamaHandler
from jupyter_ollama.api.sse import NAMED_SSE, OPENAI_SSE
from jupyter_ollama.errors import BadRequest, OllamaError

# What each stream does: its events, then how it ends ("ok", "refused": a 400, "bug": a ValueError).
PLANS = {"ok": (2, "ok"), "early": (0, "refused"), "late": (1, "refused"), "bug": (1, "bug")}


async def planned(plan: str) -> AsyncIterator[dict[str, Any]]:
    count, end = PLANS[plan]
    for i in range(count):
        yield {"type": "part", "i": i, "text": "é"}
    if end == "refused":
        raise BadRequest("not like that")
    if end == "bug":
        raise ValueError("oops")


class NDJSONHandler(OllamaHandler):
    async def get(self, plan: str) -> None:
        await self.send_events(planned(plan), NDJSON)


class AnthropicLikeHandler(OllamaHandler):
    def error_body(self, status_code: int, message: str, err: OllamaError | None = None) -> dict[str, Any]:
        return aw.error_body(status_code, message)

    async def get(self, plan: str) -> None:
        await self.send_events(planned(plan), NAMED_SSE)


class OpenAILikeHandler(OllamaHandler):
    async def get(self, plan: str) -> None:
        await self.send_events(planned(plan), OPENAI_SSE)


def fetch(path: str) -> httpx.Response:
    """GET `path` from a fresh server with the three handlers."""
    async def main() -> httpx.Response:
        app = tornado.web.Application([(r"/ndjson/(\w+)", NDJSONHandler), (r"/named/(\w+)", AnthropicLikeHandler),
                                       (r"/openai/(\w+)", OpenAILikeHandler)])
        sock, port = tornado.testing.bind_unused_port()
        server = tornado.httpserver.HTTPServer(app)
        server.add_sockets([sock])
        try:
            async with httpx.AsyncClient() as client:
                return await client.get(f"http://127.0.0.1:{port}{path}")
        finally:
            server.stop()
            await server.close_all_connections()

    return asyncio.run(main())


def test_ndjson_lines_and_an_error_line_after_the_first():
    reply = fetch("/ndjson/ok")
    assert reply.status_code == 200 and reply.headers["content-type"] == "application/x-ndjson"
    assert reply.text == '{"type": "part", "i": 0, "text": "é"}\n{"type": "part", "i": 1, "text": "é"}\n'
    late = fetch("/ndjson/late")
    assert late.status_code == 200 and [json.loads(x) for x in late.text.splitlines()][1:] == [{"error": "not like that"}]


def test_an_error_before_the_first_event_has_its_status():
    for path, body in (("/ndjson/early", {"error": "not like that"}),
                       ("/named/early", {"type": "error", "error": {"type": "invalid_request_error", "message": "not like that"}})):
        reply = fetch(path)
        assert reply.status_code == 400 and reply.json() == body


def test_named_events_and_an_error_event_in_the_routes_shape():
    reply = fetch("/named/late")
    assert reply.status_code == 200 and reply.headers["content-type"] == "text/event-stream"
    assert reply.headers["cache-control"] == "no-cache"
    frames = reply.text.split("\n\n")
    assert frames[0] == 'event: part\ndata: {"type": "part", "i": 0, "text": "é"}'
    assert frames[1] == 'event: error\ndata: {"type": "error", "error": {"type": "invalid_request_error", "message": "not like that"}}'
    assert frames[2:] == [""]  # nothing after the error


def test_openai_streams_end_with_done_unless_an_error_ended_them():
    assert fetch("/openai/ok").text.endswith('"i": 1, "text": "é"}\n\ndata: [DONE]\n\n')
    late = fetch("/openai/late").text
    assert "[DONE]" not in late and late.endswith('data: {"error": "not like that"}\n\n')


def test_a_bug_mid_stream_is_reported_and_logged_with_its_traceback(caplog: pytest.LogCaptureFixture):
    with caplog.at_level(logging.ERROR, logger="jupyter_ollama"):
        reply = fetch("/ndjson/bug")
    assert reply.status_code == 200 and json.loads(reply.text.splitlines()[-1]) == {"error": "internal error: oops"}
    (record,) = [r for r in caplog.records if r.name == "jupyter_ollama"]
    assert record.getMessage() == "error while streaming /ndjson/bug" and record.exc_info and record.exc_info[0] is ValueError
