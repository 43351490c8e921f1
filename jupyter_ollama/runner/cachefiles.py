"""The prompt cache's files on disk: one per cached prefix, written atomically, checked whole before use.

A file is `MAGIC`, a JSON header's length and the header (model digest, KV layout, token and state
sizes), the tokens (int32), the state as llama.cpp wrote it (one stream: `seqstate`), then the SHA-256
of everything before it. It is written to a temporary file in its folder and renamed into place, so a
reader sees a whole file or none; one that is cut short, changed on disk or not what its folder and name
promise is refused (`BadEntry`) and its caller removes it. The folder tree's total size is capped: past
the cap the least recently used files go first (a file's mtime is its last use: `touch`).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import struct
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MAGIC = b"JOKVC\x00\x01\n"  # jupyter-ollama KV cache, format 1
SUFFIX = ".kv"
TEMP_PREFIX = ".tmp-"
STALE_TEMP = 3600.0  # seconds: a temporary file this old belongs to a writer that died
_LENGTH = struct.Struct("<I")
_DIGEST = 32
_MAX_HEADER = 1 << 16


class BadEntry(ValueError):
    """A cache file that is not whole, not consistent, or not what it claims to be."""


@dataclass(frozen=True)
class Header:
    model: str  # the model's blob digest
    layout: str  # the KV layout the state was saved from (prompt_cache.Layout.tag)
    tokens: int
    state: int  # bytes
    window: int  # positions from which a sliding-window cache holds every later one (0: all)

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, sort_keys=True).encode()

    @staticmethod
    def of(data: Any) -> Header:
        try:
            header = Header(str(data["model"]), str(data["layout"]), int(data["tokens"]), int(data["state"]),
                            int(data["window"]))
        except (KeyError, TypeError, ValueError) as err:
            raise BadEntry(f"header: {err}") from None
        if min(header.tokens, header.state, header.window) < 0:
            raise BadEntry("header: negative size")
        return header

    def file_size(self, header_bytes: int) -> int:
        return len(MAGIC) + _LENGTH.size + header_bytes + 4 * self.tokens + self.state + _DIGEST


def write(folder: Path, name: str, header: Header, tokens: np.ndarray, state: Iterable[bytes | memoryview]) -> Path:
    """Write `name` in `folder` (temporary file, then rename); the file's path. On an error nothing is left."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name + SUFFIX)
    temp = folder / f"{TEMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{name}"
    digest = hashlib.sha256()
    encoded = header.to_json()
    try:
        with open(temp, "wb") as f:
            for piece in (MAGIC, _LENGTH.pack(len(encoded)), encoded, tokens.astype("<i4").tobytes(), *state):
                digest.update(piece)
                f.write(piece)
            f.write(digest.digest())
        if temp.stat().st_size != header.file_size(len(encoded)):
            raise OSError(f"wrote {temp.stat().st_size} bytes, expected {header.file_size(len(encoded))}")
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def read_header(path: Path) -> tuple[Header, np.ndarray]:
    """The header and tokens of a file, and a check of its size; the state and checksum are not read (see `read`)."""
    with open(path, "rb") as f:
        head = f.read(len(MAGIC) + _LENGTH.size)
        if len(head) < len(MAGIC) + _LENGTH.size or head[: len(MAGIC)] != MAGIC:
            raise BadEntry("not a prompt cache file")
        (length,) = _LENGTH.unpack_from(head, len(MAGIC))
        if length > _MAX_HEADER:
            raise BadEntry("header too long")
        raw = f.read(length)
        try:
            header = Header.of(json.loads(raw))
        except ValueError as err:
            raise BadEntry(f"header: {err}") from None
        if os.fstat(f.fileno()).st_size != header.file_size(length):
            raise BadEntry("wrong size")
        tokens = np.frombuffer(f.read(4 * header.tokens), dtype="<i4").astype(np.int32)
        if len(tokens) != header.tokens:
            raise BadEntry("cut short")
    return header, tokens


def read(path: Path) -> tuple[Header, np.ndarray, memoryview]:
    """A whole file, its checksum verified: header, tokens and the state's bytes."""
    size = path.stat().st_size
    if size < len(MAGIC) + _LENGTH.size + _DIGEST:
        raise BadEntry("cut short")
    data = np.empty(size, dtype=np.uint8)
    with open(path, "rb") as f:
        if f.readinto(data.data) != size:
            raise BadEntry("cut short")
    view = data.data
    if hashlib.sha256(view[:-_DIGEST]).digest() != bytes(view[-_DIGEST:]):
        raise BadEntry("bad checksum")
    if bytes(view[: len(MAGIC)]) != MAGIC:
        raise BadEntry("not a prompt cache file")
    (length,) = _LENGTH.unpack_from(view, len(MAGIC))
    start = len(MAGIC) + _LENGTH.size
    try:
        header = Header.of(json.loads(bytes(view[start : start + length])))
    except ValueError as err:
        raise BadEntry(f"header: {err}") from None
    if size != header.file_size(length):
        raise BadEntry("wrong size")
    at = start + length
    tokens = np.frombuffer(view[at : at + 4 * header.tokens], dtype="<i4").astype(np.int32)
    at += 4 * header.tokens
    return header, tokens, view[at : at + header.state]


def touch(path: Path) -> None:
    """Mark a file used now: the cap removes the least recently used first."""
    try:
        os.utime(path)
    except OSError:
        pass


def files(root: Path) -> list[tuple[Path, int, float]]:
    """Every cache file under `root`: (path, bytes, last use)."""
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            if name.endswith(SUFFIX):
                path = Path(folder) / name
                try:
                    stat = path.stat()
                except OSError:
                    continue
                found.append((path, stat.st_size, stat.st_mtime))
    return found


def enforce_cap(root: Path, cap: int) -> list[Path]:
    """Remove the least recently used files until those under `root` hold at most `cap` bytes; the removed."""
    held = files(root)
    total = sum(size for _, size, _ in held)
    removed = []
    for path, size, _ in sorted(held, key=lambda x: x[2]):
        if total <= cap:
            break
        path.unlink(missing_ok=True)
        total -= size
        removed.append(path)
    return removed


def sweep_temporary(folder: Path) -> None:
    """Temporary files left by writers that died (their process is gone, or they are an hour old)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        if not name.startswith(TEMP_PREFIX):
            continue
        path = folder / name
        try:
            pid = int(name[len(TEMP_PREFIX) :].split("-", 1)[0])
            age = time.time() - path.stat().st_mtime
        except (ValueError, OSError):
            continue
        if age > STALE_TEMP or not _alive(pid):
            path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
