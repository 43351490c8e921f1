"""`jupyter-ollama serve` as a JupyterHub service: one model manager for the whole hub.

JupyterHub starts it as a managed service (or an admin runs it as an external one) with
JUPYTERHUB_SERVICE_NAME, _URL, _PREFIX, JUPYTERHUB_API_URL and _API_TOKEN set: it listens on
the service URL and serves every route under the prefix, which the Hub's proxy forwards
unchanged (`/services/ollama/api/chat`, `/services/ollama/v1/...`).

Every request is checked with the Hub, as jupyterhub's own `HubOAuthenticated` handlers do
(services/auth.py), with an API's answers instead of a login page: a Hub token in
`Authorization: token|Bearer <t>` (or Anthropic's `x-api-key`), or for a browser the cookie
the Hub's OAuth flow sets (a browser with neither is sent to that flow). A cookie only
reads: a change needs a token, so no page elsewhere can act with a signed-in user's
cookie. The user needs the service's access scope (`access:services!service=<name>`). No
token or a bad one: 401; a token without the scope: 403; both in the route's error shape.
Pulling, creating, copying, deleting, pushing and uploading blobs belong to Hub admins and
to the members of the admin group (OLLAMA_HUB_ADMIN_GROUP, `ollama-admins`); others get a
403 that says who may.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated
from tornado.web import RequestHandler

from ..api.base import request_token
from ..api.routes import Route, mounted, own_verbs
from ..envconfig import HubServiceEnv
from ..errors import Forbidden, Unauthorized
from ..scheduler.turns import Requester

log = logging.getLogger("jupyter_ollama")

READ_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass(frozen=True)
class HubUser:
    """Who a request comes from, as the Hub said."""

    name: str
    admin: bool = False
    groups: tuple[str, ...] = ()
    by_cookie: bool = False  # signed in by the OAuth cookie (a browser), not by a token

    @staticmethod
    def of(model: dict[str, Any], by_cookie: bool) -> HubUser:
        return HubUser(str(model.get("name", "")), bool(model.get("admin")), tuple(model.get("groups") or ()), by_cookie)

    @property
    def requester(self) -> Requester:
        """The user as the scheduler's turns, limits and counters know them (group weights by their groups)."""
        return Requester(key=f"hub:{self.name}", name=self.name, groups=self.groups)


@dataclass(frozen=True)
class HubPolicy:
    """What the service's users may do."""

    service: str  # the service's name
    admin_group: str  # besides Hub admins, its members manage the store

    def may_manage(self, user: HubUser) -> bool:
        return user.admin or self.admin_group in user.groups

    def refusal(self, action: str) -> str:
        return (f"only JupyterHub admins and members of the {self.admin_group!r} group may {action} models on the "
                f"{self.service!r} service; ask one of them")


class HubGate:
    """The checks every request passes, with the Hub's answer about its token or cookie."""

    def __init__(self, auth: HubOAuth, policy: HubPolicy) -> None:
        self.auth, self.policy = auth, policy

    async def _model(self, handler: RequestHandler) -> tuple[dict[str, Any] | None, bool]:
        """The Hub's model of the request's token (its user, groups, admin flag and the token's scopes), and
        whether it came from the OAuth cookie; None when the Hub knows neither."""
        token = request_token(handler.request)
        if token:
            return await self.auth.user_for_token(token, session_id=self.auth.get_session_id(handler), sync=False), False
        return await self.auth.get_user(handler, sync=False), True

    async def check(self, handler: RequestHandler, manages: str) -> HubUser:
        """The request's user, allowed to do what it asks; 401 or 403 otherwise. `manages`: what the handler
        does to the store (pull, create, ...), or "" for a handler that does not change it."""
        model, by_cookie = await self._model(handler)
        service = self.policy.service
        if not model:
            raise Unauthorized(f"sign in to JupyterHub: send a Hub API token (`Authorization: token <token>`) to use "
                               f"the {service!r} service")
        user = HubUser.of(model, by_cookie)
        if not self.auth.check_scopes(self.auth.access_scopes, model):
            raise Forbidden(f"{user.name} may not use the {service!r} service: that needs the "
                            f"access:services!service={service} scope; ask your hub admin")
        method = handler.request.method or "GET"
        if by_cookie and method not in READ_METHODS:
            raise Forbidden("a browser session may only read here: send a Hub API token to make changes")
        if manages and method not in READ_METHODS and not self.policy.may_manage(user):
            raise Forbidden(self.policy.refusal(manages))
        return user


def wants_login_page(handler: RequestHandler) -> bool:
    """A browser asking for a page, with no token: it is sent through the Hub's OAuth flow."""
    request = handler.request
    return request.method == "GET" and "text/html" in request.headers.get("Accept", "") and not request_token(request)


def hub_protected(gate: HubGate) -> Callable[[type[RequestHandler]], type[RequestHandler]]:
    """A wrapper that puts every request through `gate` before the handler's own prepare (a blob upload streams
    from there), and keeps the Hub user on the handler (`hub_user`) for the log, fair turns and usage counts.

    A refused request is answered once its body has been read (and dropped): the Hub's proxy keeps connections
    open, and an answer before the body would leave it writing into a connection tornado then closes."""

    def wrap(handler: type[RequestHandler]) -> type[RequestHandler]:
        original_prepare, original_received = handler.prepare, handler.data_received
        original_requester = getattr(handler, "requester")  # noqa: B009  (every API handler has it: api/base.py)

        async def prepare(self: Any) -> None:
            self.hub_auth = gate.auth
            try:
                self.hub_user = await gate.check(self, getattr(self, "manages_store", ""))
            except (Unauthorized, Forbidden) as err:
                if isinstance(err, Unauthorized) and wants_login_page(self):
                    self.redirect(self.get_login_url())  # HubOAuthenticated's: the OAuth flow, back to this page
                else:
                    self.refused = err
                return
            result = original_prepare(self)
            if result is not None:
                await result

        def data_received(self: Any, chunk: bytes) -> Any:
            return None if self.refused is not None else original_received(self, chunk)

        def checked(verb: Callable[..., Any]) -> Callable[..., Any]:
            async def run(self: Any, *args: Any, **kwargs: Any) -> None:
                if self.refused is not None:
                    raise self.refused
                result = verb(self, *args, **kwargs)
                if result is not None:
                    await result
            return run

        def requester(self: Any) -> Requester:
            return self.hub_user.requester if self.hub_user is not None else original_requester(self)

        attrs: dict[str, Any] = {"prepare": prepare, "data_received": data_received, "requester": requester,
                                 "hub_user": None, "refused": None,
                                 **{v: checked(getattr(handler, v)) for v in own_verbs(handler)}}
        return type(f"Hub{handler.__name__}", (HubOAuthenticated, handler), attrs)

    return wrap


def service_routes(env: HubServiceEnv, gate: HubGate) -> list[Route]:
    """Every route under the service's prefix, behind `gate`, and the OAuth callback the Hub sends browsers to."""
    return [(env.prefix + "oauth_callback", HubOAuthCallbackHandler, {}), *mounted(env.prefix, hub_protected(gate))]
