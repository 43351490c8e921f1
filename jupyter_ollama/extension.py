"""The Jupyter server extension: the whole API under `{base_url}ollama/`, behind Jupyter's auth.

Every handler is the standalone one with Jupyter's handler mixed in: Jupyter
authenticates (token header or login cookie, with XSRF for browsers), every verb
is `@web.authenticated` and `@authorized` on the resource `ollama`, and errors
keep Ollama's shape. The extension exports its URL and token into the
environment, so kernels it starts find it (see `discovery/`).
"""

from __future__ import annotations

import base64
import binascii
import inspect
import os
import shlex
import sys
from pathlib import Path
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.application import ExtensionApp
from jupyter_server.extension.handler import ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado.web import RequestHandler
from traitlets import Dict, Int, Unicode, default

from . import envconfig, jupyter_ai
from .api.routes import mounted, own_verbs
from .envconfig import TOKEN_ENV, URL_ENV
from .scheduler.durations import default_keep_alive, parse_keep_alive_setting
from .scheduler.scheduler import Scheduler
from .scheduler.settings import SchedulerSettings, parse_budget
from .store.aliases import ModelAliases
from .store.declared import parse_declared, sync_declared
from .store.store import ModelStore, default_models_dir

AUTH_RESOURCE = "ollama"


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


class JupyterOllama(ExtensionApp):
    name = "jupyter_ollama"
    # No templates or static files of its own: the sidebar is a labextension.
    load_other_extensions = True

    models_dir = Unicode(help="Model store (OLLAMA_MODELS); default: <jupyter data dir>/ollama/models").tag(config=True)
    keep_alive = Unicode(help="How long an idle model stays loaded (OLLAMA_KEEP_ALIVE), e.g. 5m, 0, -1").tag(config=True)
    num_parallel = Int(help="Slots per model (OLLAMA_NUM_PARALLEL)").tag(config=True)
    context_length = Int(help="Context per slot (OLLAMA_CONTEXT_LENGTH)").tag(config=True)
    max_loaded_models = Int(help="Models loaded at once (OLLAMA_MAX_LOADED_MODELS)").tag(config=True)
    max_queue = Int(help="Waiting requests before 503 (OLLAMA_MAX_QUEUE)").tag(config=True)
    memory_budget = Unicode(help="Memory cap per device (OLLAMA_MEMORY_BUDGET): 8GiB or cpu=8GiB,gpu0=20GiB").tag(config=True)
    num_thread = Int(help="CPU threads per runner (OLLAMA_NUM_THREAD); 0 fits the CPUs this server may use").tag(config=True)
    model_aliases = Dict(help="Names answered by local models (OLLAMA_MODEL_ALIASES): pattern -> model, e.g. "
                              '{"claude-*": "qwen3-coder"}; shell-style patterns, first match wins').tag(config=True)
    remote_models = Dict(help="Remote models every user gets (OLLAMA_REMOTE_MODELS): name -> create request, e.g. "
                              '{"team": {"from": "llama3.1:70b", "remote_host": ["http://vllm:8000"]}}; see docs/deployment.md'
                         ).tag(config=True)

    @default("models_dir")
    def _models_dir(self) -> str:
        return str(default_models_dir())

    @default("keep_alive")
    def _keep_alive(self) -> str:
        return envconfig.keep_alive()

    @default("num_parallel")
    def _num_parallel(self) -> int:
        return envconfig.num_parallel()

    @default("context_length")
    def _context_length(self) -> int:
        return envconfig.context_length()

    @default("max_loaded_models")
    def _max_loaded(self) -> int:
        return envconfig.max_loaded_models()

    @default("max_queue")
    def _max_queue(self) -> int:
        return envconfig.max_queue()

    @default("memory_budget")
    def _memory_budget(self) -> str:
        return envconfig.memory_budget()

    @default("num_thread")
    def _num_thread(self) -> int:
        return envconfig.num_thread()

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
        try:
            keep_alive = parse_keep_alive_setting(self.keep_alive)
        except Exception:  # a bad setting falls back to Ollama's default, and says so
            self.log.warning("JupyterOllama.keep_alive %r is not a duration; using the default", self.keep_alive)
            keep_alive = default_keep_alive()
        return SchedulerSettings(
            num_parallel=self.num_parallel,
            max_loaded_models=self.max_loaded_models,
            max_queue=self.max_queue,
            context_length=self.context_length,
            keep_alive=keep_alive,
            memory_budget=parse_budget(self.memory_budget),
            num_thread=max(self.num_thread, 0),
        )

    def initialize_settings(self) -> None:
        store = ModelStore(Path(self.models_dir), ModelAliases.of(self.model_aliases))
        self.store = store
        self.jupyternaut: jupyter_ai.JupyternautModels | None = None
        self.scheduler = Scheduler(store, self.scheduler_settings())
        self.settings.update(ollama_store=store, ollama_scheduler=self.scheduler)
        sync_declared(store, self.remote_models)  # and those no longer declared go

    def initialize_handlers(self) -> None:
        # `mounted` builds absolute patterns; ExtensionApp joins them with base_url, so strip the slash.
        self.handlers.extend((pattern.lstrip("/"), handler, kwargs) for pattern, handler, kwargs in mounted("/ollama/", jupyter_handler))

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        # Kernels and terminals inherit the server's environment: tell them where the API is and how to get in.
        os.environ[URL_ENV] = url_path_join(serverapp.connection_url, "ollama")
        token = getattr(serverapp.identity_provider, "token", "") or ""
        if token:
            os.environ[TOKEN_ENV] = token
        # `jupyter-ollama` in a terminal: this Python's scripts folder on PATH, even when the server
        # was started as `.venv/bin/jupyter lab` without activating the virtual environment.
        scripts = str(Path(sys.executable).parent)
        os.environ["PATH"] = os.pathsep.join([scripts, *(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != scripts)])
        manager = serverapp.web_app.settings.get("terminal_manager")
        if manager is not None:
            manager.shell_command = terminal_shell(list(manager.shell_command), scripts)
        self.connect_jupyter_ai(serverapp, token)
        self.log.info("jupyter-ollama API at %s (models in %s)", os.environ[URL_ENV], self.models_dir)

    def connect_jupyter_ai(self, serverapp: Any, token: str) -> None:
        """Jupyter AI in this server offers our models with no setup (see `jupyter_ai`)."""
        os.environ.update(jupyter_ai.kernel_environment(os.environ[URL_ENV], token, jupyter_ai.litellm_installed()))
        settings = serverapp.web_app.settings
        if not jupyter_ai.jupyternaut_loaded(settings):
            return
        if not token:
            self.log.warning("Jupyter AI's chat cannot reach jupyter-ollama's models: this server has no token to give it")
            return
        config_path = getattr(settings["jupyternaut.config_manager"], "config_path", None)
        self.jupyternaut = jupyter_ai.JupyternautModels(self.store.list_models, serverapp.connection_url, os.environ[URL_ENV],
                                                        token, self.log, config_path)
        self.jupyternaut.start()

    async def stop_extension(self) -> None:
        if self.jupyternaut is not None:
            await self.jupyternaut.stop()
        await self.scheduler.shutdown()  # every runner goes, with its memory
