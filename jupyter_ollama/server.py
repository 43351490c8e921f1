"""The standalone server: `jupyter-ollama serve`, a drop-in for `ollama serve`."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

import tornado.web

from .api.origins import BrowserGuard
from .api.routes import mounted
from .envconfig import HostURL, ollama_host, remote_models
from .scheduler.scheduler import Scheduler
from .store.declared import parse_declared, sync_declared
from .store.store import ModelStore

log = logging.getLogger("jupyter_ollama")


class NotFoundHandler(tornado.web.RequestHandler):
    """Unknown paths answer like Ollama's router: 404 with a plain-text body."""

    def prepare(self) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "text/plain")
        self.finish("404 page not found")


def api_routes(prefix: str = "/") -> list[tuple[str, type, dict[str, Any]]]:
    """Every API route under `prefix` (which ends with a slash)."""
    return mounted(prefix)


def make_app(store: ModelStore, scheduler: Scheduler, routes: list | None = None,
             guard: BrowserGuard | None = None) -> tornado.web.Application:
    return tornado.web.Application(
        routes if routes is not None else api_routes("/"),
        ollama_store=store,
        ollama_scheduler=scheduler,
        ollama_browser_guard=guard,
        default_handler_class=NotFoundHandler,
    )


async def serve(host: HostURL | None = None, store: ModelStore | None = None) -> None:
    """Serve until SIGINT or SIGTERM, then stop accepting and return."""
    host = host or ollama_host()
    store = store or ModelStore()
    scheduler = Scheduler(store)
    try:
        await asyncio.to_thread(sync_declared, store, parse_declared(remote_models()))
    except ValueError as err:  # a bad OLLAMA_REMOTE_MODELS is reported; the server still serves
        log.error("%s", err)
    app = make_app(store, scheduler, guard=BrowserGuard.for_bind_address(host.host))
    server = app.listen(host.port, address=host.host, xheaders=False, max_body_size=1 << 40)
    log.warning("jupyter-ollama listening on %s (models in %s)", host.netloc, store.root)
    print(f"jupyter-ollama listening on {host.netloc}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()
    await scheduler.shutdown()  # every runner stops; their memory goes back to the OS
    await server.close_all_connections()
    log.warning("jupyter-ollama stopped")
