"""POST /api/pull and POST /api/push: thin handlers around transfers.pull and transfers.push.

Both stream Ollama's progress lines (NDJSON) by default; `stream: false` answers
the last line, or `{"error"}` as Ollama's waitForStream does, with a truer status than
its 500: 404 for what is not there, 502 for a registry that fails or cannot be reached,
507 for a full disk.
A client that goes away cancels its transfer (a pull keeps its parts for next time).
"""

from __future__ import annotations

import threading
from typing import Any

from ..errors import BadRequest
from ..store.names import ModelName
from ..transfers.pull import pull_model
from ..transfers.push import push_model
from .base import OllamaHandler, run_in_thread
from .wire import PullRequest, PushRequest


class _TransferHandler(OllamaHandler):
    cancel: threading.Event | None = None

    def on_connection_close(self) -> None:
        if self.cancel is not None:
            self.cancel.set()


class PullHandler(_TransferHandler):
    manages_store = "pull"

    async def post(self) -> None:
        request = self.json_body(PullRequest)
        name = ModelName.parse(request.model or request.name)  # 400 invalid model name
        self.cancel = threading.Event()
        insecure, cancel, store = request.insecure, self.cancel, self.store
        work = lambda progress: pull_model(store, name, progress, insecure=insecure, cancel=cancel)  # noqa: E731
        await self.respond_stream(run_in_thread(work), stream=request.stream)


class PushHandler(_TransferHandler):
    manages_store = "push"

    async def post(self) -> None:
        request = self.json_body(PushRequest)
        text = request.model or request.name
        if not text:
            raise BadRequest("model is required")
        name = ModelName.parse(text)
        self.cancel = threading.Event()
        insecure, cancel, store = request.insecure, self.cancel, self.store
        work = lambda progress: push_model(store, name, progress, insecure=insecure, cancel=cancel)  # noqa: E731
        await self.respond_stream(run_in_thread(work), stream=request.stream)


def transfer_routes() -> list[tuple[str, type, dict[str, Any]]]:
    """Path patterns relative to the mount point (no leading slash)."""
    return [(r"api/pull", PullHandler, {}), (r"api/push", PushHandler, {})]
