"""What a model will take once loaded, from its GGUF metadata, before loading it.

weights (the file) + KV cache (layers x kv heads x (key + value dim) x context x
slots x bytes per element of the cache type: 2 for f16, 34/32 for q8_0, 18/32 for
q4_0) + a compute buffer (activations and logits for one batch), and the same three for a
draft model (Modelfile DRAFT), which the runner keeps in system memory with a sequence per
slot, + a projector (images): its weights and a compute buffer for one image through its
vision tower, with the model's main GPU where there is one, + the prompt cache's RAM tier
(OLLAMA_PROMPT_CACHE_RAM, at most the size of the model's KV cache: it holds the KV of prompts
read before, in system memory wherever the layers are). The numbers are estimates that err on
the high side; /api/ps reports them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..store.gguf import GGUFInfo
from .placement import LayerSizes

# ggml's block sizes: q8_0 stores 32 values in 34 bytes, q4_0 in 18.
KV_BYTES = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}


@dataclass(frozen=True)
class MemoryEstimate:
    weights: int
    kv_cache: int
    compute: int
    draft: int = 0  # a draft model: its weights, KV cache for every slot and compute buffer, in system memory
    projector: int = 0  # a multimodal projector: its weights and the compute of one image
    prompt_cache: int = 0  # the prompt cache's RAM tier: its budget, in system memory

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.compute + self.draft + self.projector + self.prompt_cache


def estimate(info: GGUFInfo, num_ctx: int, num_parallel: int, num_batch: int = 512, kv_cache_type: str = "f16",
             draft: GGUFInfo | None = None, projector: GGUFInfo | None = None, prompt_cache: int = 0) -> MemoryEstimate:
    """`prompt_cache`: the RAM tier's budget asked for; it takes at most the KV cache's size (one more set of
    slots' worth), and nothing for an embedding model, which reads no prompts to continue."""
    layers = info.block_count or 1
    kv_heads = info.head_count_kv or info.head_count or 1
    per_token = layers * kv_heads * ((info.key_length or 0) + (info.value_length or 0)) * KV_BYTES[kv_cache_type]
    vocab = _vocab_size(info)
    compute = 4 * num_batch * (4 * (info.embedding_length or 0) + vocab)
    drafted = estimate(draft, num_ctx, num_parallel, num_batch, kv_cache_type).total if draft else 0
    kv_cache = int(per_token * num_ctx * num_parallel)
    cache = 0 if info.pooling_type is not None else min(max(prompt_cache, 0), kv_cache)
    return MemoryEstimate(info.file_size, kv_cache, compute, drafted, projector_size(projector) if projector else 0, cache)


def projector_size(info: GGUFInfo) -> int:
    """A projector's weights and the activations of one image through its vision tower (float32: patches x
    (width x 4 for attention and norms + feed-forward width + patches for the attention scores))."""
    kv = info.kv
    size, patch = int(kv.get("clip.vision.image_size") or 0), int(kv.get("clip.vision.patch_size") or 1)
    patches = (size // max(patch, 1)) ** 2 + 1
    width, ffn = int(kv.get("clip.vision.embedding_length") or 0), int(kv.get("clip.vision.feed_forward_length") or 0)
    heads = int(kv.get("clip.vision.attention.head_count") or 1)
    return info.file_size + 4 * patches * (4 * width + ffn + heads * patches)


def layer_sizes(info: GGUFInfo, memory: MemoryEstimate) -> LayerSizes:
    """The same estimate cut into llama.cpp's layers, for placement over GPUs (see placement.py)."""
    layers = info.layer_bytes()
    blocks = max(info.block_count, 1)
    kv_per_block = memory.kv_cache // blocks
    # A model without an `output` tensor reuses token_embd as its head (Ollama's memoryLayerOutput).
    head = layers.get("output_norm", 0) + layers.get("output", layers.get("token_embd", 0))
    return LayerSizes(
        blocks=tuple(layers.get(f"blk.{i}", 0) + kv_per_block for i in range(blocks)),
        output=head,
        # The projector goes with the main GPU's fixed share: mtmd opens it on the first GPU it finds.
        graph_full=memory.compute + memory.projector,
        # With layers left on the CPU, ggml copies their big matrices (the head first) to the GPU per batch.
        graph_partial=memory.compute + memory.projector + head,
        cpu_total=memory.total,
        cpu_only=memory.draft + memory.prompt_cache,
    )


def _vocab_size(info: GGUFInfo) -> int:
    tokens = info.kv.get("tokenizer.ggml.tokens")
    try:
        return len(tokens) if tokens is not None else 32000
    except TypeError:
        return 32000
