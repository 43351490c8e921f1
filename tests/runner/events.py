"""Requests to a `BatchEngine` in the runner's tests: submit one, keep its events, wait for its one final event."""

from __future__ import annotations

import threading
from typing import Any

from jupyter_ollama.runner.engine import BatchEngine, Completion, EngineEvent
from jupyter_ollama.runner.sampling import SamplingOptions
from jupyter_ollama.runners.protocol import Done, Failed, Piece

GREEDY = SamplingOptions(temperature=0)


class Collector:
    """An `on_event` callback that keeps the events and signals the final one."""

    def __init__(self) -> None:
        self.events: list[EngineEvent] = []
        self.finished = threading.Event()
        self.first_content = threading.Event()

    def __call__(self, event: EngineEvent) -> None:
        self.events.append(event)
        if isinstance(event, Piece):
            self.first_content.set()
        if isinstance(event, (Done, Failed)):
            self.finished.set()

    def wait(self, timeout: float = 60) -> Done | Failed:
        assert self.finished.wait(timeout), f"no final event after {timeout}s: {self.events[-3:]}"
        final = self.events[-1]
        assert sum(1 for e in self.events if isinstance(e, (Done, Failed))) == 1
        assert isinstance(final, (Done, Failed))
        return final

    @property
    def pieces(self) -> list[str]:
        return [e.content for e in self.events if isinstance(e, Piece)]

    @property
    def text(self) -> str:
        return "".join(self.pieces)


def start(engine: BatchEngine, tokens: list[int], **kwargs: Any) -> tuple[Completion, Collector]:
    collector = Collector()
    options = kwargs.pop("options", GREEDY)
    completion = Completion(tokens=tokens, options=options, on_event=collector, **kwargs)
    engine.submit(completion)
    return completion, collector


def complete(engine: BatchEngine, tokens: list[int], timeout: float = 60, **kwargs: Any) -> tuple[Completion, Collector, Done]:
    completion, collector = start(engine, tokens, **kwargs)
    final = collector.wait(timeout)
    assert not isinstance(final, Failed), final
    return completion, collector, final
