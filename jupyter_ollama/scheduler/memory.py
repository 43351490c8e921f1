"""What a model will take once loaded, from its GGUF metadata, before loading it.

weights (the file) + KV cache (layers x kv heads x (key + value dim) x context x
slots x 2 bytes for f16) + a compute buffer (activations and logits for one
batch). The numbers are estimates that err on the high side; /api/ps reports them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..store.gguf import GGUFInfo

F16_BYTES = 2


@dataclass(frozen=True)
class MemoryEstimate:
    weights: int
    kv_cache: int
    compute: int

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.compute


def estimate(info: GGUFInfo, num_ctx: int, num_parallel: int, num_batch: int = 512) -> MemoryEstimate:
    layers = info.block_count or 1
    kv_heads = info.head_count_kv or info.head_count or 1
    per_token = layers * kv_heads * ((info.key_length or 0) + (info.value_length or 0)) * F16_BYTES
    vocab = _vocab_size(info)
    compute = 4 * num_batch * (4 * (info.embedding_length or 0) + vocab)
    return MemoryEstimate(info.file_size, per_token * num_ctx * num_parallel, compute)


def _vocab_size(info: GGUFInfo) -> int:
    tokens = info.kv.get("tokenizer.ggml.tokens")
    try:
        return len(tokens) if tokens is not None else 32000
    except TypeError:
        return 32000
