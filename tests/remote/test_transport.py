"""Requests to a real llama-server, sent as fast as streams end, never fail on a connection it closed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jupyter_ollama.remote.transport import engine_client
from tests.remote.engines import LlamaServer, start_llama_server

pytestmark = pytest.mark.timeout(120)
BODY = {"prompt": "Count: 1, 2,", "max_tokens": 1, "temperature": 0, "stream": True}


@pytest.fixture(scope="module")
def engine(smollm2_gguf: Path) -> Iterator[LlamaServer]:
    started = start_llama_server(smollm2_gguf, slots=1)
    yield started
    started.stop()


async def streams_one_after_another(client: httpx.AsyncClient, url: str, count: int) -> list[str]:
    """Each request sent the moment the last stream ended; what each failure was."""
    failures = []
    for _ in range(count):
        try:
            async with client.stream("POST", url + "/v1/completions", json=BODY) as response:
                assert response.status_code == 200
                async for _ in response.aiter_lines():
                    pass
        except httpx.TransportError as err:
            failures.append(f"{type(err).__name__}: {err}")
    return failures


def test_a_connection_closed_after_a_stream_is_not_a_failure(engine: LlamaServer) -> None:
    # llama-server closes the connection after a streamed reply; with httpx's own client, about one
    # request in twenty to three hundred sent at once after a stream went out on it and got no response.
    async def run() -> list[str]:
        async with engine_client() as client:
            return await streams_one_after_another(client, engine.url, 300)

    assert asyncio.run(run()) == []


def test_an_engine_that_is_down_still_fails_at_once(engine: LlamaServer) -> None:
    async def run() -> None:
        async with engine_client() as client:
            with pytest.raises(httpx.ConnectError):
                await client.get("http://127.0.0.1:9/v1/models")

    asyncio.run(run())
