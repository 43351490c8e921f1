"""The GGUF reader on the two real test models, on broken files, and on a synthetic file."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

import pytest

from jupyter_ollama.errors import BadRequest
from jupyter_ollama.store.gguf import GGUFInfo, NotGGUFError, SkippedArray, read_gguf


@pytest.fixture(scope="module")
def smollm2(smollm2_gguf: Path) -> GGUFInfo:
    return read_gguf(smollm2_gguf)


@pytest.fixture(scope="module")
def gemma(gemma_gguf: Path) -> GGUFInfo:
    return read_gguf(gemma_gguf)


# --- real models: what `ollama list` / `ollama show` would tell a user ---------------------


def test_smollm2_details_and_config(smollm2: GGUFInfo) -> None:
    assert smollm2.details() == {
        "parent_model": "",
        "format": "gguf",
        "family": "llama",
        "families": ["llama"],
        "parameter_size": "134.52M",
        "quantization_level": "Q4_1",
    }
    assert smollm2.config_blob() == {
        "model_format": "gguf",
        "model_family": "llama",
        "model_families": ["llama"],
        "model_type": "134.52M",
        "file_type": "Q4_1",
        "architecture": "amd64",
        "os": "linux",
    }


def test_smollm2_numbers(smollm2: GGUFInfo) -> None:
    assert smollm2.version == 3
    assert smollm2.architecture == "llama"
    assert smollm2.parameter_count == 134_515_008
    assert smollm2.file_type == 3
    assert (smollm2.context_length, smollm2.block_count, smollm2.embedding_length) == (8192, 30, 576)
    assert (smollm2.head_count, smollm2.head_count_kv) == (9, 3)
    assert (smollm2.key_length, smollm2.value_length) == (64, 64)  # 576 / 9: no explicit keys
    assert smollm2.pooling_type is None
    assert smollm2.get("vocab_size") == smollm2.get("llama.vocab_size") == 49152
    assert "<|im_start|>" in (smollm2.chat_template or "")


def test_smollm2_tensors(smollm2: GGUFInfo) -> None:
    assert len(smollm2.tensors) == 272
    embd = smollm2.tensors[0]
    assert (embd.name, embd.shape, embd.type_name) == ("token_embd.weight", (576, 49152), "Q8_0")
    assert {t.type_name for t in smollm2.tensors} == {"F32", "Q4_1", "Q8_0"}
    # The last tensor ends exactly at the end of the file.
    assert max(smollm2.data_offset + t.offset + (t.nbytes or 0) for t in smollm2.tensors) == smollm2.file_size


def test_smollm2_model_info(smollm2: GGUFInfo) -> None:
    info = smollm2.model_info()
    assert "general.name" not in info and "tokenizer.chat_template" not in info
    assert info["general.parameter_count"] == 134_515_008
    assert info["llama.context_length"] == 8192
    assert info["llama.attention.layer_norm_rms_epsilon"] == 1e-05  # float32 printed as Go does
    assert info["tokenizer.ggml.model"] == "gpt2"
    # Ollama decodes with maxArraySize 0: arrays come back as null, even a 1-element one.
    for key in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type", "general.languages"):
        assert key in info and info[key] is None
    assert list(info) == sorted(info)
    json.dumps(info)


def test_smollm2_model_info_verbose(smollm2: GGUFInfo) -> None:
    info = smollm2.model_info(verbose=True)
    assert info["general.languages"] == ["en"]
    assert len(info["tokenizer.ggml.tokens"]) == 49152
    assert info["tokenizer.ggml.tokens"][:3] == ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    assert len(info["tokenizer.ggml.merges"]) == 48900
    assert info["tokenizer.ggml.merges"][0] == "Ġ t"
    json.dumps(info)


def test_gemma_details_and_numbers(gemma: GGUFInfo) -> None:
    assert gemma.details() == {
        "parent_model": "",
        "format": "gguf",
        "family": "gemma3",
        "families": ["gemma3"],
        "parameter_size": "268.10M",
        "quantization_level": "Q4_K_M",
    }
    assert gemma.chat_template is None  # the fallback case
    assert (gemma.context_length, gemma.block_count, gemma.embedding_length) == (32768, 18, 640)
    assert (gemma.head_count, gemma.head_count_kv) == (4, 1)
    assert (gemma.key_length, gemma.value_length) == (256, 256)  # explicit, not 640 / 4
    assert gemma.get("attention.sliding_window") == 512


def test_gemma_model_info(gemma: GGUFInfo) -> None:
    info = gemma.model_info()
    assert info["general.architecture"] == "gemma3"
    assert info["gemma3.attention.key_length"] == 256
    assert info["general.parameter_count"] == gemma.parameter_count == 268_098_176
    assert info["tokenizer.ggml.scores"] is None and info["general.tags"] is None
    verbose = gemma.model_info(verbose=True)
    assert len(verbose["tokenizer.ggml.scores"]) == len(verbose["tokenizer.ggml.tokens"]) == 262144
    assert verbose["general.tags"] == ["gemma3", "gemma", "google", "text-generation"]


def test_skipping_big_arrays(smollm2_gguf: Path, smollm2: GGUFInfo) -> None:
    lean = read_gguf(smollm2_gguf, max_array_len=16)
    assert lean.kv["tokenizer.ggml.tokens"] == SkippedArray(type=8, count=49152)
    assert lean.kv["tokenizer.ggml.token_type"] == SkippedArray(type=5, count=49152)
    assert lean.kv["general.languages"] == ["en"]
    assert lean.model_info() == smollm2.model_info()
    assert lean.details() == smollm2.details()
    with pytest.raises(ValueError):
        lean.model_info(verbose=True)


# --- files that are not (complete) GGUF -----------------------------------------------------


def test_not_gguf(tmp_path: Path) -> None:
    path = tmp_path / "model.gguf"
    path.write_text("FROM llama3.2\nSYSTEM hello there, this is a Modelfile\n")
    with pytest.raises(NotGGUFError, match="not a GGUF file") as e:
        read_gguf(path)
    assert isinstance(e.value, BadRequest) and e.value.status == 400
    path.write_bytes(b"")
    with pytest.raises(NotGGUFError, match="not a GGUF file"):
        read_gguf(path)


@pytest.mark.parametrize("size", [30, 4096, 1_000_000])
def test_truncated_metadata(tmp_path: Path, smollm2_gguf: Path, size: int) -> None:
    path = tmp_path / "cut.gguf"
    with open(smollm2_gguf, "rb") as f:
        path.write_bytes(f.read(size))
    with pytest.raises(NotGGUFError, match="truncated"):
        read_gguf(path)


def test_truncated_tensor_data(tmp_path: Path, smollm2_gguf: Path, smollm2: GGUFInfo) -> None:
    # Metadata intact, weights cut short: an interrupted download must not pass for a model.
    path = tmp_path / "cut.gguf"
    with open(smollm2_gguf, "rb") as f:
        path.write_bytes(f.read(smollm2.data_offset + 4096))
    with pytest.raises(NotGGUFError, match="truncated GGUF file: tensor"):
        read_gguf(path)


def test_big_endian_and_old_versions(tmp_path: Path) -> None:
    path = tmp_path / "x.gguf"
    path.write_bytes(b"FUGG" + struct.pack(">IQQ", 3, 0, 0))
    with pytest.raises(NotGGUFError, match="big-endian"):
        read_gguf(path)
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 1, 0, 0))
    with pytest.raises(NotGGUFError, match="version 1"):
        read_gguf(path)


# --- a synthetic GGUF covering every value type ----------------------------------------------

_FORMATS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def _gguf_string(s: str) -> bytes:
    data = s.encode()
    return struct.pack("<Q", len(data)) + data


def _gguf_value(vtype: int, value: Any) -> bytes:
    """A value's bytes without its type tag; arrays are given as (element type, items)."""
    if vtype == 8:
        return _gguf_string(value)
    if vtype == 9:
        etype, items = value
        return struct.pack("<IQ", etype, len(items)) + b"".join(_gguf_value(etype, v) for v in items)
    return struct.pack("<" + _FORMATS[vtype], value)


def write_gguf(
    path: Path, kvs: list[tuple[str, int, Any]], tensors: list[tuple[str, tuple[int, ...], int]]
) -> None:
    """Write a little-endian GGUF v3 file: KVs as (key, type, value), tensors as (name, shape, ggml type)."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)))
    for key, vtype, value in kvs:
        out += _gguf_string(key) + struct.pack("<I", vtype) + _gguf_value(vtype, value)
    offset = 0
    for name, shape, ttype in tensors:
        out += _gguf_string(name) + struct.pack(f"<I{len(shape)}QIQ", len(shape), *shape, ttype, offset)
        size = 4 * math.prod(shape)  # F32 data, each tensor aligned to 32 bytes
        offset += size + -size % 32
    out += bytes(-len(out) % 32) + bytes(offset)
    path.write_bytes(bytes(out))


def test_synthetic_every_type(tmp_path: Path) -> None:
    path = tmp_path / "tiny.gguf"
    write_gguf(
        path,
        [
            ("general.architecture", 8, "tiny"),
            ("general.name", 8, "Tiny"),
            ("tiny.u8", 0, 255),
            ("tiny.i8", 1, -128),
            ("tiny.u16", 2, 65535),
            ("tiny.i16", 3, -32768),
            ("tiny.context_length", 4, 2048),
            ("tiny.i32", 5, -7),
            ("tiny.f32", 6, 0.1),
            ("tiny.bool", 7, True),
            ("tiny.u64", 10, 2**64 - 1),
            ("tiny.i64", 11, -(2**63)),
            ("tiny.f64", 12, 0.1),
            ("tiny.attention.head_count", 9, (4, [4, 8, 8])),  # per-layer heads
            ("tiny.floats", 9, (6, [0.5, 1e-6])),
            ("tiny.empty", 9, (8, [])),
            ("tiny.nested", 9, (9, [(8, ["a", "é"]), (9, [(7, [True, False])])])),
            ("tiny.embedding_length", 4, 64),
            ("tokenizer.chat_template", 8, "{{ messages }}"),
        ],
        [("token_embd.weight", (64, 10), 0), ("output_norm.weight", (64,), 0)],
    )
    info = read_gguf(path)
    kv = info.kv
    assert (kv["tiny.u8"], kv["tiny.i8"], kv["tiny.u16"], kv["tiny.i16"]) == (255, -128, 65535, -32768)
    assert (kv["tiny.i32"], kv["tiny.u64"], kv["tiny.i64"]) == (-7, 2**64 - 1, -(2**63))
    assert kv["tiny.f32"] == 0.1 and kv["tiny.f64"] == 0.1 and kv["tiny.bool"] is True
    assert kv["tiny.floats"] == [0.5, struct.unpack("<f", struct.pack("<f", 1e-6))[0]]
    assert kv["tiny.nested"] == [["a", "é"], [[True, False]]]
    assert info.parameter_count == 64 * 10 + 64
    assert info.details()["parameter_size"] == "704"
    assert info.quantization_level == "unknown"  # no general.file_type, as Ollama reports it
    assert info.context_length == 2048 and info.block_count == 0
    assert info.head_count == 8 and info.key_length == 64 // 4  # max heads; head dim from min heads
    assert info.chat_template == "{{ messages }}"

    shown = info.model_info()
    assert "general.name" not in shown and "tokenizer.chat_template" not in shown
    assert shown["tiny.empty"] == [] and shown["tiny.nested"] is None and shown["tiny.floats"] is None
    assert info.model_info(verbose=True)["tiny.nested"] == [["a", "é"], [[True, False]]]
    json.dumps(info.model_info(verbose=True))

