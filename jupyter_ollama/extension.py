"""The Jupyter server extension: the whole API under `{base_url}ollama/`, behind Jupyter's auth.

Every handler is the standalone one with Jupyter's handler mixed in: Jupyter
authenticates (token header or login cookie, with XSRF for browsers), every verb
is `@web.authenticated` and `@authorized` on the resource `ollama`, and errors
keep Ollama's shape. The extension exports its URL and token into the
environment, so kernels it starts find it (see `discovery/`).

Under JupyterHub with `hub_service` set, the server has no manager of its own: the
same routes forward to the hub's model service, as this server's user (`hub/forward.py`).
Model traffic is the server's activity (`current_activity`, `ollama_last_activity`):
an idle culler never stops a server in the middle of a chat or a pull.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import logging
import os
import shlex
import signal
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado.ioloop import PeriodicCallback
from tornado.web import RequestHandler
from traitlets import Dict, Float, Int, Unicode, default

from . import envconfig, jupyter_ai
from .api.routes import mounted, own_verbs
from .envconfig import TOKEN_ENV, URL_ENV, hub_server_env
from .hub.forward import ForwardHandler, Forwarding
from .scheduler.durations import default_keep_alive, parse_keep_alive_setting
from .scheduler.manager import build_manager
from .scheduler.scheduler import Scheduler
from .scheduler.settings import SchedulerSettings, parse_budget
from .store.aliases import ModelAliases
from .store.declared import parse_declared
from .store.store import ModelStore, default_models_dir

AUTH_RESOURCE = "ollama"
# The traits that are SchedulerSettings' fields as they are (keep_alive and memory_budget are parsed first).
SCHEDULER_TRAITS = ("num_parallel", "context_length", "max_loaded_models", "max_queue", "num_thread",
                    "user_max_slots", "user_max_queue", "user_tokens_per_hour", "group_weights")


ACTIVITY = "ollama_last_activity"  # jupyter_server counts every `*_last_activity` setting as the server's activity
ACTIVITY_EVERY = 15.0  # seconds between activity marks while model work goes on


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def basic_password(authorization: str) -> str | None:
    """The password of HTTP Basic credentials (`Basic base64(user:password)`), else None."""
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None


async def _jupyter_prepare(self: Any) -> None:
    self.settings[ACTIVITY] = utcnow()
    # Jupyter reads tokens from `Authorization: token|bearer` only. Anthropic's clients send their key as
    # x-api-key; a URL with the token as its password (LiteLLM's OLLAMA_API_BASE, see `jupyter_ai`) sends Basic.
    key = self.request.headers.get("x-api-key")
    if key and "Authorization" not in self.request.headers:
        self.request.headers["Authorization"] = f"token {key}"
    if password := basic_password(self.request.headers.get("Authorization", "")):
        self.request.headers["Authorization"] = f"token {password}"
    # JupyterHandler.prepare authenticates, then hands back the wrapped handler's own prepare.
    result = await JupyterHandler.prepare(self)
    if inspect.isawaitable(result):
        await result


def _forbid_login_redirect(self: Any) -> str:
    # An API answers 403, never a redirect to the login page.
    if not self.current_user:
        raise tornado.web.HTTPError(403)
    return JupyterHandler.get_login_url(self)


def jupyter_handler(handler: type[RequestHandler]) -> type[RequestHandler]:
    """`handler` with Jupyter's authentication and authorization on every verb it implements."""
    attrs: dict[str, Any] = {
        "auth_resource": AUTH_RESOURCE,
        "prepare": _jupyter_prepare,
        "get_login_url": _forbid_login_redirect,
        # Jupyter's write_error renders HTML pages; keep the handler's own error shape (Ollama's or OpenAI's).
        "write_error": handler.write_error,
    }
    for verb in own_verbs(handler):
        attrs[verb] = tornado.web.authenticated(authorized(getattr(handler, verb)))
    return type(f"Jupyter{handler.__name__}", (ExtensionHandlerMixin, JupyterHandler, handler), attrs)


POSIX_SHELLS = ("sh", "bash", "dash", "zsh", "ksh")


def terminal_shell(command: list[str], scripts: str) -> list[str]:
    """A terminal's shell command that keeps `scripts` on PATH.

    A server started without a terminal (a service, JupyterHub, a test) opens login shells
    (`bash -l`), and /etc/profile sets PATH afresh: the login shell then starts the
    interactive one with `scripts` put back in front.
    """
    if len(command) != 2 or command[1] != "-l" or Path(command[0]).name not in POSIX_SHELLS:
        return command  # not a login shell, or one the user chose: PATH from the environment stands
    shell = shlex.quote(command[0])
    return [command[0], "-l", "-c", f'PATH={shlex.quote(scripts)}:"$PATH"; export PATH; exec {shell} -i']


def graceful_interrupt(serverapp: Any) -> None:
    """SIGINT stops the server as SIGTERM does, with its cleanup, where jupyter_server left it as Python's
    KeyboardInterrupt (no terminal to confirm on): JupyterHub stops a user's server with SIGINT first, and
    without cleanup the streams this server carries would end as cut connections, not with a word."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, serverapp._signal_stop)


class JupyterOllama(ExtensionApp):
    name = "jupyter_ollama"
    # No templates or static files of its own: the sidebar is a labextension.
    load_other_extensions = True

    models_dir = Unicode(help="Model store (OLLAMA_MODELS); default: <jupyter data dir>/ollama/models").tag(config=True)
    # The scheduler's settings: None (unset) takes SchedulerSettings' default, the OLLAMA_* variable's value or its
    # default (envconfig), so that is said in one place. Per requester: the Hub user, else a hash of the token shown.
    keep_alive = Unicode(None, allow_none=True, help="How long an idle model stays loaded (OLLAMA_KEEP_ALIVE), e.g. 5m, 0, -1"
                         ).tag(config=True)
    num_parallel = Int(None, allow_none=True, help="Slots per model (OLLAMA_NUM_PARALLEL)").tag(config=True)
    context_length = Int(None, allow_none=True, help="Context per slot (OLLAMA_CONTEXT_LENGTH)").tag(config=True)
    max_loaded_models = Int(None, allow_none=True, help="Models loaded at once (OLLAMA_MAX_LOADED_MODELS)").tag(config=True)
    max_queue = Int(None, allow_none=True, help="Waiting requests before 503 (OLLAMA_MAX_QUEUE)").tag(config=True)
    memory_budget = Unicode(None, allow_none=True, help="Memory cap per device (OLLAMA_MEMORY_BUDGET): 8GiB or "
                                                        "cpu=8GiB,gpu0=20GiB").tag(config=True)
    num_thread = Int(None, allow_none=True, help="CPU threads per runner (OLLAMA_NUM_THREAD); 0 fits the CPUs this server "
                                                 "may use").tag(config=True)
    user_max_slots = Int(None, allow_none=True, help="Slots one requester may hold at once (OLLAMA_USER_MAX_SLOTS); "
                                                      "0: no cap").tag(config=True)
    user_max_queue = Int(None, allow_none=True, help="Waiting requests per requester before 429 "
                                                      "(OLLAMA_USER_MAX_QUEUE); 0: no cap").tag(config=True)
    user_tokens_per_hour = Int(None, allow_none=True, help="Tokens per requester per hour before 429 "
                                                            "(OLLAMA_USER_TOKENS_PER_HOUR); 0: no cap").tag(config=True)
    group_weights = Dict(value_trait=Float(), default_value=None, allow_none=True,
                         help='Turns per group (OLLAMA_GROUP_WEIGHTS), e.g. {"teachers": 4, "students": 1}').tag(config=True)
    model_aliases = Dict(help="Names answered by local models (OLLAMA_MODEL_ALIASES): pattern -> model, e.g. "
                              '{"claude-*": "qwen3-coder"}; shell-style patterns, first match wins').tag(config=True)
    hub_service = Unicode(help="Under JupyterHub: the Hub service (its name, or its URL) whose model manager this server "
                               "uses instead of one of its own (JUPYTER_OLLAMA_HUB_SERVICE); see docs/jupyterhub.md"
                          ).tag(config=True)
    remote_models = Dict(help="Remote models every user gets (OLLAMA_REMOTE_MODELS): name -> create request, e.g. "
                              '{"team": {"from": "llama3.1:70b", "remote_host": ["http://vllm:8000"]}}; see docs/deployment.md'
                         ).tag(config=True)

    @default("models_dir")
    def _models_dir(self) -> str:
        return str(default_models_dir())

    @default("hub_service")
    def _hub_service(self) -> str:
        return envconfig.hub_service()

    @default("model_aliases")
    def _model_aliases(self) -> dict[str, str]:
        try:
            return dict(ModelAliases.from_env().rules)
        except ValueError as err:
            self.log.error("%s", err)
            return {}

    @default("remote_models")
    def _remote_models(self) -> dict[str, Any]:
        try:
            return parse_declared(envconfig.remote_models())
        except ValueError as err:
            self.log.error("%s", err)
            return {}

    def scheduler_settings(self) -> SchedulerSettings:
        """SchedulerSettings with the traits that were set; the others as the environment says."""
        given: dict[str, Any] = {name: getattr(self, name) for name in SCHEDULER_TRAITS if getattr(self, name) is not None}
        if "num_thread" in given:
            given["num_thread"] = max(given["num_thread"], 0)
        if self.memory_budget is not None:
            given["memory_budget"] = parse_budget(self.memory_budget)
        if self.keep_alive is not None:
            try:
                given["keep_alive"] = parse_keep_alive_setting(self.keep_alive)
            except Exception:  # a bad setting falls back to Ollama's default, and says so
                self.log.warning("JupyterOllama.keep_alive %r is not a duration; using the default", self.keep_alive)
                given["keep_alive"] = default_keep_alive()
        return SchedulerSettings(**given)

    scheduler: Scheduler | None = None
    store: ModelStore | None = None
    forwarding: Forwarding | None = None
    jupyternaut: jupyter_ai.JupyternautModels | None = None

    def initialize_settings(self) -> None:
        self._share_log()
        hub = hub_server_env()
        if self.hub_service and hub is not None:  # the hub's manager serves this server's user: none here
            self.forwarding = Forwarding(self.hub_service, hub, self.record_activity)
            self.settings.update(ollama_forwarding=self.forwarding)
            return
        if self.hub_service:
            self.log.error("JupyterOllama.hub_service is %r, but this server is not started by JupyterHub "
                           "(no JUPYTERHUB_API_URL and JUPYTERHUB_API_TOKEN): it runs a model manager of its own", self.hub_service)
        manager = build_manager(Path(self.models_dir), self.scheduler_settings(), ModelAliases.of(self.model_aliases),
                                declared=self.remote_models)  # and those no longer declared go
        self.scheduler, self.store = manager.scheduler, manager.store
        self.settings.update(ollama_store=manager.store, ollama_scheduler=manager.scheduler)

    def initialize_handlers(self) -> None:
        if self.forwarding is not None:
            self.handlers.append((r"ollama/?(.*)", jupyter_handler(ForwardHandler), {}))
            return
        # `mounted` builds absolute patterns; ExtensionApp joins them with base_url, so strip the slash.
        self.handlers.extend((pattern.lstrip("/"), handler, kwargs) for pattern, handler, kwargs in mounted("/ollama/", jupyter_handler))

    def _share_log(self) -> None:
        """Our log lines (a model loading, why a request was refused) go where the Jupyter server's go."""
        ours = logging.getLogger("jupyter_ollama")
        if self.serverapp is None or ours.handlers:
            return
        for handler in self.serverapp.log.handlers:
            ours.addHandler(handler)
        ours.setLevel(logging.INFO)
        ours.propagate = False  # once: not again through a root handler someone else configured

    def record_activity(self) -> None:
        if self.serverapp is not None:
            self.serverapp.web_app.settings[ACTIVITY] = utcnow()

    def current_activity(self) -> bool:
        """Model work in flight: a request holding or waiting for a slot, a load, a forwarded stream or pull."""
        if self.forwarding is not None:
            return bool(self.forwarding.in_flight)
        scheduler = self.scheduler
        return scheduler is not None and bool(scheduler.pending or any(not x.idle for x in scheduler.loaded.values()))

    def _mark_while_busy(self) -> None:
        if self.current_activity():
            self.record_activity()

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        # Kernels and terminals inherit the server's environment: tell them where the API is and how to get in.
        os.environ[URL_ENV] = url_path_join(serverapp.connection_url, "ollama")
        # Under JupyterHub the server's own Hub token (its user's scopes) is what kernels show it.
        hub = hub_server_env()
        token = getattr(serverapp.identity_provider, "token", "") or (hub.api_token if hub else "")
        if token:
            os.environ[TOKEN_ENV] = token
        # `jupyter-ollama` in a terminal: this Python's scripts folder on PATH, even when the server
        # was started as `.venv/bin/jupyter lab` without activating the virtual environment.
        scripts = str(Path(sys.executable).parent)
        os.environ["PATH"] = os.pathsep.join([scripts, *(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != scripts)])
        manager = serverapp.web_app.settings.get("terminal_manager")
        if manager is not None:
            manager.shell_command = terminal_shell(list(manager.shell_command), scripts)
        self.activity = PeriodicCallback(self._mark_while_busy, ACTIVITY_EVERY * 1000)
        self.activity.start()
        graceful_interrupt(serverapp)
        self.connect_jupyter_ai(serverapp, token)
        where = f"the hub service {self.hub_service!r}" if self.forwarding else f"models in {self.models_dir}"
        self.log.info("jupyter-ollama API at %s (%s)", os.environ[URL_ENV], where)

    def connect_jupyter_ai(self, serverapp: Any, token: str) -> None:
        """Jupyter AI in this server offers our models with no setup (see `jupyter_ai`)."""
        os.environ.update(jupyter_ai.kernel_environment(os.environ[URL_ENV], token, jupyter_ai.litellm_installed()))
        settings = serverapp.web_app.settings
        if not jupyter_ai.jupyternaut_loaded(settings):
            return
        if self.store is None:  # under JupyterHub the models are the hub service's: its list is not here
            self.log.info("Jupyter AI's chat lists no jupyter-ollama models here: they are the hub service's")
            return
        if not token:
            self.log.warning("Jupyter AI's chat cannot reach jupyter-ollama's models: this server has no token to give it")
            return
        config_path = getattr(settings["jupyternaut.config_manager"], "config_path", None)
        self.jupyternaut = jupyter_ai.JupyternautModels(self.store.list_models, serverapp.connection_url, os.environ[URL_ENV],
                                                        token, self.log, config_path)
        self.jupyternaut.start()

    async def stop_extension(self) -> None:
        if getattr(self, "activity", None) is not None:
            self.activity.stop()
        if self.jupyternaut is not None:
            await self.jupyternaut.stop()
        if self.forwarding is not None:
            await self.forwarding.stop()  # forwarded streams end with "the server is shutting down"
        if self.scheduler is not None:
            await self.scheduler.shutdown()  # every runner goes, with its memory
