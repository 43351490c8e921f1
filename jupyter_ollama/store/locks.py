"""Taking turns with the other processes on one store: `lockf` locks on files under OLLAMA_MODELS.

Two locks are taken between processes:

- the store lock, `OLLAMA_MODELS/.lock`, held briefly while a manifest is written
  (with the check that every blob it names is there), while blobs are held for a
  pull or create in progress (holds.py), and while a delete or prune decides which
  blobs no manifest and no hold uses and removes them. So a prune in one process
  never removes a blob that another has just written a manifest for or holds;
- a download's lock, `blobs/sha256-<hex>-partial.lock`, held while one process
  fetches that blob; another process pulling the same blob waits for it (reading its
  part records for progress), then finds the blob stored.

`lockf` (POSIX record locks) is the lock that NFS carries between clients (NFSv4
itself, NFSv3 through lockd). On a mount without working locks (`nolock`) they hold
between the processes of one host only; where `lockf` fails (ENOLCK), the store
logs it once and goes on with the in-process lock alone. POSIX locks belong to a
process, not to a file descriptor: a second descriptor on the same file would not
exclude this process and closing it would drop the lock, so each store lock file
has one `StoreLock` per process (`store_lock`), which keeps its descriptor open.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import threading
from pathlib import Path
from types import TracebackType

log = logging.getLogger("jupyter_ollama")

_BUSY = (errno.EACCES, errno.EAGAIN)


class LockUnsupported(OSError):
    """The file system refused a lock (no lock daemon, a read-only store)."""


def shared_mode(folder: Path, mode: int) -> int:
    """`mode` with the group and other write bits of `folder`: whoever may write the folder may take its locks."""
    try:
        return mode & (os.stat(folder).st_mode | 0o755)
    except OSError:
        return mode & 0o755


def _open(path: Path) -> int:
    """The lock file, opened for writing (`lockf` needs it), made as writable as its folder when we create it."""
    try:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return os.open(path, os.O_RDWR)
        os.fchmod(fd, shared_mode(path.parent, 0o666))
        return fd
    except OSError as err:
        raise LockUnsupported(err.errno, f"cannot open lock file: {err.strerror}", str(path)) from None


def _lockf(fd: int, path: Path, blocking: bool) -> bool:
    """Take the exclusive lock on `fd`; False when another process holds it (not blocking)."""
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        return True
    except OSError as err:
        if err.errno in _BUSY and not blocking:
            return False
        raise LockUnsupported(err.errno, f"cannot lock: {err.strerror}", str(path)) from None


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except OSError:
        return False


def _open_locked(path: Path, blocking: bool) -> int | None:
    """A descriptor on `path` holding its exclusive lock, or None when another process holds it (not blocking).

    The last holder of a download lock removes its file: a lock won on a file that is
    no longer at `path` is let go and taken again on the one there now.
    """
    while True:
        fd = _open(path)
        try:
            if not _lockf(fd, path, blocking):
                os.close(fd)
                return None
        except BaseException:
            os.close(fd)
            raise
        if _same_file(fd, path):
            return fd
        os.close(fd)


class FileLock:
    """One exclusive lock between processes, on a file that its last holder may remove."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self, blocking: bool = True) -> bool:
        assert self._fd is None, "lock already held"
        self._fd = _open_locked(self.path, blocking)
        return self._fd is not None

    def release(self, remove: bool = False) -> None:
        """Let go; `remove` deletes the file first (while still held), so no empty lock file stays behind."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if remove:
                self.path.unlink(missing_ok=True)
        except OSError:  # left for the next holder to remove; the lock is let go all the same
            pass
        finally:
            os.close(fd)  # closing the descriptor releases the lock


class StoreLock:
    """A re-entrant lock for the store: a `threading.RLock` in this process, and `lockf` on a file between processes.

    The file lock is taken by the outermost `acquire` of a thread and released by its
    last `release`, so code holding the store lock may call code that takes it again.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._threads = threading.RLock()
        self._depth = 0  # nesting of the thread that holds `_threads`
        self._fd: int | None = None
        self._unsupported = False

    def acquire(self) -> None:
        self._threads.acquire()
        if self._depth == 0:
            try:
                self._lock_file()
            except BaseException:
                self._threads.release()
                raise
        self._depth += 1

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            try:
                fcntl.lockf(self._fd, fcntl.LOCK_UN)
            except OSError:  # a file gone stale on NFS: closing the descriptor lets go of it too
                os.close(self._fd)
                self._fd = None
        self._threads.release()

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.release()

    def _lock_file(self) -> None:
        if self._unsupported:
            return
        try:
            self._take()
        except LockUnsupported as err:
            self._unsupported = True
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            log.warning("%s: %s; processes sharing this models folder do not take turns, only threads of this one",
                        err.filename, err.strerror)

    def _take(self) -> None:
        """Lock the descriptor kept open (a fresh one if the file was removed); log when another process makes us wait."""
        if self._fd is not None and not _same_file(self._fd, self.path):
            os.close(self._fd)
            self._fd = None
        if self._fd is None:
            self._fd = _open(self.path)
        if not _lockf(self._fd, self.path, blocking=False):
            log.info("waiting for another process's lock on %s", self.path)
            _lockf(self._fd, self.path, blocking=True)


_store_locks: dict[str, StoreLock] = {}
_store_locks_guard = threading.Lock()


def store_lock(root: Path) -> StoreLock:
    """The one lock of the store at `root` in this process (see the module's note on POSIX locks)."""
    path = Path(os.path.realpath(root)) / ".lock"
    with _store_locks_guard:
        lock = _store_locks.get(str(path))
        if lock is None:
            lock = _store_locks[str(path)] = StoreLock(path)
        return lock
