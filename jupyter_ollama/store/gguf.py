"""A small GGUF metadata reader: header, key-values and tensor infos, never tensor data.

Mirrors what Ollama reads from a model blob (fs/ggml): the KVs behind `/api/show`'s
`model_info`, the `details` shown by `/api/tags`, the ConfigV2 blob written at create,
and the numbers the scheduler's memory estimate needs. The file is memory-mapped, so
only the metadata pages are touched; big tokenizer arrays are unpacked in bulk with
`struct`, and can be skipped entirely with `max_array_len`.
"""

from __future__ import annotations

import math
import mmap
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import BadRequest
from ..format import human_number

# Ollama's sanity limits (fs/gguf): a corrupt length must not allocate gigabytes.
MAX_STRING_LENGTH = 16 << 20
MAX_ARRAY_SIZE = 64 << 20
MAX_TENSOR_DIMS = 4

# GGUF value types -> struct format character; 8 (string) and 9 (array) are handled apart.
_SCALAR_FORMATS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY, _FLOAT32 = 8, 9, 6
_SCALARS = {t: struct.Struct("<" + c) for t, c in _SCALAR_FORMATS.items()}
_U32, _U64 = _SCALARS[4], _SCALARS[10]

# llama_ftype names, as Ollama's FileType.String() spells them (fs/ggml/type.go).
_FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
    29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
    38: "MXFP4_MOE", 39: "NVFP4", 40: "Q1_0",
}  # fmt: skip

# ggml_type -> (name, elements per block, bytes per block), to size tensors.
_TENSOR_TYPES = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74), 18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
    26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17), 40: ("NVFP4", 64, 36), 41: ("Q1_0", 128, 18),
}  # fmt: skip


class NotGGUFError(BadRequest):
    """The file is not a GGUF model we can read: wrong magic, unsupported, corrupt or truncated."""


@dataclass(frozen=True)
class SkippedArray:
    """An array whose values were not kept (`max_array_len`); only its length is known."""

    type: int
    count: int

    def __len__(self) -> int:
        return self.count


@dataclass(frozen=True)
class GGUFTensor:
    name: str
    shape: tuple[int, ...]
    type: int
    offset: int  # relative to the start of the tensor data section

    @property
    def elements(self) -> int:
        return math.prod(self.shape)

    @property
    def type_name(self) -> str:
        return _TENSOR_TYPES.get(self.type, ("unknown",))[0]

    @property
    def nbytes(self) -> int | None:
        """Bytes of tensor data, or None for a ggml type this reader does not know."""
        if self.type not in _TENSOR_TYPES:
            return None
        _, block, size = _TENSOR_TYPES[self.type]
        return self.elements // block * size


def _float32(x: float) -> float:
    """The shortest decimal that is the same float32, as Go prints it (1e-05, not 9.9999997e-06)."""
    packed = struct.pack("<f", x)
    for digits in range(1, 10):
        shorter = float(f"{x:.{digits}g}")
        if struct.pack("<f", shorter) == packed:
            return shorter
    return x


@dataclass
class GGUFInfo:
    """Everything in a GGUF file but the weights."""

    version: int
    kv: dict[str, Any]
    tensors: list[GGUFTensor]
    data_offset: int  # where tensor data starts (aligned)
    file_size: int

    def get(self, key: str, default: Any = None) -> Any:
        """A KV by name; keys outside `general.`/`tokenizer.` get the `<arch>.` prefix, as in Ollama."""
        if not key.startswith(("general.", "tokenizer.")) and key not in self.kv:
            key = f"{self.architecture}.{key}"
        return self.kv.get(key, default)

    def _int(self, key: str, pick: Callable[[list[int]], int] = max) -> int:
        # Some architectures store per-layer arrays (head counts); Ollama reduces them.
        value = self.get(key)
        if isinstance(value, list):
            value = pick(value) if value else 0
        return int(value) if isinstance(value, (int, float)) else 0

    @property
    def architecture(self) -> str:
        return str(self.kv.get("general.architecture", "unknown"))

    @property
    def is_projector(self) -> bool:
        """A multimodal projector (an `mmproj` GGUF), as Ollama's `isProjectorGGUF` tells one from a model."""
        if self.kv.get("general.type") in ("projector", "mmproj"):
            return True
        if not self._int("block_count") and self._int("vision.block_count"):
            return True
        return self.architecture == "clip" and not self._int("block_count") and bool(
            self.kv.get("clip.has_vision_encoder") or self.kv.get("clip.has_audio_encoder"))

    @property
    def parameter_count(self) -> int:
        """The sum of tensor elements: Ollama's decoder always overwrites general.parameter_count with it."""
        return sum(t.elements for t in self.tensors)

    @property
    def file_type(self) -> int | None:
        value = self.kv.get("general.file_type")
        return value if isinstance(value, int) else None

    @property
    def quantization_level(self) -> str:
        # Ollama treats a missing or zero file_type as unknown (F32 files show "unknown").
        file_type = self.file_type
        return _FILE_TYPES.get(file_type, "unknown") if file_type else "unknown"

    @property
    def context_length(self) -> int:
        return self._int("context_length")

    @property
    def block_count(self) -> int:
        return self._int("block_count")

    @property
    def embedding_length(self) -> int:
        return self._int("embedding_length")

    @property
    def head_count(self) -> int:
        return self._int("attention.head_count")

    @property
    def head_count_kv(self) -> int:
        return self._int("attention.head_count_kv")

    @property
    def key_length(self) -> int:
        return self._int("attention.key_length") or self._head_dim()

    @property
    def value_length(self) -> int:
        return self._int("attention.value_length") or self._head_dim()

    def _head_dim(self) -> int:
        # Ollama's default head size: embedding length over the smallest head count.
        heads = self._int("attention.head_count", min)
        return self.embedding_length // heads if heads else 0

    def layer_bytes(self) -> dict[str, int]:
        """Tensor bytes per layer, grouped as Ollama's Tensors().Layers(): `blk.0`, `blk.1`, ..., `output`, `token_embd`."""
        layers: dict[str, int] = {}
        for tensor in self.tensors:
            parts = tensor.name.split(".")
            key = ".".join(parts[:2]) if parts[0] == "blk" and len(parts) > 1 else parts[0]
            layers[key] = layers.get(key, 0) + (tensor.nbytes or 0)
        return layers

    @property
    def chat_template(self) -> str | None:
        return self.kv.get("tokenizer.chat_template") or None

    @property
    def pooling_type(self) -> int | None:
        value = self.get("pooling_type")
        return value if isinstance(value, int) else None

    def details(self) -> dict[str, Any]:
        """Ollama's `details` object (what `/api/tags`, `/api/show` and `/api/ps` report)."""
        arch = self.architecture
        return {
            "parent_model": "",
            "format": "gguf",
            "family": arch,
            "families": [arch],
            "parameter_size": human_number(self.parameter_count),
            "quantization_level": self.quantization_level,
        }

    def config_blob(self) -> dict[str, Any]:
        """The ConfigV2 JSON Ollama's create writes (types/model/config.go; empty fields omitted)."""
        arch = self.architecture
        return {
            "model_format": "gguf",
            "model_family": arch,
            "model_families": [arch],
            "model_type": human_number(self.parameter_count),
            "file_type": self.quantization_level,
            "architecture": "amd64",
            "os": "linux",
        }

    def model_info(self, verbose: bool = False) -> dict[str, Any]:
        """`/api/show`'s `model_info`: every KV but general.name and tokenizer.chat_template.

        Ollama decodes with maxArraySize 0 unless verbose, so every non-empty array comes out
        as JSON null and an empty one as []; verbose gives the full contents. Keys are sorted,
        as Go marshals a map.
        """
        info: dict[str, Any] = {}
        for key in sorted({*self.kv, "general.parameter_count"}):
            if key in ("general.name", "tokenizer.chat_template"):
                continue
            value = self.parameter_count if key == "general.parameter_count" else self.kv[key]
            if isinstance(value, (list, SkippedArray)):
                if not verbose:
                    value = None if len(value) else []
                elif isinstance(value, SkippedArray):
                    raise ValueError(f"{key} was not kept: read the file with max_array_len=None")
            info[key] = value
        return info


class _Reader:
    """Bounds-checked little-endian reads from a memory-mapped GGUF file."""

    def __init__(self, buf: mmap.mmap, max_array_len: int | None) -> None:
        self.buf, self.pos, self.size, self.max_array_len = buf, 0, len(buf), max_array_len

    def unpack(self, st: struct.Struct) -> Any:
        value = st.unpack_from(self.buf, self.pos)[0]  # struct.error past the end = truncated
        self.pos += st.size
        return value

    def string(self) -> str:
        n = self.unpack(_U64)
        if n > MAX_STRING_LENGTH:
            raise NotGGUFError(f"GGUF string length {n} exceeds maximum {MAX_STRING_LENGTH}")
        end = self.pos + n
        if end > self.size:
            raise struct.error("string past end of file")
        text = self.buf[self.pos : end].decode("utf-8", "replace")
        self.pos = end
        return text

    def value(self, vtype: int) -> Any:
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            return self.array()
        if vtype not in _SCALARS:
            raise NotGGUFError(f"invalid GGUF value type {vtype}")
        value = self.unpack(_SCALARS[vtype])
        return _float32(value) if vtype == _FLOAT32 else value

    def array(self) -> list[Any] | SkippedArray:
        vtype, n = self.unpack(_U32), self.unpack(_U64)
        if n > MAX_ARRAY_SIZE:
            raise NotGGUFError(f"GGUF array size {n} exceeds maximum {MAX_ARRAY_SIZE}")
        keep = self.max_array_len is None or n <= self.max_array_len
        if vtype in _SCALARS:  # fixed-size elements: one bulk unpack, or one jump
            st = struct.Struct(f"<{n}{_SCALAR_FORMATS[vtype]}")
            if self.pos + st.size > self.size:
                raise struct.error("array past end of file")
            values = list(st.unpack_from(self.buf, self.pos)) if keep else []
            self.pos += st.size
        elif vtype == _STRING and not keep:  # walk the lengths without decoding
            buf, pos, u64 = self.buf, self.pos, _U64.unpack_from
            for _ in range(n):
                pos += 8 + u64(buf, pos)[0]
            if pos > self.size:
                raise struct.error("array past end of file")
            self.pos = pos
        elif vtype in (_STRING, _ARRAY):
            values = [self.value(vtype) for _ in range(n)]
        else:
            raise NotGGUFError(f"invalid GGUF array type {vtype}")
        return values if keep else SkippedArray(vtype, n)


def read_gguf(path: str | os.PathLike[str], max_array_len: int | None = None) -> GGUFInfo:
    """Parse a GGUF file's metadata. Arrays longer than `max_array_len` keep only their length.

    `max_array_len=1024` drops the tokenizer's vocab-sized arrays (5x faster) yet keeps
    per-layer arrays such as head counts; `model_info(verbose=True)` then needs a full read.

    Raises NotGGUFError for anything that is not a complete little-endian GGUF v2/v3 file.
    """
    name = os.path.basename(os.fspath(path))
    with open(path, "rb") as f:
        file_size = os.fstat(f.fileno()).st_size
        if file_size < 24:
            raise NotGGUFError(f"{name} is not a GGUF file (only {file_size} bytes)")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            try:
                return _parse(_Reader(buf, max_array_len), name, file_size)
            except (struct.error, OverflowError, MemoryError) as e:
                raise NotGGUFError(f"{name} is a truncated or corrupt GGUF file") from e


def _parse(r: _Reader, name: str, file_size: int) -> GGUFInfo:
    magic = bytes(r.buf[:4])
    if magic == b"FUGG":
        raise NotGGUFError(f"{name} is a big-endian GGUF file, which is not supported")
    if magic != b"GGUF":
        raise NotGGUFError(f"{name} is not a GGUF file")
    r.pos = 4
    version = r.unpack(_U32)
    if version not in (2, 3):
        raise NotGGUFError(f"{name} has unsupported GGUF version {version} (expected 2 or 3)")
    n_tensors, n_kv = r.unpack(_U64), r.unpack(_U64)
    if n_kv * 12 + n_tensors * 24 > file_size:  # each takes at least that many bytes
        raise NotGGUFError(f"{name} is a truncated or corrupt GGUF file ({n_kv} KVs, {n_tensors} tensors)")

    kv: dict[str, Any] = {}
    for _ in range(n_kv):
        key = r.string()
        kv[key] = r.value(r.unpack(_U32))

    tensors: list[GGUFTensor] = []
    for _ in range(n_tensors):
        tname = r.string()
        dims = r.unpack(_U32)
        if dims > MAX_TENSOR_DIMS:
            raise NotGGUFError(f"tensor {tname!r} has {dims} dimensions, more than {MAX_TENSOR_DIMS}")
        shape = tuple(r.unpack(_U64) for _ in range(dims))
        tensors.append(GGUFTensor(tname, shape, r.unpack(_U32), r.unpack(_U64)))

    alignment = kv.get("general.alignment", 32)
    if not isinstance(alignment, int) or alignment <= 0:
        raise NotGGUFError(f"{name} has an invalid GGUF alignment {alignment!r}")
    data_offset = -(-r.pos // alignment) * alignment
    # A blob cut short after its metadata must not pass for a model.
    for t in tensors:
        nbytes = t.nbytes
        if nbytes is not None and data_offset + t.offset + nbytes > file_size:
            raise NotGGUFError(f"{name} is a truncated GGUF file: tensor {t.name!r} ends past {file_size} bytes")
    return GGUFInfo(version, kv, tensors, data_offset, file_size)
