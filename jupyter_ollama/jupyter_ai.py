"""Jupyter AI 3 beside the extension: its chat and its magics find this server's models, with no setup.

Jupyter AI 3 (jupyter-ai 3.2, with its `jupyternaut` and `magics` extras) reaches models through LiteLLM, whose
`ollama_chat/<model>` provider speaks Ollama's /api/chat at an `api_base` and sends an `api_key` as
`Authorization: Bearer`. With Jupyter AI in the same Jupyter server:

- Jupyternaut, its chat persona, offers the *custom models* of its settings at the top of its model picker
  (`{base_url}api/jupyternaut/config`, saved in `<Jupyter data dir>/jupyter_ai/config.json`). We keep one there
  per local model that can use tools: `ollama_chat/<model>` at `{base_url}ollama` with the Jupyter token.
  Jupyternaut sends its tools with every message, and a model without them is refused with Ollama's 400
  "does not support tools", so only those are offered. Models pulled, created or removed later follow within
  `SYNC_INTERVAL`; ours go when the server stops; the user's own custom models stay first, untouched.
- Each of those models is also entered in LiteLLM's model map in this process. Otherwise, after each reply,
  LiteLLM looks the model up with a blocking request to `/api/show` made from the server's event loop
  (`OllamaModelInfo.get_runtime_model_info`) to this same server, which then waits on itself for minutes.
- The magics (`%%ai`) run LiteLLM in the kernel, and LiteLLM reads `OLLAMA_API_BASE` when a call names no
  `api_base`. Kernels inherit it from this server: its API URL with the token as the URL's password, so LiteLLM
  sends the token to this server only (as HTTP Basic, which the extension takes as the token). `%%ai` accepts
  only model IDs in LiteLLM's catalog or aliases, so a kernel needs `%ai alias smollm2 ollama_chat/smollm2` once.

A user's own `OLLAMA_API_BASE` is left alone; nothing here runs unless those packages are installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx

from . import envconfig

OURS = "custom-jupyter-ollama/"  # the prefix of the custom-model IDs we own (Jupyternaut wants `custom-`)
SYNC_INTERVAL = 3.0  # seconds between looks at the store for models pulled, created or removed
NEEDED = ("completion", "tools")  # what Jupyternaut asks of a model on every message


def litellm_installed() -> bool:
    return importlib.util.find_spec("litellm") is not None


def jupyternaut_loaded(settings: Mapping[str, Any]) -> bool:
    """Whether Jupyternaut's server extension runs in this server (it puts its config manager in the settings)."""
    return "jupyternaut.config_manager" in settings


def api_base_with_token(api_url: str, token: str) -> str:
    """`api_url` with `token` as the URL's password: clients send it as HTTP Basic, to that URL only."""
    if not token:
        return api_url
    parts = urlsplit(api_url)
    return urlunsplit(parts._replace(netloc=f"jupyter:{quote(token, safe='')}@{parts.netloc}"))


def kernel_environment(api_url: str, token: str, with_litellm: bool) -> dict[str, str]:
    """What kernels should inherit for LiteLLM: `OLLAMA_API_BASE` here, unless set already or LiteLLM is absent."""
    if not with_litellm or envconfig.litellm_api_base():
        return {}
    return {envconfig.LITELLM_API_BASE_ENV: api_base_with_token(api_url, token)}


def short_name(name: str) -> str:
    """`smollm2:latest` -> `smollm2`, as people type it; other tags stay."""
    return name.removesuffix(":latest")


def custom_models(models: list[dict[str, Any]], api_url: str, token: str) -> list[dict[str, Any]]:
    """Jupyternaut custom models for the `/api/tags` entries that can chat with tools, in the store's order."""
    entries = []
    for model in models:
        if not all(c in model.get("capabilities", ()) for c in NEEDED):
            continue
        name = short_name(model["name"])
        details = model.get("details") or {}
        size = " ".join(filter(None, (details.get("parameter_size"), details.get("quantization_level"))))
        params: dict[str, Any] = {"api_base": api_url}
        if token:
            params["api_key"] = token
        entries.append({
            "id": OURS + name,
            "name": name,
            "description": f"{size + ', ' if size else ''}on this Jupyter server (jupyter-ollama)",
            "model_id": f"ollama_chat/{name}",
            "params": params,
            "context_length": details.get("context_length"),  # for LiteLLM's model map, not Jupyternaut
        })
    return entries


def is_ours(entry: Mapping[str, Any]) -> bool:
    return str(entry.get("id", "")).startswith(OURS)


def merged(existing: list[dict[str, Any]], ours: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The user's own custom models first, as they were, then ours (fields Jupyternaut keeps only)."""
    kept = ("id", "name", "description", "model_id", "params")
    return [e for e in existing if not is_ours(e)] + [{k: e[k] for k in kept} for e in ours]


def drop_ours(config_path: str) -> None:
    """Take our custom models out of Jupyternaut's config file, the rest as it was."""
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    kept = [e for e in config.get("custom_models") or [] if not is_ours(e)]
    if kept != config.get("custom_models"):
        config["custom_models"] = kept
        with open(config_path, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=4)


def enter_in_litellm(entries: list[dict[str, Any]]) -> None:
    """Put our models in LiteLLM's model map in this process, so it never asks this server mid-reply (see above).

    Straight into `litellm.model_cost`, again on every look (a reload of LiteLLM's prices replaces the map):
    `litellm.register_model` would ask this server about each model first, blocking, and file the answer under
    the bare model name as a "chat" model, which Jupyternaut then lists a second time among LiteLLM's models.
    No `mode` here for the same reason.
    """
    import litellm  # present: Jupyternaut depends on it and has imported it

    for entry in entries:
        litellm.model_cost.setdefault(entry["model_id"], {
            "litellm_provider": "ollama_chat",
            "max_tokens": entry["context_length"],
            "max_input_tokens": entry["context_length"],
            "input_cost_per_token": 0.0,
            "output_cost_per_token": 0.0,
            "supports_function_calling": True,
        })


class JupyternautModels:
    """Keeps Jupyternaut's custom models in step with this server's models, through Jupyternaut's settings API."""

    def __init__(self, list_models: Callable[[], list[dict[str, Any]]], server_url: str, api_url: str, token: str,
                 log: Any, config_path: str | None = None) -> None:
        self.list_models = list_models  # the store's `/api/tags` entries
        self.config_url = server_url.rstrip("/") + "/api/jupyternaut/config"
        self.api_url = api_url
        self.token = token
        self.log = log
        self.config_path = config_path  # Jupyternaut's config file, which now holds a token: readable by its owner only
        self.published: list[dict[str, Any]] | None = None
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        if self.published and self.config_path:
            # This server's URL and token die with it. Straight to the file: the server takes no more connections.
            try:
                drop_ours(self.config_path)
            except (OSError, ValueError) as err:
                self.log.warning("jupyter-ollama could not take its models out of Jupyter AI's %s: %s", self.config_path, err)

    async def _run(self) -> None:
        failed = False
        while True:
            try:
                await self.sync()
                failed = False
            except Exception as err:  # a background task: say so and try again, never die silently
                if not failed:  # once per outage, not every few seconds
                    self.log.warning("jupyter-ollama could not update Jupyter AI's models: %s", err)
                failed = True
            await asyncio.sleep(SYNC_INTERVAL)

    async def sync(self) -> None:
        """Publish this server's models to Jupyternaut when they differ from what was published last."""
        wanted = custom_models(await asyncio.to_thread(self.list_models), self.api_url, self.token)
        enter_in_litellm(wanted)
        if wanted != self.published:
            await self._publish(wanted)
            self.log.info("jupyter-ollama models in Jupyter AI's chat: %s", ", ".join(e["name"] for e in wanted) or "none")

    async def _publish(self, ours: list[dict[str, Any]]) -> None:
        headers = {"Authorization": f"token {self.token}"}
        async with httpx.AsyncClient(headers=headers, timeout=30) as http:
            response = await http.get(self.config_url)
            response.raise_for_status()
            existing = response.json().get("custom_models") or []
            response = await http.post(self.config_url, json={"custom_models": merged(existing, ours)})
            response.raise_for_status()
        self.published = ours
        if self.config_path and os.path.exists(self.config_path):
            os.chmod(self.config_path, 0o600)
