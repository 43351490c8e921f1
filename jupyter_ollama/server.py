"""The standalone server: `jupyter-ollama serve`, a drop-in for `ollama serve`.

Run by JupyterHub as a service (it sets JUPYTERHUB_SERVICE_NAME and the rest), the same
server is the whole hub's model manager: it listens on the service URL and serves under
the service prefix, behind the Hub's sign-in (see `hub/service.py`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
from typing import Any
from urllib.parse import urlsplit

import tornado.web
from tornado.log import access_log

from .api.origins import BrowserGuard
from .api.routes import Route, mounted
from .envconfig import HostURL, HubServiceEnv, hub_admin_group, hub_service_env, ollama_host, parse_ollama_host, remote_models
from .scheduler.manager import Manager, build_manager
from .scheduler.scheduler import Scheduler
from .store.store import ModelStore

log = logging.getLogger("jupyter_ollama")


class NotFoundHandler(tornado.web.RequestHandler):
    """Unknown paths answer like Ollama's router: 404 with a plain-text body."""

    def prepare(self) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "text/plain")
        self.finish("404 page not found")


def api_routes(prefix: str = "/") -> list[Route]:
    """Every API route under `prefix` (which ends with a slash)."""
    return mounted(prefix)


def log_request(handler: tornado.web.RequestHandler) -> None:
    """Tornado's access line, with the Hub user who asked where there is one."""
    status = handler.get_status()
    method = access_log.info if status < 400 else access_log.warning if status < 500 else access_log.error
    user = getattr(handler, "hub_user", None)
    who = f"{user.name}@" if user is not None else ""
    request = handler.request
    method("%d %s %s (%s%s) %.2fms", status, request.method, request.uri, who, request.remote_ip, 1000 * request.request_time())


def make_app(store: ModelStore, scheduler: Scheduler, routes: list | None = None,
             guard: BrowserGuard | None = None, **settings: Any) -> tornado.web.Application:
    return tornado.web.Application(
        routes if routes is not None else api_routes("/"),
        ollama_store=store,
        ollama_scheduler=scheduler,
        ollama_browser_guard=guard,
        default_handler_class=NotFoundHandler,
        log_function=log_request,
        **settings,
    )


def hub_app(manager: Manager, hub: HubServiceEnv) -> tornado.web.Application:
    """The whole API under the service's prefix, behind the Hub's sign-in; no browser guard of our own
    (the Hub's proxy serves it on the hub's public origin, and every request must show the Hub a token)."""
    from jupyterhub.services.auth import HubOAuth  # only a Hub service needs jupyterhub

    from .hub.service import HubGate, HubPolicy, service_routes

    gate = HubGate(HubOAuth.instance(), HubPolicy(hub.name, hub_admin_group()))
    # The OAuth cookie's signing key: a browser signs in again after a restart, through the Hub, unseen.
    return make_app(manager.store, manager.scheduler, service_routes(hub, gate), cookie_secret=secrets.token_bytes(32))


def bind_address(hub: HubServiceEnv | None) -> HostURL:
    """Where to listen: the Hub service's URL, else OLLAMA_HOST."""
    if hub is not None and hub.url:
        parts = urlsplit(hub.url)
        return parse_ollama_host(f"{parts.scheme}://{parts.netloc}")
    return ollama_host()


async def serve(host: HostURL | None = None, store: ModelStore | None = None) -> None:
    """Serve until SIGINT or SIGTERM, then stop accepting and return."""
    hub = hub_service_env()
    host = host or bind_address(hub)
    manager = Manager(store, Scheduler(store)) if store is not None else \
        await asyncio.to_thread(build_manager, declared=remote_models())
    if hub is not None:
        app = hub_app(manager, hub)
    else:
        app = make_app(manager.store, manager.scheduler, guard=BrowserGuard.for_bind_address(host.host))
    server = app.listen(host.port, address=host.host, xheaders=False, max_body_size=1 << 40)
    where = f"{host.netloc}{hub.prefix if hub else ''}"
    log.warning("jupyter-ollama listening on %s (models in %s)%s", where, manager.store.root,
                f", as the JupyterHub service {hub.name!r}" if hub else "")
    print(f"jupyter-ollama listening on {where}", flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    server.stop()
    await manager.scheduler.shutdown()  # every runner stops; their memory goes back to the OS
    await server.close_all_connections()
    log.warning("jupyter-ollama stopped")
