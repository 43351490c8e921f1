"""Progress events for pulls and pushes, shaped like Ollama's `api.ProgressResponse`.

A transfer reports through a `Progress` callback: plain status lines
(`{"status": "pulling manifest"}`) and per-layer lines
(`{"status": "pulling 3f8eb4da87fa", "digest": "sha256:…", "total": N, "completed": M}`).
"""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import OllamaError

Progress = Callable[[dict[str, Any]], None]

# Ollama's blob waiters report every 60 ms.
TICK_SECONDS = 0.06


class Cancelled(OllamaError):
    """The client went away and nobody else waits on the transfer."""

    def __init__(self) -> None:
        super().__init__("context canceled", 499)


def status(text: str) -> dict[str, Any]:
    return {"status": text}


def layer_line(verb: str, digest: str, total: int, completed: int) -> dict[str, Any]:
    """`pulling <12 hex>` / `pushing <12 hex>` with the digest and byte counts."""
    return {"status": f"{verb} {digest[7:19]}", "digest": digest, "total": total, "completed": completed}


def check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


class Throttle:
    """True at most once per `interval` seconds (the first call always passes)."""

    def __init__(self, interval: float = TICK_SECONDS) -> None:
        self.interval = interval
        self._last = 0.0

    def ready(self) -> bool:
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            return True
        return False


def storage_error(err: OSError) -> OllamaError:
    """A failed file operation as the client sees it: 507 when the disk is full, else 500."""
    full = err.errno in (errno.ENOSPC, errno.EDQUOT)
    return OllamaError(os_error_message(err), status=507 if full else 500)


def os_error_message(err: OSError) -> str:
    """Go's wording for a failed file operation: `write /path: no space left on device`."""
    reason = (err.strerror or str(err)).lower()
    if err.errno == errno.ENOSPC:
        reason = "no space left on device"
    return f"{err.filename}: {reason}" if err.filename else reason
