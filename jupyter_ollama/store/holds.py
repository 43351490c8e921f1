"""Holds: the blobs that a pull or create in progress will reference, spared by every prune until it is done.

A pull skips the layers already stored, a create names uploaded blobs and writes
small layers; until their manifest is written no manifest references those blobs,
and a delete in another process (or thread) would prune them. So each pull and create
holds its blobs in `OLLAMA_MODELS/.holds/<owner>.<token>`, one digest a line, written
under the store lock (locks.py) before it looks whether a blob is stored; a prune,
under the same lock, spares every blob a live hold names. A hold goes when its
manifest is written or its work fails, or with its process: owners.py says when
another process's hold is abandoned, and the next prune removes it.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from .locks import StoreLock, shared_mode
from .owners import abandoned, owned_name

log = logging.getLogger("jupyter_ollama")


class Hold:
    """The digests one pull or create holds; use it as a context manager, or call `release()`."""

    def __init__(self, folder: Path, lock: StoreLock) -> None:
        self.path = folder / owned_name("", secrets.token_hex(6))
        self.digests: set[str] = set()
        self._lock = lock

    def add(self, digests: Iterable[str]) -> None:
        """Hold more digests, before looking whether their blobs are stored (so no prune falls in between)."""
        new = set(digests) - self.digests
        if not new:
            return
        with self._lock:
            self.digests |= new
            if not self.path.parent.is_dir():  # as writable as the models folder: other users' servers hold here too
                self.path.parent.mkdir(exist_ok=True)
                os.chmod(self.path.parent, shared_mode(self.path.parent.parent, 0o777))
            temp = self.path.with_name(f".{self.path.name}.tmp")
            temp.write_text("".join(f"{d}\n" for d in sorted(self.digests)))
            os.chmod(temp, 0o644)  # readable by every server sharing the folder, whatever our umask
            os.replace(temp, self.path)

    def release(self) -> None:
        self.digests = set()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> Hold:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def held(folder: Path) -> set[str]:
    """Every digest a live hold names, removing abandoned holds on the way (call it under the store lock)."""
    digests: set[str] = set()
    try:
        entries = list(folder.iterdir())
    except FileNotFoundError:
        return digests
    for path in entries:
        name = path.name[1:].removesuffix(".tmp") if path.name.startswith(".") else path.name
        if abandoned(path, name):
            try:
                path.unlink(missing_ok=True)
            except PermissionError:  # another user's, in a folder we may not write: it is ignored all the same
                pass
        elif not path.name.startswith("."):
            try:
                digests.update(line for line in path.read_text().split() if line)
            except FileNotFoundError:  # released while we looked
                continue
            except OSError as err:
                log.warning("cannot read the hold %s (%s): its blobs may be pruned", path, err.strerror)
    return digests
