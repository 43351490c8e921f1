"""llama.cpp's sequence states, read and rewritten: real states of SmolLM2 and Gemma 3 (sliding-window layers)."""

from __future__ import annotations

import struct

import llama_cpp as L
import numpy as np
import pytest

from jupyter_ollama.runner import seqstate
from jupyter_ollama.runner.llama import LlamaModel, batch_add
from jupyter_ollama.runner.seqstate import BadState, restore, snapshot

TEXT = "The quick brown fox jumps over the lazy dog. " * 8


def read(model: LlamaModel, ctx, seq: int, tokens: list[int], start: int = 0) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Decode `tokens` into sequence `seq` from position `start`; the last one's logits."""
    batch = L.llama_batch_init(len(tokens), 0, 1)
    try:
        for i, token in enumerate(tokens):
            batch_add(batch, token, start + i, seq, i == len(tokens) - 1)
        assert L.llama_decode(ctx, batch) == 0
        n_vocab = L.llama_vocab_n_tokens(model.vocab)
        return np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, len(tokens) - 1), shape=(n_vocab,)).copy()
    finally:
        L.llama_batch_free(batch)


def context(model: LlamaModel, slots: int, n_ctx: int = 256, kv: str = "f16"):  # type: ignore[no-untyped-def]
    return model.new_context(n_ctx=n_ctx * slots, n_seq_max=slots, n_batch=256, threads=(1, 1), kv_cache_type=kv)


@pytest.fixture(scope="module")
def saved(model: LlamaModel):  # type: ignore[no-untyped-def]
    """A state of SmolLM2 saved from the last of 3 slots, its tokens, and the logits of the token after them."""
    tokens = model.tokenize(TEXT)
    ctx = context(model, 3)
    try:
        read(model, ctx, 2, tokens[:-1])
        state = snapshot(ctx, 2)
        after = read(model, ctx, 2, tokens[-1:], start=len(tokens) - 1)
    finally:
        L.llama_free(ctx)
    return state, tokens, after


def test_a_state_says_what_it_holds(saved):
    state, tokens, _ = saved
    parsed = seqstate.parse(state, 3)
    assert parsed.n_stream == 3 and parsed.n_tokens == len(tokens) - 1 and parsed.window == 0
    (part,) = parsed.parts  # SmolLM2: one KV cache, no sliding window
    v_trans, layers = part.signature[:2]
    assert layers == 30 and part.signature[2] == L.GGML_TYPE_F16
    with pytest.raises(BadState, match="streams"):
        seqstate.parse(state, 1)


@pytest.mark.parametrize("slots", [1, 2, 3])
def test_a_state_rewritten_for_another_slot_count_restores_exactly(model, saved, slots):
    state, tokens, after = saved
    parsed = seqstate.parse(state, 3)
    rewritten = seqstate.rewrite(state, parsed, slots)
    assert len(rewritten) == seqstate.size_for(parsed, slots)
    assert seqstate.parse(rewritten, slots).signature == parsed.signature
    ctx = context(model, slots, n_ctx=512)  # a larger slot than it was saved from
    try:
        assert restore(ctx, 0, rewritten)
        assert np.array_equal(read(model, ctx, 0, tokens[-1:], start=len(tokens) - 1), after)
    finally:
        L.llama_free(ctx)


def test_a_state_cut_short_or_changed_is_refused(saved):
    state, _, _ = saved
    for cut in (4, 9, len(state) // 2, len(state) - 1):
        with pytest.raises(BadState):
            seqstate.parse(state[:cut], 3)
    with pytest.raises(BadState):
        seqstate.parse(np.concatenate([state, np.zeros(4, np.uint8)]), 3)  # bytes after the end
    changed = state.copy()
    cells = 16  # magic, seq, n_stream, then stream 0's and 1's empty counts: stream 2's count is at byte 20
    assert struct.unpack_from("<I", changed, 20)[0] == seqstate.parse(state, 3).parts[0].cells
    struct.pack_into("<I", changed, 20, cells)  # fewer cells than its rows are for
    with pytest.raises(BadState):
        seqstate.parse(changed, 3)


def test_a_state_of_another_kv_type_has_another_signature(model, saved):
    state, tokens, _ = saved
    ctx = context(model, 1, kv="q8_0")
    try:
        read(model, ctx, 0, tokens[:-1])
        quantized = seqstate.parse(snapshot(ctx, 0), 1)
    finally:
        L.llama_free(ctx)
    assert quantized.signature != seqstate.parse(state, 3).signature
    assert quantized.parts[0].signature[2] == L.GGML_TYPE_Q8_0


def test_a_model_with_sliding_window_layers_has_two_parts_both_whole(gemma):
    tokens = gemma.tokenize(TEXT)
    ctx = gemma.new_context(n_ctx=512, n_seq_max=1, n_batch=256, threads=(1, 1))
    try:
        read(gemma, ctx, 0, tokens)
        parsed = seqstate.parse(snapshot(ctx, 0), 1)
    finally:
        L.llama_free(ctx)
    assert L.llama_model_n_swa(gemma.ptr) > 0 and len(parsed.parts) == 2  # full layers, then the window's
    # Fewer tokens than the window: both parts hold every position (past it, see test_prompt_cache's Gemma test).
    assert parsed.n_tokens == len(tokens) and parsed.window == 0
