"""The runner contract's wire shapes: each event a runner's /completion stream carries reads back as itself."""

from __future__ import annotations

import pytest

from jupyter_ollama.runners.protocol import Done, Failed, Piece, Started, StreamEvent, event_from_json, event_to_json

EVENTS: list[StreamEvent] = [
    Started(prompt_tail="<|im_start|>assistant\n", prompt_tokens=12),
    Piece("Hello"),
    Piece(" world", logprobs=[{"token": " world", "logprob": -0.5, "bytes": [32, 119], "top_logprobs": []}]),
    Piece("", thinking="hmm", tool_calls=[{"function": {"name": "f", "arguments": {}}}]),
    Done(done_reason="stop", prompt_eval_count=12, prompt_eval_duration=5, eval_count=2, eval_duration=7, tokens=[1, 2],
         prompt_cached=3, prompt_restored=3, prompt_cache="ram", prompt_cache_saved=11),
    Done(done_reason="cancel", prompt_eval_count=0, prompt_eval_duration=0, eval_count=0, eval_duration=0),
    Failed("the model is being unloaded"),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_reads_back_as_itself(event: StreamEvent) -> None:
    assert event_from_json(event_to_json(event)) == event


def test_a_failure_travels_as_an_error_object() -> None:
    assert event_to_json(Failed("llama.cpp engine error: boom")) == {"error": "llama.cpp engine error: boom"}


def test_a_piece_leaves_out_what_it_does_not_carry() -> None:
    assert event_to_json(Piece("a")) == {"kind": "piece", "content": "a"}
