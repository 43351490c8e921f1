"""`PullWidget`: a model download with a bar per layer, speed and time left, then success or the error.

The server's status lines are folded by the client's `TransferProgress` (client/progress.py), as the
CLI's bars and `%ollama pull` in a terminal fold them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

import httpx
import traitlets

from ..client import hang_up
from ..client.progress import TransferProgress
from ..format import INTERRUPTED
from ._base import ServerWidget, Task, front_end, message_of

UPDATE_SECONDS = 0.1  # at most ~10 updates a second reach the browser
SPEED_WINDOW = 3.0  # seconds of history the speed is measured over


class Speed:
    """Bytes per second over the last few seconds, and the time left at that pace."""

    def __init__(self) -> None:
        self.samples: deque[tuple[float, int]] = deque()

    def add(self, when: float, completed: int) -> None:
        self.samples.append((when, completed))
        while len(self.samples) > 2 and when - self.samples[1][0] >= SPEED_WINDOW:
            self.samples.popleft()

    @property
    def rate(self) -> float:
        if len(self.samples) < 2:
            return 0.0
        (t0, c0), (t1, c1) = self.samples[0], self.samples[-1]
        return max(0.0, (c1 - c0) / (t1 - t0)) if t1 > t0 else 0.0

    def eta(self, remaining: int) -> float | None:
        rate = self.rate
        return remaining / rate if rate > 0 and remaining > 0 else None


class PullWidget(ServerWidget):
    """Pulls `name` as soon as it is created (unless `start=False`); `wait()` for scripts, `cancel()` to stop."""

    _esm = front_end("pull.js")
    _css = front_end("common.css", "pull.css")

    name = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)  # the latest status line, e.g. "verifying sha256 digest"
    layers = traitlets.List(traitlets.Dict()).tag(sync=True)  # {digest, status, completed, total}
    completed = traitlets.Int(0).tag(sync=True)
    total = traitlets.Int(0).tag(sync=True)
    speed = traitlets.Float(0.0).tag(sync=True)  # bytes per second
    eta = traitlets.Float(None, allow_none=True).tag(sync=True)  # seconds left
    done = traitlets.Bool(False).tag(sync=True)
    success = traitlets.Bool(False).tag(sync=True)

    def __init__(self, name: str, *, insecure: bool = False, start: bool = True, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.insecure = insecure
        self._task = Task("ollama-pull")
        self._response: httpx.Response | None = None
        if start:
            self.start()

    def start(self) -> None:
        """Start (or retry) the pull in the background."""
        if self._task.running:
            return
        if not self.name.strip():
            self._update(error="give the name of a model to pull", done=True)
            return
        self._update(status="starting", layers=[], completed=0, total=0, speed=0.0, eta=None, done=False, success=False, error="")
        self._task.start(self._pull)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the pull to end; True if it succeeded. Kernel > Interrupt cancels it, in one line."""
        try:
            self._task.wait(timeout)
        except KeyboardInterrupt:
            self.cancel()
            print(INTERRUPTED)
            self._task.wait(5)  # the thread sees the hang-up at once
        return self.success

    @property
    def cancelled(self) -> bool:
        return self._task.cancel.is_set()

    def cancel(self) -> None:
        """Stop the download; the server keeps the parts, so pulling again goes on from there."""
        self._task.cancel.set()
        if self._response is not None:
            hang_up(self._response)

    def close(self) -> None:
        self.cancel()
        super().close()

    def _pull(self, cancel: threading.Event) -> None:
        progress = TransferProgress()
        speed = Speed()
        last = 0.0

        def opened(response: httpx.Response) -> None:
            self._response = response
            if cancel.is_set():
                hang_up(response)

        def publish(final: bool = False, **more: Any) -> None:
            completed, total = progress.completed, progress.total
            speed.add(time.monotonic(), completed)
            self._update(
                status=progress.status,
                layers=[layer.to_dict() for layer in progress.layers.values()],
                completed=completed,
                total=total,
                speed=0.0 if final else speed.rate,
                eta=None if final else speed.eta(total - completed),
                **more,
            )

        body = {"model": self.name, "insecure": self.insecure, "stream": True}
        error: str | None = None
        try:
            with self._connect() as client:
                lines = client.stream("/api/pull", body, opened=opened)
                try:
                    for line in lines:
                        if cancel.is_set():
                            break
                        step = progress.add(line)
                        if step.layer is None or time.monotonic() - last >= UPDATE_SECONDS:
                            publish()
                            last = time.monotonic()
                finally:
                    lines.close()  # hangs up now: the server stops the download
        except Exception as err:  # the widget shows it
            error = message_of(err)
        self._response = None
        if error is None and progress.succeeded:
            pass  # done, even if cancel() came a moment too late
        elif cancel.is_set():
            error = "cancelled"
        elif error is None:
            error = "the server ended the pull early"
        publish(final=True, done=True, success=error is None, error=error or "")
