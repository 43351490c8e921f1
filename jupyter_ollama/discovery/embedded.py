"""The kernel-side server: the same API on loopback, in a thread of the kernel, behind a random token.

Used when neither OLLAMA_HOST nor a Jupyter server with the extension is there
(plain IPython, VS Code, Colab). It stops with the kernel; its runners are the
kernel's children and exit as soon as the kernel goes away.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from concurrent.futures import Future

from tornado.httpserver import HTTPServer

from ..api.origins import BrowserGuard
from ..api.routes import mounted, token_protected
from ..scheduler.manager import build_manager
from ..scheduler.scheduler import Scheduler
from ..server import make_app


class EmbeddedServer:
    def __init__(self) -> None:
        self.token = secrets.token_urlsafe(24)
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._scheduler: Scheduler | None = None
        self._http: HTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        ready: Future[int] = Future()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="jupyter-ollama", daemon=True)
        self._thread.start()
        self.port = ready.result(timeout=60)

    def _serve(self, ready: Future[int]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            manager = build_manager()
            self._scheduler = manager.scheduler
            app = make_app(manager.store, self._scheduler, mounted("/", token_protected(self.token)),
                           guard=BrowserGuard.for_bind_address("127.0.0.1"))
            app.settings["log_function"] = lambda handler: None  # no access log in the notebook's stderr
            self._http = app.listen(0, address="127.0.0.1", max_body_size=1 << 40)
            ready.set_result(next(iter(self._http._sockets.values())).getsockname()[1])
        except BaseException as err:  # reported to the thread that waits in start()
            ready.set_exception(err)
            return
        loop.run_forever()

    def stop(self) -> None:
        loop = self._loop
        if loop is None or not loop.is_running():
            return

        async def shutdown() -> None:
            if self._http is not None:
                self._http.stop()
            if self._scheduler is not None:
                await self._scheduler.shutdown()
            loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), loop)
        if self._thread is not None:
            self._thread.join(timeout=30)
