"""One llama.cpp sampler chain per slot, built from Ollama's options.

Penalties, grammar and the RNG are per-sequence state, so every request gets its
own chain. The order follows llama-server: penalties, grammar, top-k, typical-p,
top-p, min-p, temperature, then the random draw (greedy when temperature <= 0).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import llama_cpp as L
import numpy as np
from llama_cpp.llama_grammar import JSON_GBNF, json_schema_to_gbnf

from ..errors import BadRequest


@dataclass(frozen=True)
class SamplingOptions:
    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.9
    min_p: float = 0.0
    typical_p: float = 1.0
    repeat_last_n: int = 64
    repeat_penalty: float = 1.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    seed: int = -1

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> SamplingOptions:
        known = {k: options[k] for k in cls.__dataclass_fields__ if options.get(k) is not None}
        return cls(**known)


def grammar_for_format(fmt: Any) -> str | None:
    """GBNF for Ollama's `format`: "json", a JSON schema object, or nothing."""
    if fmt in (None, ""):
        return None
    if fmt == "json":
        return JSON_GBNF
    if isinstance(fmt, dict):
        try:
            return json_schema_to_gbnf(json.dumps(fmt))
        except Exception as err:  # the converter raises plain exceptions on schemas it cannot express
            raise BadRequest(f"invalid JSON schema in format: {err}") from err
    raise BadRequest(f'invalid format: {json.dumps(fmt)}; expected "json" or a valid JSON Schema object')


class SamplerChain:
    """Owns a `llama_sampler` chain; `close()` frees it."""

    def __init__(self, vocab: Any, options: SamplingOptions, grammar: str | None = None, fast_greedy: bool = True) -> None:
        self.ptr = L.llama_sampler_chain_init(L.llama_sampler_chain_default_params())
        add = lambda sampler: L.llama_sampler_chain_add(self.ptr, sampler)  # noqa: E731
        o = options
        self.n_vocab = L.llama_vocab_n_tokens(vocab)
        # Greedy with nothing stateful before it (no penalties, no grammar) is an argmax over the logits:
        # the chain would first copy all of them into a candidate array (~0.13 ms a token, on the decode path).
        self.argmax = fast_greedy and o.temperature <= 0 and not grammar and not (
            o.repeat_penalty != 1.0 or o.presence_penalty or o.frequency_penalty)
        self.penalties = None  # the penalties sampler, owned by the chain
        if o.repeat_penalty != 1.0 or o.presence_penalty or o.frequency_penalty:
            last_n = o.repeat_last_n if o.repeat_last_n >= 0 else 0
            # This llama.cpp takes the vocabulary size first.
            self.penalties = L.llama_sampler_init_penalties(
                self.n_vocab, last_n, o.repeat_penalty, o.frequency_penalty, o.presence_penalty)
            add(self.penalties)
        if grammar:
            sampler = L.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
            if not sampler:
                self.close()
                raise BadRequest("the grammar for the requested format could not be parsed")
            add(sampler)
        if o.temperature <= 0:
            add(L.llama_sampler_init_greedy())
            return
        if o.top_k > 0:
            add(L.llama_sampler_init_top_k(o.top_k))
        if 0 < o.typical_p < 1:
            add(L.llama_sampler_init_typical(o.typical_p, 1))
        if o.top_p < 1:  # 0 keeps one token: the likeliest (as llama.cpp and Ollama read it)
            add(L.llama_sampler_init_top_p(max(o.top_p, 0.0), 1))
        if o.min_p > 0:
            add(L.llama_sampler_init_min_p(o.min_p, 1))
        add(L.llama_sampler_init_temp(o.temperature))
        seed = o.seed if o.seed >= 0 else L.LLAMA_DEFAULT_SEED  # the default seed means "random"
        add(L.llama_sampler_init_dist(seed & 0xFFFFFFFF))

    def remember(self, tokens: list[int]) -> None:
        """Tokens sampled before this chain took over a slot: the penalties count them (the grammar does not)."""
        if self.penalties:
            for token in tokens:
                L.llama_sampler_accept(self.penalties, token)

    def sample(self, ctx: Any, index: int) -> int:
        """Sample at batch position `index` and accept the token into the chain's state."""
        if self.argmax:  # the greedy sampler keeps no state: nothing to accept
            logits = np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, index), shape=(self.n_vocab,))
            return int(logits.argmax())
        return int(L.llama_sampler_sample(self.ptr, ctx, index))

    def close_call(self, ctx: Any, index: int, within: float) -> bool:
        """Whether another token's logit is within `within` of the likeliest one's at `index`."""
        logits = np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, index), shape=(self.n_vocab,))
        return int(np.count_nonzero(logits >= logits.max() - within)) > 1

    def logprobs(self, ctx: Any, index: int, token: int, top: int) -> tuple[float, list[tuple[int, float]]]:
        """`token`'s log probability under the model's distribution at `index`, and the `top` likeliest.

        From the logits the token was sampled from (before temperature and truncation, as
        Ollama and OpenAI report them); the greedy choice is always the first of the top.
        """
        logits = np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, index), shape=(self.n_vocab,)).astype(np.float64)
        peak = logits.max()
        log_total = peak + np.log(np.exp(logits - peak).sum())
        best: list[tuple[int, float]] = []
        if top > 0:
            ids = np.argpartition(-logits, top)[:top] if top < self.n_vocab else np.arange(self.n_vocab)
            ids = ids[np.argsort(-logits[ids], kind="stable")]
            best = [(int(i), float(logits[i] - log_total)) for i in ids]
        return float(logits[token] - log_total), best

    def close(self) -> None:
        if self.ptr:
            L.llama_sampler_free(self.ptr)  # and the samplers in it
            self.ptr = None
            self.penalties = None
