"""The model manager, built in one place for every mount: the standalone server, the Jupyter
server extension, the kernel-side server and the Hub service.

A manager is the store (models on disk, with their aliases) and the scheduler (loaded
models, slots, memory), with the remote models an admin declared synced into the store.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..store.aliases import ModelAliases
from ..store.declared import parse_declared, sync_declared
from ..store.store import ModelStore
from .scheduler import Scheduler
from .settings import SchedulerSettings

log = logging.getLogger("jupyter_ollama")


@dataclass
class Manager:
    store: ModelStore
    scheduler: Scheduler


def build_manager(models_dir: Path | None = None, settings: SchedulerSettings | None = None,
                  aliases: ModelAliases | None = None, declared: dict[str, Any] | str | None = None) -> Manager:
    """A store at `models_dir` (OLLAMA_MODELS by default) and its scheduler. `declared`: remote models every user
    gets, parsed (a dict) or as OLLAMA_REMOTE_MODELS writes them; a bad declaration is reported, and the manager
    still serves."""
    store = ModelStore(models_dir, aliases)
    try:
        sync_declared(store, declared if isinstance(declared, dict) else parse_declared(declared or ""))
    except ValueError as err:
        log.error("%s", err)
    return Manager(store, Scheduler(store, settings))
