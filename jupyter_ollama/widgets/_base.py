"""What the widgets share: the server they talk to, work off the cell's thread, and the front-end files.

Comm messages from the browser are not handled while a cell runs, so anything
slow (a reply, a pull, polling) runs in a daemon thread and the cell returns at
once. Trait updates from those threads go through `_update()`, which holds one
lock, so a browser-side change never interleaves with a batched update.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anywidget
import httpx
import traitlets

from ..client import Client, ClientError
from ..discovery import Endpoint, find_server

STATIC = Path(__file__).parent / "static"

W = TypeVar("W", bound="ServerWidget")


def front_end(*names: str) -> str:
    """Files under static/ as one text: a widget's bundled ES module, or its style sheets.

    The modules are built from TypeScript (labextension/src/widgets/) by `make setup`, and
    shipped in the wheel; a checkout that was never built says so instead of rendering nothing.
    """
    missing = [name for name in names if not (STATIC / name).is_file()]
    if missing:
        raise RuntimeError(f"the widgets' front-end is not built ({', '.join(missing)} missing in {STATIC}): run `make setup`")
    return "\n".join((STATIC / name).read_text(encoding="utf-8") for name in names)


def message_of(err: BaseException) -> str:
    """What a user reads in the widget: the server's message, or a short description of the failure."""
    if isinstance(err, ClientError):
        return err.message
    if isinstance(err, httpx.TimeoutException):
        return "the server did not answer in time"
    if isinstance(err, httpx.HTTPError):
        return f"lost the connection to the server ({type(err).__name__}: {err})"
    return f"{type(err).__name__}: {err}"


class ServerWidget(anywidget.AnyWidget):
    """An anywidget that talks to a jupyter-ollama (or Ollama) server.

    `endpoint` is an `Endpoint`, a URL, or None for the server `%ollama` uses
    (`find_server()`); `client` overrides both with a ready client.
    """

    error = traitlets.Unicode("").tag(sync=True)

    def __init__(self, *, endpoint: Endpoint | str | None = None, client: Client | None = None, **traits: Any) -> None:
        self._endpoint = Endpoint(endpoint, None, "given") if isinstance(endpoint, str) else endpoint
        self._given_client = client
        self._state_lock = threading.RLock()
        super().__init__(**traits)

    def _client(self, timeout: float | None = None) -> Client:
        """A client for this widget's server: the given one, else a new one the caller closes."""
        if self._given_client is not None:
            return self._given_client
        endpoint = self._endpoint or find_server()
        return Client(endpoint.url, timeout=timeout, token=endpoint.token)

    @contextmanager
    def _connect(self, timeout: float | None = None) -> Iterator[Client]:
        """`_client()` for one piece of work, closed afterwards unless it was given."""
        client = self._client(timeout)
        try:
            yield client
        finally:
            if client is not self._given_client:
                client.close()

    @contextmanager
    def _batch(self) -> Iterator[None]:
        with self._state_lock, self.hold_sync():
            yield

    def _update(self, **traits: Any) -> None:
        """Set traits together, sent to the browser as one message."""
        with self._batch():
            for name, value in traits.items():
                setattr(self, name, value)

    def set_state(self, sync_data: dict[str, Any]) -> None:  # a change from the browser
        with self._state_lock:
            super().set_state(sync_data)


class Task:
    """One piece of work at a time in a daemon thread, with a cancel flag and `wait()`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cancel = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, work: Callable[[threading.Event], None]) -> None:
        self.cancel = threading.Event()
        self._thread = threading.Thread(target=work, args=(self.cancel,), name=self.name, daemon=True)
        self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the work has ended (or none was started)."""
        thread = self._thread
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        return not thread.is_alive()


class Poller:
    """Calls `tick(widget)` every `interval` seconds until stopped or the widget is gone.

    The thread holds the widget only weakly, so an unreferenced widget is collected
    and its poller ends with it.
    """

    def __init__(self, widget: W, tick: Callable[[W], None], interval: float, name: str) -> None:
        self._widget = weakref.ref(widget)
        self._tick = tick
        self.interval = interval
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            widget = self._widget()
            if widget is None:
                return
            self._tick(widget)
            del widget
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()
