"""Remote models in the scheduler: one `RemotePool` per model, started at its first request.

A remote model takes no memory here and has no slots of ours: capacity is its engines'.
Its pool lives while the server runs, checking its engines in the background, and is
replaced when the model is created again (another manifest) or dropped when it is deleted.
The OLLAMA_REMOTES allowlist is checked at every request, as Ollama does, except for the
models an admin declared (their hosts are the admin's choice).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from .. import envconfig
from ..remote import RemotePool
from ..store.model import LocalModel
from ..store.remote_hosts import check_allowed, engines_of
from ..store.store import ModelStore


@dataclass
class RemoteLoaded:
    """A remote model with a live pool; `runner` is its `Runner`, as a local model's is."""

    model: LocalModel
    runner: RemotePool

    @property
    def key(self) -> str:
        return str(self.model.name)


class RemoteModels:
    def __init__(self) -> None:
        self.pools: dict[str, RemoteLoaded] = {}
        self._lock = asyncio.Lock()

    async def get(self, model: LocalModel) -> RemoteLoaded:
        engines = engines_of(model.config)
        if not model.declared:
            check_allowed(engines)
        async with self._lock:
            held = self.pools.get(str(model.name))
            if held is not None and held.model.manifest_digest == model.manifest_digest and held.runner.alive:
                return held
            if held is not None:
                await self._drop(held)
            pool = RemotePool(model.remote_model, engines, envconfig.remote_check_interval())
            await pool.start()
            held = RemoteLoaded(model, pool)
            self.pools[held.key] = held
            return held

    async def unload(self, model: LocalModel) -> None:
        """keep_alive 0: stop checking its engines and leave /api/ps; the next request starts the pool again."""
        async with self._lock:
            held = self.pools.get(str(model.name))
            if held is not None:
                await self._drop(held)

    async def prune(self, store: ModelStore) -> None:
        """Drop pools whose model was deleted or created again (the next request starts a new one)."""
        for held in list(self.pools.values()):
            current = await asyncio.to_thread(store.find, held.model.name)
            if current is None or current.manifest_digest != held.model.manifest_digest:
                async with self._lock:
                    if self.pools.get(held.key) is held:
                        await self._drop(held)

    async def _drop(self, held: RemoteLoaded) -> None:
        self.pools.pop(held.key, None)
        await held.runner.stop()

    async def shutdown(self) -> None:
        for held in list(self.pools.values()):
            await self._drop(held)
