"""The floor for our engine: a bare llama-cpp-python decode loop, no HTTP, no engine bookkeeping.

Same context shape as the runner's engine (n_seq_max = slots, per-slot context,
kv_unified off, n_batch = n_ubatch = 512, 2 threads). B sequences decode in lock
step, one token each per `llama_decode`, greedy. It prints decode tokens/s per
sequence and in aggregate, so a gap between `loadgen.py`'s "ours" row and this
is Python/HTTP overhead, and a gap between this and the native row is the
llama.cpp build/version (kernels), not our code.

    .venv/bin/python benchmarks/decode_floor.py --batch 1 8
"""

from __future__ import annotations

import argparse
import ctypes
import time
from typing import Any

import llama_cpp as L
from loadgen import PROMPT, default_model


@L.llama_log_callback
def _quiet(level: int, text: bytes, user_data: Any) -> None:
    pass


def run(model: object, vocab: object, args: argparse.Namespace, n_seq: int) -> tuple[float, float]:
    params = L.llama_context_default_params()
    params.n_ctx, params.n_seq_max, params.kv_unified = args.ctx * args.slots, args.slots, False
    params.n_batch = params.n_ubatch = 512
    params.n_threads = params.n_threads_batch = args.threads
    ctx = L.llama_init_from_model(model, params)
    batch = L.llama_batch_init(512, 0, 1)
    samplers = [L.llama_sampler_init_greedy() for _ in range(n_seq)]

    def fill(items: list[tuple[int, int, int, bool]]) -> None:
        for i, (token, pos, seq, logits) in enumerate(items):
            batch.token[i], batch.pos[i], batch.n_seq_id[i], batch.seq_id[i][0], batch.logits[i] = token, pos, 1, seq, logits
        batch.n_tokens = len(items)

    last, pos = [], []
    for seq in range(n_seq):  # prefill each sequence on its own
        text = PROMPT.format(i=seq).encode()
        buf = (L.llama_token * 256)()
        n = L.llama_tokenize(vocab, text, len(text), buf, 256, False, True)
        fill([(buf[i], i, seq, i == n - 1) for i in range(n)])
        assert L.llama_decode(ctx, batch) == 0
        last.append(L.llama_sampler_sample(samplers[seq], ctx, n - 1))
        pos.append(n)
    start = time.perf_counter()
    for _ in range(args.tokens - 1):
        fill([(last[s], pos[s], s, True) for s in range(n_seq)])
        assert L.llama_decode(ctx, batch) == 0
        for s in range(n_seq):
            last[s] = L.llama_sampler_sample(samplers[s], ctx, s)
            pos[s] += 1
    elapsed = time.perf_counter() - start
    for sampler in samplers:
        L.llama_sampler_free(sampler)
    L.llama_batch_free(batch)
    L.llama_free(ctx)
    per_seq = (args.tokens - 1) / elapsed
    return per_seq, per_seq * n_seq


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--ctx", type=int, default=1024)
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    L.llama_log_set(_quiet, ctypes.c_void_p(0))
    L.llama_backend_init()
    mparams = L.llama_model_default_params()
    model = L.llama_model_load_from_file((args.model or default_model()).encode(), mparams)
    vocab = L.llama_model_get_vocab(model)
    run(model, vocab, args, 1)  # warm-up
    for b in args.batch:
        per_seq, total = run(model, vocab, args, b)
        print(f"B={b}: {per_seq:.1f} tok/s per sequence, {total:.1f} tok/s aggregate")
    L.llama_model_free(model)


if __name__ == "__main__":
    main()
