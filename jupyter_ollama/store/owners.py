"""Who owns a file in progress in a shared store, and whether that owner still runs.

Several servers may share one `OLLAMA_MODELS`: a user's JupyterLab and a
`jupyter-ollama serve`, or the servers of many JupyterHub users on one NFS home.
Each names the files it has in progress (uploads, quantized outputs, imports from
the Hugging Face cache, holds on blobs) after itself, `<host>.<pid namespace>.<pid>`,
and a server cleans up only the files whose owner is gone:

- a file of this host and pid namespace: its owner is gone when its pid no longer runs;
- a file of another host or container, which cannot be asked: once nothing has
  written it for a day (`STALE_AFTER`). A live upload writes as it goes, so it is
  never that old; a dead host's leftovers wait a day;
- a file without an owner in its name (written by an older version): by age too.

Why names, not a lock on each file: on NFS a lock is only as good as the mount's
locking (a `nolock` mount, or NFSv3 without lockd, keeps locks to one client), and a
sweep that trusts a lock it cannot see deletes another host's live upload. A name
errs the other way: at worst a file waits a day, or while a recycled pid runs. Locks
serve where processes must take turns (locks.py): there a lock that another host
cannot see costs coordination between hosts, never a file.
Ollama (server/images.go) removes every partial file at start-up; it expects one server per folder.
"""

from __future__ import annotations

import os
import re
import socket
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

STALE_AFTER = 24 * 3600.0  # seconds without a write after which another host's file is abandoned


@lru_cache(maxsize=1)
def this_host() -> str:
    """The host name, with only the characters a file name keeps everywhere."""
    return re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname()) or "localhost"


@lru_cache(maxsize=1)
def pid_namespace() -> str:
    """The inode of this process's pid namespace (`pid:[4026531836]`): containers sharing a host name differ here."""
    try:
        return re.sub(r"\D", "", os.readlink("/proc/self/ns/pid")) or "0"
    except OSError:
        return "0"


@dataclass(frozen=True)
class Owner:
    host: str
    namespace: str
    pid: int

    @classmethod
    def this_process(cls) -> Owner:
        return cls(this_host(), pid_namespace(), os.getpid())  # the pid each time: a forked child is another owner

    @property
    def tag(self) -> str:
        return f"{self.host}.{self.namespace}.{self.pid}"

    @classmethod
    def parse(cls, name: str) -> Owner | None:
        """The owner of `<host>.<namespace>.<pid>.<token>`, None for a name without one."""
        parts = name.rsplit(".", 3)
        if len(parts) != 4 or not parts[0] or not parts[1].isdigit() or not parts[2].isdigit():
            return None
        return cls(parts[0], parts[1], int(parts[2]))

    def is_local(self) -> bool:
        """Whether its pid means something here: this host and this pid namespace."""
        return self.host == this_host() and self.namespace == pid_namespace()


def owned_name(prefix: str, token: str) -> str:
    """A file name that says which process writes it: `<prefix><host>.<namespace>.<pid>.<token>`."""
    return f"{prefix}{Owner.this_process().tag}.{token}"


def pid_running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it runs, as another user
        return True
    return True


def abandoned(path: Path, owner_part: str, now: float | None = None) -> bool:
    """Whether the file at `path`, named `owner_part` after its prefix, is no live process's work."""
    owner = Owner.parse(owner_part)
    if owner is not None and owner.is_local():
        return not pid_running(owner.pid)
    try:
        written = path.stat().st_mtime
    except FileNotFoundError:
        return False  # already gone
    return (time.time() if now is None else now) - written > STALE_AFTER
