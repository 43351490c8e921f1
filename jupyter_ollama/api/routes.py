"""Every route of the API, once, and the ways to mount it: standalone, under Jupyter, kernel-side."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

import tornado.web
from tornado.web import RequestHandler

from .anthropic import anthropic_routes
from .base import request_token
from .inference import inference_routes
from .native import native_routes
from .observe import observe_routes
from .openai import openai_routes
from .responses import responses_routes
from .transfer import transfer_routes

Route = tuple[str, type, dict[str, Any]]

HTTP_VERBS = ("get", "head", "post", "put", "patch", "delete", "options")


def all_routes() -> list[Route]:
    """Patterns relative to the mount point (no leading slash)."""
    return (native_routes() + inference_routes() + observe_routes() + transfer_routes() + openai_routes()
            + responses_routes() + anthropic_routes())


def mounted(prefix: str, wrap: Callable[[type[RequestHandler]], type[RequestHandler]] = lambda h: h) -> list[Route]:
    """Every route under `prefix` (ending in a slash), each handler passed through `wrap`."""
    return [
        (prefix + pattern + "/?" if pattern else prefix + "?", wrap(handler), kwargs)
        for pattern, handler, kwargs in all_routes()
    ]


def own_verbs(handler: type) -> list[str]:
    """The HTTP methods a handler really implements (not tornado's 405 defaults)."""
    return [v for v in HTTP_VERBS if getattr(handler, v) is not getattr(tornado.web.RequestHandler, v)]


def token_protected(token: str) -> Callable[[type[RequestHandler]], type[RequestHandler]]:
    """A wrapper that makes every request show `token` (kernel-side server): see `request_token`."""

    def wrap(handler: type[RequestHandler]) -> type[RequestHandler]:
        class Protected(handler):  # type: ignore[misc, valid-type]
            def _check_token(self) -> None:
                shown = request_token(self.request)
                if not shown or not hmac.compare_digest(shown, token):
                    raise tornado.web.HTTPError(401, "unauthorized")

        # Checked before the handler's own prepare, whatever it does (a streamed upload starts in prepare).
        original = handler.prepare

        async def prepare(self: Any) -> None:
            if self.guard_browser():  # a browser's preflight carries no token: answered first
                return
            self._check_token()
            result = original(self)
            if result is not None:
                await result

        Protected.prepare = prepare
        Protected.__name__ = f"Protected{handler.__name__}"
        return Protected

    return wrap


__all__ = ["all_routes", "mounted", "own_verbs", "token_protected"]
