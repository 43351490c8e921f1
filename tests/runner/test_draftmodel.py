"""A draft model guessing for the engine, on the real SmolLM2-135M drafting for itself: same text, most guesses kept."""

from __future__ import annotations

import llama_cpp as L
import pytest

from jupyter_ollama.runner import draftmodel
from jupyter_ollama.runner.draftmodel import load_draft
from jupyter_ollama.runner.engine import BatchEngine
from jupyter_ollama.runner.llama import LlamaModel
from jupyter_ollama.runner.sampling import SamplingOptions
from jupyter_ollama.runners.protocol import Failed

from .test_engine import N_CTX_SLOT, chat, complete, start

PROMPTS = ("Write a short story about a cat.", "List five fruits, one per line.")


@pytest.fixture(scope="module")
def plain(model) -> list[str]:
    """Both prompts decoded plainly (no guess at all), together on two slots."""
    engine = BatchEngine(model, n_slots=2, n_ctx_slot=N_CTX_SLOT, n_threads=1)
    try:
        return replies(engine, model, draft_max=0)
    finally:
        engine.close()


def replies(engine: BatchEngine, model: LlamaModel, **kwargs) -> list[str]:  # type: ignore[no-untyped-def]
    running = [start(engine, chat(model, content), num_predict=30, **kwargs) for content in PROMPTS]
    finals = [collector.wait() for _, collector in running]
    assert all(not isinstance(final, Failed) for final in finals), finals
    return [collector.text for _, collector in running]


def test_a_draft_model_leaves_greedy_output_exactly_as_plain_decoding(model, smollm2_gguf, plain):
    engine = BatchEngine(model, n_slots=2, n_ctx_slot=N_CTX_SLOT, n_threads=1, draft_path=str(smollm2_gguf))
    try:
        assert engine.drafts is not None and engine.draft_error == ""
        assert replies(engine, model) == plain
        # The model drafting for itself guesses right; what it loses is the near ties the engine decodes again alone.
        assert engine.tokens_drafted_total > 20
        assert engine.tokens_draft_accepted_total >= 0.6 * engine.tokens_drafted_total
        # Sampling draws cannot be checked against a guess: no guessing at all.
        drafted = engine.tokens_drafted_total
        complete(engine, chat(model, PROMPTS[0]), num_predict=8, options=SamplingOptions(temperature=0.7, seed=3))
        assert engine.tokens_drafted_total == drafted
    finally:
        engine.close()


def test_a_draft_that_fails_leaves_plain_decoding(model, smollm2_gguf, plain, monkeypatch):
    def broken(self, wanted):  # type: ignore[no-untyped-def]
        raise RuntimeError("llama_decode returned 1")

    monkeypatch.setattr(draftmodel.DraftModel, "_guess", broken)
    engine = BatchEngine(model, n_slots=2, n_ctx_slot=N_CTX_SLOT, n_threads=1, draft_path=str(smollm2_gguf))
    try:
        assert replies(engine, model) == plain
        assert engine.tokens_drafted_total == 0 and engine.drafts is not None and not engine.drafts.usable
        assert engine.draft_error == "the draft model failed to decode: llama_decode returned 1"
    finally:
        engine.close()


def test_a_draft_that_does_not_load_is_said_and_the_model_serves(model, tmp_path):
    engine = BatchEngine(model, n_slots=1, n_ctx_slot=N_CTX_SLOT, n_threads=1, draft_path=str(tmp_path / "missing.gguf"))
    try:
        assert engine.drafts is None and engine.draft_error.startswith("the draft model did not load")
        _, collector, final = complete(engine, chat(model, PROMPTS[1]), num_predict=5)
        assert final.eval_count == 5 and engine.tokens_drafted_total == 0
    finally:
        engine.close()


def test_the_draft_follows_its_sequences_and_catches_up_on_a_long_prompt(model, smollm2_gguf):
    """A prompt longer than a batch is read over several steps (no guess meanwhile); then it guesses,
    and what the sequence no longer shares (a guess the model did not keep) is removed first."""
    tokens = chat(model, PROMPTS[0])
    half = (len(tokens) + 1) // 2
    draft, why = load_draft(str(smollm2_gguf), n_slots=2, n_ctx_slot=N_CTX_SLOT, n_batch=half, threads=(1, 1),
                            n_vocab=L.llama_vocab_n_tokens(model.vocab))
    assert draft is not None, why
    try:
        assert draft.guess({1: (tokens, 4)}) == {}  # behind: half the prompt read
        assert draft.held[1] == tokens[:half]
        [guess] = draft.guess({1: (tokens, 4)}).values()
        assert len(guess) == 4 and draft.held[1] == tokens + guess[:3]
        # The model kept two guesses and sampled its own third token: the draft drops the rest and goes on from there.
        kept = tokens + guess[:2] + [guess[2] + 1]
        [again] = draft.guess({1: (kept, 2)}).values()
        assert len(again) == 2 and draft.held[1] == kept + again[:1]
        assert draft.held[0] == []
    finally:
        draft.close()
