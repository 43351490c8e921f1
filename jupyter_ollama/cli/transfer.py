"""`jupyter-ollama pull NAME` and `push NAME`: Ollama's progress display (cmd/cmd.go, progress/).

On a terminal the display redraws every 100 ms on stderr, one line per layer bar
and status spinner, exactly as Ollama draws them:

    pulling manifest
    pulling 3f8eb4da87fa: 100% ▕██████████████████████████████████▏  98 MB
    verifying sha256 digest
    writing manifest
    success

Elsewhere (a pipe, a notebook cell) each line is printed once, when it is done.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any, TextIO

from ..client import Client
from ..client.progress import TransferProgress
from ..format import human_bytes
from ..store.names import ModelName

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def _pad(text: str, width: int) -> str:
    return " " * max(0, width - len(text)) + text


def format_duration(seconds: float) -> str:
    """Go's Duration.String() rounded to seconds, at most two units (Ollama's formatDuration)."""
    whole = int(round(seconds))
    if whole >= 100 * 3600:
        return "99h+"
    if whole >= 3600:
        return f"{whole // 3600}h{whole % 3600 // 60}m"
    if whole >= 60:
        return f"{whole // 60}m{whole % 60}s"
    return f"{whole}s"


class Bar:
    """One layer's bar, rendered like Ollama's progress.Bar."""

    def __init__(self, message: str, total: int, initial: int) -> None:
        self.message, self.total, self.initial, self.current = message, total, initial, initial
        self.started = time.monotonic()
        self.stopped: float | None = self.started if initial >= total else None
        self._buckets: list[tuple[float, int]] = []

    def set(self, value: int) -> None:
        self.current = min(value, self.total)
        now = time.monotonic()
        if self.current >= self.total and self.stopped is None:
            self.stopped = now
        if not self._buckets or now - self._buckets[-1][0] > 1:
            self._buckets = (self._buckets + [(now, self.current)])[-10:]

    @property
    def done(self) -> bool:
        return self.stopped is not None

    def percent(self) -> float:
        return 100 * self.current / self.total if self.total > 0 else 0.0

    def rate(self) -> float:
        if self.stopped is not None:
            num, den = self.current - self.initial, round(self.stopped - self.started)
        elif len(self._buckets) == 1:
            num, den = self._buckets[0][1] - self.initial, round(self._buckets[0][0] - self.started)
        elif self._buckets:
            (t0, v0), (t1, v1) = self._buckets[0], self._buckets[-1]
            num, den = v1 - v0, round(t1 - t0)
        else:
            return 0.0
        return num / den if den else 0.0

    def render(self, width: int) -> str:
        pre = f"{self.message.strip()} " if self.message else ""
        pre += f"{self.percent():3.0f}%"
        rate = self.rate()
        if self.stopped is None:
            suf = _pad(human_bytes(self.current), 6) + "/" + _pad(human_bytes(self.total), 6)
        else:
            suf = _pad(human_bytes(self.total), 6) + " " * 7
        if self.stopped is None and rate > 0:
            suf += "  " + _pad(human_bytes(int(rate)), 6) + "/s"
            suf += "  " + _pad(format_duration((self.total - self.current) / rate), 6)
        else:
            suf += " " * 18
        space = width - len(pre) - len(suf) - 5
        filled = int(space * self.percent() / 100)
        return f"{pre} ▕{'█' * max(0, filled)}{' ' * max(0, space - filled)}▏ {suf}"


class Spinner:
    def __init__(self, message: str) -> None:
        self.message, self.started, self.stopped = message, time.monotonic(), False

    @property
    def done(self) -> bool:
        return self.stopped

    def render(self, width: int) -> str:
        if self.stopped:
            return f"{self.message} "
        return f"{self.message} {SPINNER[int((time.monotonic() - self.started) * 10) % len(SPINNER)]} "


class Display:
    """Ollama's progress.Progress: ordered states, redrawn in place on a terminal."""

    def __init__(self, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.states: list[Bar | Spinner] = []
        self._printed = 0  # non-live: how many leading states are printed for good
        self._lines = 0  # live: how many lines the last redraw used
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True) if self.live else None
        if self._thread:
            self._thread.start()

    def add(self, state: Bar | Spinner) -> None:
        with self._lock:
            self.states.append(state)
            self._flush_done()

    def _width(self) -> int:
        return shutil.get_terminal_size((80, 24)).columns if self.live else 80

    def _flush_done(self) -> None:
        if self.live:
            return
        while self._printed < len(self.states) and (self.states[self._printed].done or self._printed < len(self.states) - 1):
            print(self.states[self._printed].render(self._width()).rstrip(), file=self.stream, flush=True)
            self._printed += 1

    def _loop(self) -> None:
        while not self._stop.wait(0.1):
            self.render()

    def render(self) -> None:
        with self._lock:
            if not self.live:
                self._flush_done()
                return
            out = "\033[?25l" + "\033[A" * max(0, self._lines - 1) + "\033[1G"
            out += "\n".join(state.render(self._width()) + "\033[K" for state in self.states) + "\033[?25h"
            self._lines = len(self.states)
            self.stream.write(out)
            self.stream.flush()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        for state in self.states:
            if isinstance(state, Spinner):
                state.stopped = True
        with self._lock:
            if self.live:
                self._redraw_final()
            else:
                while self._printed < len(self.states):
                    print(self.states[self._printed].render(self._width()).rstrip(), file=self.stream, flush=True)
                    self._printed += 1

    def _redraw_final(self) -> None:
        out = "\033[A" * max(0, self._lines - 1) + "\033[1G"
        out += "\n".join(state.render(self._width()) + "\033[K" for state in self.states) + "\n"
        self.stream.write(out)
        self.stream.flush()


def show_progress(lines: Iterable[dict[str, Any]], verb: str, display: Display) -> None:
    """Draw a transfer's lines as Ollama's CLI callbacks do: a bar per layer, a spinner per status."""
    progress = TransferProgress()
    bars: dict[str, Bar] = {}
    spinner: Spinner | None = None
    for line in lines:
        step = progress.add(line)
        layer = step.layer
        if layer is not None:
            bar = bars.get(layer.digest)
            if bar is None and verb == "pulling" and layer.completed == 0:
                continue  # Ollama skips the 0% line a layer starts with
            if spinner is not None:
                spinner.stopped = True
            if bar is None:
                label = f"{verb} {layer.digest.removeprefix('sha256:').strip()[:12]}:"
                if verb == "pushing":  # Ollama's push labels its bars with the status as sent
                    label = layer.status or f"pushing {layer.digest[7:19]}..."
                bar = bars[layer.digest] = Bar(label, layer.total, layer.completed)
                display.add(bar)
            bar.set(layer.completed)
        elif step.status and step.changed:
            if spinner is not None:
                spinner.stopped = True
            spinner = Spinner(step.status)
            display.add(spinner)


def pull(name: str, insecure: bool = False, client: Client | None = None) -> int:
    display = Display()
    try:
        show_progress((client or Client()).stream("/api/pull", {"model": name, "insecure": insecure}), "pulling", display)
    finally:
        display.stop()
    return 0


def push(name: str, insecure: bool = False) -> int:
    display = Display()
    try:
        show_progress(Client().stream("/api/push", {"model": name, "insecure": insecure}), "pushing", display)
    finally:
        display.stop()
    parsed = ModelName.parse_lenient(name)
    print(f"\nYou can find your model at:\n\n\t{parsed}\n")
    return 0
