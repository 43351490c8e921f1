"""A real multimodal projector for the test models, built with the `gguf` package.

No projector GGUF small enough for the tests can be downloaded here, so the tests build
one: Gemma 3's own kind (`clip.projector_type = gemma3`: a SigLIP vision tower, average
pooling, a soft-embedding norm and a projection into the text model's embeddings),
shrunk to one block of width 64 on 32x32 pixel images. llama.cpp's multimodal library
reads it as it reads Gemma 3 4B's: every image becomes 4 embeddings (16 patches, pooled
2x2) of the text model's width. Its weights are random, so its answers are nonsense;
the path an image takes through the runner is the real one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

IMAGE_SIZE = 32
PATCH_SIZE = 8
POOL = 2  # patches per side pooled into one embedding
WIDTH = 64
FFN = 128
IMAGE_TOKENS = (IMAGE_SIZE // PATCH_SIZE // POOL) ** 2


def write_projector(path: Path, text_width: int, seed: int = 0) -> Path:
    """A gemma3-kind projector GGUF at `path` whose embeddings are `text_width` wide."""
    import gguf

    rng = np.random.default_rng(seed)

    def weights(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.05).astype(np.float32)

    writer = gguf.GGUFWriter(str(path), "clip")
    writer.add_type("mmproj")
    writer.add_name("test projector")
    writer.add_bool("clip.has_vision_encoder", True)
    writer.add_string("clip.projector_type", "gemma3")
    writer.add_bool("clip.use_gelu", True)
    for key, value in {
        "embedding_length": WIDTH, "feed_forward_length": FFN, "block_count": 1, "projection_dim": text_width,
        "attention.head_count": 2, "image_size": IMAGE_SIZE, "patch_size": PATCH_SIZE,
        "projector.scale_factor": POOL,
    }.items():
        writer.add_uint32(f"clip.vision.{key}", value)
    writer.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-6)
    writer.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    writer.add_array("clip.vision.image_std", [0.5, 0.5, 0.5])
    patches = (IMAGE_SIZE // PATCH_SIZE) ** 2
    # numpy shapes are ggml's reversed: a (rows, cols) array is a ggml tensor of ne = [cols, rows].
    tensors = {
        "v.patch_embd.weight": weights(WIDTH, 3, PATCH_SIZE, PATCH_SIZE),
        "v.patch_embd.bias": weights(WIDTH),
        "v.position_embd.weight": weights(patches, WIDTH),
        "v.post_ln.weight": np.ones(WIDTH, np.float32),
        "v.post_ln.bias": np.zeros(WIDTH, np.float32),
        "mm.soft_emb_norm.weight": np.ones(WIDTH, np.float32),
        "mm.input_projection.weight": weights(WIDTH, text_width),
    }
    for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
        tensors[f"v.blk.0.{name}.weight"] = weights(WIDTH, WIDTH)
        tensors[f"v.blk.0.{name}.bias"] = weights(WIDTH)
    for name in ("ln1", "ln2"):
        tensors[f"v.blk.0.{name}.weight"] = np.ones(WIDTH, np.float32)
        tensors[f"v.blk.0.{name}.bias"] = np.zeros(WIDTH, np.float32)
    tensors["v.blk.0.ffn_up.weight"] = weights(FFN, WIDTH)
    tensors["v.blk.0.ffn_up.bias"] = weights(FFN)
    tensors["v.blk.0.ffn_down.weight"] = weights(WIDTH, FFN)
    tensors["v.blk.0.ffn_down.bias"] = weights(WIDTH)
    for name, data in tensors.items():
        writer.add_tensor(name, data)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A one-colour PNG, written with the standard library."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b"")
