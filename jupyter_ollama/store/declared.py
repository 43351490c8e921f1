"""Remote models an admin declares once for every user's server: `c.JupyterOllama.remote_models`,
or OLLAMA_REMOTE_MODELS for `serve` (inline JSON or the path of a JSON file).

Each entry is a create request without `model`: the name on the engines (`from`), the engines
(`remote_host`: a URL or a list), and optionally `system`, `template`, `parameters`, `messages`.
At start they are written into the store as remote models, marked declared, so every client
lists and uses them like any other; a declared model no longer declared is removed. Their
hosts need no OLLAMA_REMOTES entry: declaring them is the admin's choice.

    {"team-llama": {"from": "meta-llama/Llama-3.1-70B-Instruct",
                    "remote_host": [{"host": "http://vllm-0:8000", "api": "openai"}]}}
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from ..errors import OllamaError
from .create import ModelCreator
from .model import LocalModel
from .store import ModelStore

log = logging.getLogger("jupyter_ollama")


def parse_declared(text: str) -> dict[str, dict[str, Any]]:
    """OLLAMA_REMOTE_MODELS as written: a JSON object, or the path of a file holding one."""
    text = text.strip()
    if not text:
        return {}
    if not text.startswith("{"):
        try:
            text = Path(text).expanduser().read_text()
        except OSError as err:
            raise ValueError(f"OLLAMA_REMOTE_MODELS: cannot read {text}: {err.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError as err:
        raise ValueError(f"OLLAMA_REMOTE_MODELS is not JSON: {err}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError('OLLAMA_REMOTE_MODELS must be an object of {"name": {"from": ..., "remote_host": ...}}')
    return data


def sync_declared(store: ModelStore, declared: dict[str, dict[str, Any]]) -> list[str]:
    """Write every declared model into the store and remove those no longer declared; the names written.

    A declaration that is wrong is logged and skipped: it must not keep the server from starting."""
    written = []
    for name, spec in declared.items():
        try:
            ModelCreator(store, lambda _: None).create({**spec, "model": name, "stream": False}, declared=True)
            written.append(name)
        except OllamaError as err:
            log.error("declared remote model %r not created: %s", name, err.message)
    keep = {str(m.name) for m in (store.find(n) for n in written) if m is not None}
    for stored in store.manifests.all():
        model = LocalModel(stored, store.blobs)
        try:
            stale = model.declared and str(model.name) not in keep
        except (OSError, ValueError):
            continue
        if stale:
            store.delete(model.name.display())
            log.info("declared remote model %s removed: no longer declared", model.name.display())
    return written
