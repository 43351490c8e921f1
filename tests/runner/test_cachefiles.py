"""The prompt cache's files: written whole or not at all, refused when damaged, capped least recently used first."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from jupyter_ollama.runner import cachefiles
from jupyter_ollama.runner.cachefiles import BadEntry, Header

TOKENS = np.arange(100, 140, dtype=np.int32)
STATE = [b"\x01\x02\x03\x04" * 1000, memoryview(b"tail" * 250)]


def header(**changes: object) -> Header:
    values = {"model": "sha256:" + "a" * 64, "layout": "f16-0123456789abcdef", "tokens": len(TOKENS),
              "state": sum(len(p) for p in STATE), "window": 0, **changes}
    return Header(**values)  # type: ignore[arg-type]


def test_an_entry_reads_back_as_written(tmp_path):
    path = cachefiles.write(tmp_path, "k", header(), TOKENS, STATE)
    assert path == tmp_path / "k.kv" and [p.name for p in tmp_path.iterdir()] == ["k.kv"]  # no temporary file left
    read_header, tokens = cachefiles.read_header(path)
    assert read_header == header() and np.array_equal(tokens, TOKENS)
    whole, tokens, state = cachefiles.read(path)
    assert whole == header() and np.array_equal(tokens, TOKENS) and bytes(state) == b"".join(bytes(p) for p in STATE)


def test_a_write_that_fails_leaves_nothing(tmp_path):
    with pytest.raises(OSError):  # the header promises more state than is written
        cachefiles.write(tmp_path, "k", header(state=10**6), TOKENS, STATE)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("damage", ["truncate", "flip a state byte", "flip a header byte", "append", "magic"])
def test_a_damaged_file_is_refused(tmp_path, damage):
    path = cachefiles.write(tmp_path, "k", header(), TOKENS, STATE)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        data = data[: len(data) - 100]
    elif damage == "flip a state byte":
        data[-500] ^= 0x01
    elif damage == "flip a header byte":
        data[data.index(b'"tokens": 40') + 11] = ord("1")  # 40 tokens said to be 10: still JSON, still parses
    elif damage == "append":
        data += b"\0"
    else:
        data[0] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BadEntry):
        cachefiles.read(path)
    if damage != "flip a state byte":  # the header's own checks catch all but a change in the state's bytes
        with pytest.raises(BadEntry):
            cachefiles.read_header(path)


def test_the_cap_removes_the_least_recently_used_first(tmp_path):
    now = time.time()
    sizes = {"old": 400, "used": 300, "new": 300}
    for age, (name, size) in enumerate(sizes.items()):
        folder = tmp_path / ("model-a" if name != "new" else "model-b") / "f16-x"
        path = cachefiles.write(folder, name, header(state=size, tokens=0), np.array([], np.int32), [b"x" * size])
        os.utime(path, (now - 100 + age, now - 100 + age))
    cachefiles.touch(tmp_path / "model-a" / "f16-x" / "used.kv")  # used now: the newest
    on_disk = sum(size for _, size, _ in cachefiles.files(tmp_path))
    removed = cachefiles.enforce_cap(tmp_path, on_disk - 1)
    assert [p.name for p in removed] == ["old.kv"]  # across models' folders, the least recently used
    assert sorted(p.name for p, _, _ in cachefiles.files(tmp_path)) == ["new.kv", "used.kv"]
    assert cachefiles.enforce_cap(tmp_path, 0) and cachefiles.files(tmp_path) == []


def test_temporary_files_of_writers_that_died_are_swept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    mine = tmp_path / f"{cachefiles.TEMP_PREFIX}{os.getpid()}-0000-k"
    gone = tmp_path / f"{cachefiles.TEMP_PREFIX}{int(dead.stdout)}-0000-k"
    old = tmp_path / f"{cachefiles.TEMP_PREFIX}{os.getpid()}-0001-k"
    for path in (mine, gone, old):
        path.write_bytes(b"partial")
    os.utime(old, (time.time() - 2 * cachefiles.STALE_TEMP,) * 2)
    cachefiles.sweep_temporary(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [mine.name]  # a live writer's file stays
