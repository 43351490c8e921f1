"""Keep-alive events in a begun stream (`api/sse.with_heartbeat`), with a stream whose pace the test sets."""

from __future__ import annotations

import asyncio

from jupyter_ollama.api.sse import with_heartbeat


async def paced(release: asyncio.Event, log: list[str]):  # type: ignore[no-untyped-def]
    """One event, then a wait for the test (a long prompt being read), then the rest."""
    try:
        yield {"type": "start"}
        await release.wait()
        yield {"type": "text"}
    finally:
        log.append("closed")


def test_beats_only_after_the_stream_began_and_while_it_is_quiet():
    async def main() -> list[str]:
        release, log = asyncio.Event(), []
        seen: list[str] = []
        async for event in with_heartbeat(paced(release, log), 0.01, lambda: {"type": "ping"}):
            seen.append(event["type"])
            if seen.count("ping") == 3:
                release.set()
        return seen + log

    seen = asyncio.run(main())
    assert seen[0] == "start" and seen[1:4] == ["ping"] * 3 and seen[-2:] == ["text", "closed"]


def test_a_client_leaving_mid_wait_closes_the_stream_under_it():
    async def main() -> list[str]:
        release, log = asyncio.Event(), []
        stream = with_heartbeat(paced(release, log), 0.01, lambda: {"type": "ping"})
        assert (await anext(stream))["type"] == "start"
        assert (await anext(stream))["type"] == "ping"
        await stream.aclose()  # what a hang-up does: the generation waiting inside is cancelled, then closed
        return log

    assert asyncio.run(main()) == ["closed"]
