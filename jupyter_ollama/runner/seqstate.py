"""llama.cpp's saved state of one sequence (`llama_state_seq_get_data`), read and checked before it is ever handed back.

The bytes are `magic, seq_id`, then one part per KV cache of the context (one; two for a model with
sliding-window layers: the full layers' cache, then the window's). A part is `n_stream` (one per slot:
the engine's caches are not unified), then per stream a cell count and, for the one stream that holds
the sequence, each cell's (position, 1, seq_id) and the cells' K and V rows layer by layer, with each
layer's type and row size (llama-kv-cache.cpp, `state_write`).

Two reasons to read them here: a state is checked (its structure, its positions 0..n-1, the types and
row sizes of the context it goes back into) before llama.cpp sees it, so that only bytes read and
verified are restored; and the number of streams is written into the state, so a state saved from a
runner with 4 slots is rewritten for one with 1 slot (on disk it is kept with one stream). A context's
`Layout` (from a one-token probe) is what a state must match to go back into it. `snapshot` and `restore`
are the llama.cpp calls, made on the engine thread between decodes.
"""

from __future__ import annotations

import ctypes
import hashlib
import struct
from dataclasses import dataclass
from typing import Any

import llama_cpp as L
import numpy as np

from .llama import batch_add

Buffer = bytes | bytearray | memoryview | np.ndarray


class BadState(ValueError):
    """A state that is not what it claims: damaged, cut short, or from another kind of context."""


@dataclass(frozen=True)
class Part:
    """One KV cache's share of a state: where the sequence's cells are and what positions they hold."""

    body: tuple[int, int]  # offsets of (the cells' positions and ids, their K and V rows): what moves between layouts
    cells: int
    top: int  # the newest position held
    window: int  # the lowest position from which every later one is held (0: all of them)
    signature: tuple[int, ...]  # v_trans, layers, each layer's K and V types and row sizes: the context's shape


@dataclass(frozen=True)
class SeqState:
    magic: int
    n_stream: int
    parts: tuple[Part, ...]

    @property
    def n_tokens(self) -> int:
        """Positions 0..n_tokens-1: the prefix whose KV this is."""
        return self.parts[0].top + 1

    @property
    def signature(self) -> tuple[tuple[int, ...], ...]:
        return tuple(p.signature for p in self.parts)

    @property
    def window(self) -> int:
        """The lowest position every part holds onward from (a sliding-window cache may have let older ones go)."""
        return max(p.window for p in self.parts)


_U32, _I32, _U64 = struct.Struct("<I"), struct.Struct("<i"), struct.Struct("<Q")


def byte_view(data: Buffer) -> memoryview:
    """The bytes of a buffer, without a copy."""
    return (data.data if isinstance(data, np.ndarray) else memoryview(data)).cast("B")


def parse(data: Buffer, n_stream: int | None = None) -> SeqState:
    """Read a sequence's state; raises BadState unless it is whole and consistent.

    `n_stream`: the streams it must have been written with (None: any)."""
    view = byte_view(data)
    size = len(view)
    offset = 0

    def take(fmt: struct.Struct) -> int:
        nonlocal offset
        if offset + fmt.size > size:
            raise BadState("the state ends too soon")
        (value,) = fmt.unpack_from(view, offset)
        offset += fmt.size
        return int(value)

    magic = take(_U32)
    take(_I32)  # the sequence it was saved from: llama.cpp ignores it
    parts: list[Part] = []
    streams = None
    while offset < size:
        count = take(_U32)
        if streams is not None and count != streams or count == 0 or (n_stream is not None and count != n_stream):
            raise BadState(f"a part of the state has {count} streams")
        streams = count
        part = None
        for _ in range(count):
            cells = take(_U32)
            if cells == 0:
                continue
            if part is not None:
                raise BadState("the state holds more than one stream")
            part, offset = _read_part(view, offset, cells)
        if part is None:
            raise BadState("a part of the state holds no cells")
        parts.append(part)
    if not parts:
        raise BadState("the state holds nothing")
    if len({p.top for p in parts}) != 1:
        raise BadState("the parts of the state end at different positions")
    return SeqState(magic, streams or 0, tuple(parts))


def _read_part(view: memoryview, start: int, cells: int) -> tuple[Part, int]:
    """One stream's cells: their (position, count of sequences, sequence) then the K and V rows of every layer."""
    meta_end = start + 12 * cells
    if meta_end > len(view):
        raise BadState("the state ends too soon")
    meta = np.frombuffer(view[start:meta_end], dtype="<i4").reshape(cells, 3)
    if not (meta[:, 1] == 1).all():
        raise BadState("a cell of the state belongs to several sequences")
    positions = np.sort(meta[:, 0])
    top = int(positions[-1])
    if positions[0] < 0 or (np.diff(positions) <= 0).any():
        raise BadState("the state's positions repeat or are negative")
    # Positions end at top; every one from `window` on must be there (a window cache drops the oldest).
    gaps = np.flatnonzero(np.diff(positions) != 1)
    window = int(positions[gaps[-1] + 1]) if gaps.size else int(positions[0])
    offset = meta_end
    signature: list[int] = []

    def take(fmt: struct.Struct) -> int:
        nonlocal offset
        if offset + fmt.size > len(view):
            raise BadState("the state ends too soon")
        (value,) = fmt.unpack_from(view, offset)
        offset += fmt.size
        return int(value)

    def rows(length: int) -> None:
        nonlocal offset
        offset += length
        if offset > len(view):
            raise BadState("the state ends too soon")

    v_trans, layers = take(_U32), take(_U32)
    if v_trans > 1 or layers == 0 or layers > 4096:
        raise BadState("the state's header is not llama.cpp's")
    signature += [v_trans, layers]
    for _ in range(layers):  # keys: a row per cell
        k_type, row = take(_I32), take(_U64)
        signature += [k_type, row]
        rows(row * cells)
    for _ in range(layers):  # values: a row per cell, or transposed: an element per cell for each of the row's values
        v_type = take(_I32)
        if v_trans:
            element, width = take(_U32), take(_U32)
            signature += [v_type, element, width]
            rows(element * width * cells)
        else:
            row = take(_U64)
            signature += [v_type, row]
            rows(row * cells)
    if top + 1 != cells and window == 0:
        raise BadState("the state's positions do not start at 0")
    return Part((start, offset), cells, top, window, tuple(signature)), offset


def size_for(state: SeqState, n_stream: int) -> int:
    """Bytes of the state written with `n_stream` streams."""
    body = sum(p.body[1] - p.body[0] for p in state.parts)
    return 8 + body + len(state.parts) * (4 * n_stream + 4)


def pieces(data: Buffer, state: SeqState, n_stream: int) -> list[bytes | memoryview]:
    """The state written for a context with `n_stream` streams (1: the form kept on disk), in pieces (no copy of the rows).

    The sequence's cells go in the first stream: llama.cpp reads them into the stream of the sequence it
    restores into, wherever they stood."""
    view = byte_view(data)
    out: list[bytes | memoryview] = [_U32.pack(state.magic) + _I32.pack(0)]
    for part in state.parts:
        start, end = part.body
        out += [_U32.pack(n_stream) + _U32.pack(part.cells), view[start:end], bytes(4 * (n_stream - 1))]
    return out


def rewrite(data: Buffer, state: SeqState, n_stream: int) -> np.ndarray:
    """The state for a context with `n_stream` streams, in one buffer."""
    result = np.empty(size_for(state, n_stream), dtype=np.uint8)
    target = result.data
    at = 0
    for piece in pieces(data, state, n_stream):
        target[at : at + len(piece)] = piece
        at += len(piece)
    return result


@dataclass(frozen=True)
class Layout:
    """The shape of a context's KV state (from a one-token probe): what a saved state must match to go back in."""

    magic: int
    signature: tuple[tuple[int, ...], ...]
    kv_cache_type: str

    @property
    def tag(self) -> str:
        text = f"{self.magic}|{self.signature}|llama-cpp-python {L.__version__}"
        return f"{self.kv_cache_type}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


# -- llama.cpp: states out and in ----------------------------------------------------


def snapshot(ctx: Any, seq: int) -> np.ndarray:
    """A copy of sequence `seq`'s state (its KV cache), on the engine thread between decodes."""
    size = L.llama_state_seq_get_size(ctx, seq)
    state = np.empty(size, dtype=np.uint8)
    written = L.llama_state_seq_get_data(ctx, state.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)), size, seq)
    if written != size:
        raise BadState(f"llama.cpp wrote {written} of {size} bytes")
    return state


def restore(ctx: Any, seq: int, state: np.ndarray) -> bool:
    """Sequence `seq`'s KV cache from a checked state; False (and the sequence empty) when llama.cpp refuses it."""
    done = L.llama_state_seq_set_data(ctx, state.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)), len(state), seq)
    return done == len(state)


def probe_layout(ctx: Any, token: int, kv_cache_type: str, n_stream: int) -> Layout:
    """The layout of this context's states: one token decoded into sequence 0, its state read, then dropped."""
    memory = L.llama_get_memory(ctx)
    batch = L.llama_batch_init(1, 0, 1)
    try:
        batch.n_tokens = 0
        batch_add(batch, token, 0, 0, False)
        if L.llama_decode(ctx, batch) != 0:
            raise BadState("the probe token did not decode")
        parsed = parse(snapshot(ctx, 0), n_stream)
    finally:
        L.llama_memory_seq_rm(memory, 0, -1, -1)
        L.llama_batch_free(batch)
    return Layout(parsed.magic, parsed.signature, kv_cache_type)
