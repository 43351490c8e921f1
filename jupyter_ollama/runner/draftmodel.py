"""A draft model (Ollama's DRAFT): a small model with the model's vocabulary guesses its next tokens, greedily.

The draft has a llama.cpp context of its own with a sequence per slot of the engine. Before it
guesses, each sequence is brought in step with its slot's tokens: what they no longer share with
what the draft holds is removed (`llama_memory_seq_rm`: guesses the model did not keep, a context
shift, a new request) and the tokens since are read (a new prompt, at its first guess; then the
tokens sampled since the last guess). The guesses of every slot are decoded together, one token per
slot per decode. The engine checks each guess against the model's own greedy choice
(`BatchEngine._check_draft`), so a wrong guess costs time, never text. A slot whose tokens do not fit
in one decode yet (a long prompt) reads what fits and guesses nothing this step; a draft whose
decodes keep failing stops guessing, and the engine decodes plainly.
"""

from __future__ import annotations

from typing import Any

import llama_cpp as L
import numpy as np

from .llama import LlamaModel, batch_add
from .lookup import common_prefix

MAX_FAILURES = 3  # decodes that failed (each one resets the draft's memory) before the draft stops guessing


class DraftModel:
    """The draft model (owned: `close` frees it), its context and, per sequence, the tokens whose KV it holds."""

    def __init__(self, model: LlamaModel, n_slots: int, n_ctx_slot: int, n_batch: int, threads: tuple[int, int],
                 n_vocab: int, kv_cache_type: str = "f16", flash_attention: bool | None = None) -> None:
        self.model = model
        self.ctx = model.new_context(n_ctx=n_ctx_slot * n_slots, n_seq_max=n_slots, n_batch=n_batch, threads=threads,
                                     kv_cache_type=kv_cache_type, flash_attention=flash_attention)
        self.memory = L.llama_get_memory(self.ctx)
        self.batch = L.llama_batch_init(n_batch, 0, 1)
        self.n_batch = n_batch
        self.n_logits = L.llama_vocab_n_tokens(model.vocab)
        self.n_vocab = min(n_vocab, self.n_logits)  # a guess the model has no token for ends the guess
        self.held: list[list[int]] = [[] for _ in range(n_slots)]
        self.failures = 0
        self.error = ""  # the last failure, in words

    @property
    def usable(self) -> bool:
        return self.failures < MAX_FAILURES

    def set_threads(self, threads: tuple[int, int]) -> None:
        L.llama_set_n_threads(self.ctx, *threads)

    def guess(self, wanted: dict[int, tuple[list[int], int]]) -> dict[int, list[int]]:
        """Per sequence: (its tokens, the last one about to be decoded by the model; how many to guess) -> the guess.

        Sequences that get no guess this step are left out. Never raises: a failure resets the draft's memory."""
        if not self.usable or not wanted:
            return {}
        try:
            return self._guess(wanted)
        except Exception as err:  # never the request's problem: it decodes plainly
            self.failures += 1
            self.error = f"the draft model failed to decode: {err}"
            L.llama_memory_clear(self.memory, True)
            self.held = [[] for _ in self.held]
            return {}

    def _guess(self, wanted: dict[int, tuple[list[int], int]]) -> dict[int, list[int]]:
        batch = self.batch
        batch.n_tokens = 0
        last: dict[int, int] = {}  # sequence -> the batch index of its newest token, where its next guess is read
        for seq, (tokens, _) in wanted.items():
            held = self.held[seq]
            keep = min(common_prefix(held, tokens), len(tokens) - 1)  # at least one token is read: its logits guess
            if keep < len(held):
                L.llama_memory_seq_rm(self.memory, seq, keep, -1)
                del held[keep:]
            chunk = tokens[keep : keep + self.n_batch - batch.n_tokens]
            for token in chunk:
                batch_add(batch, token, len(held), seq, False)
                held.append(token)
            if chunk and len(held) == len(tokens):
                batch.logits[batch.n_tokens - 1] = True
                last[seq] = batch.n_tokens - 1
        guesses: dict[int, list[int]] = {}
        while batch.n_tokens:
            status = L.llama_decode(self.ctx, batch)
            if status != 0:
                raise RuntimeError(f"llama_decode returned {status}")
            batch.n_tokens = 0
            reading, last = last, {}
            for seq, index in reading.items():
                token = int(np.ctypeslib.as_array(L.llama_get_logits_ith(self.ctx, index), shape=(self.n_logits,)).argmax())
                if token >= self.n_vocab:
                    continue
                guess = guesses.setdefault(seq, [])
                guess.append(token)
                if len(guess) < wanted[seq][1] and not self.model.is_eog(token):
                    last[seq] = batch.n_tokens
                    batch_add(batch, token, len(self.held[seq]), seq, True)
                    self.held[seq].append(token)
        return guesses

    def close(self) -> None:
        L.llama_batch_free(self.batch)
        L.llama_free(self.ctx)
        self.model.close()


def load_draft(path: str, **kwargs: Any) -> tuple[DraftModel | None, str]:
    """The draft model at `path` on the CPU with its context, or None and why not (the engine then decodes plainly)."""
    try:
        model = LlamaModel(path, n_gpu_layers=0)
    except Exception as err:
        return None, f"the draft model did not load: {err}"
    try:
        return DraftModel(model, **kwargs), ""
    except Exception as err:
        model.close()
        return None, f"the draft model's context could not be made: {err}"
