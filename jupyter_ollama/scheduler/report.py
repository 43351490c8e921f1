"""What the scheduler shows: /api/ps entries, /health, and the numbers /metrics exports.

The runner knows each slot's state and KV use; the manager knows slots held,
requests queued, memory and placement. A report asks every runner for its
slots (a loopback call each) and merges the two views.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ..runners.protocol import RunnerHealth
from ..store.model import rfc3339
from .remotes import RemoteLoaded
from .scheduler import Loaded, Scheduler
from .turns import Requester

FAR_FUTURE = 292 * 365 * 86400  # Go's "forever" keep-alive, ~292 years out


async def runner_health(loaded: Loaded) -> RunnerHealth | None:
    """Each slot's state and tokens in its KV cache, and its counters; None if the runner cannot answer right now."""
    try:
        return await asyncio.wait_for(loaded.runner.health(), timeout=5)
    except Exception:  # a runner that is dying is reported without slot detail
        return None


def expires_at(loaded: Loaded) -> float:
    if loaded.expires_at is not None:
        return loaded.expires_at
    # Busy now: when it would expire if its requests ended now, as Ollama shows it.
    return time.time() + (FAR_FUTURE if loaded.keep_alive is None else loaded.keep_alive)


def ordered(scheduler: Scheduler) -> list[Loaded]:
    """Loaded models, longest remaining time first (Ollama's order)."""
    return sorted(scheduler.loaded.values(), key=lambda x: -expires_at(x))


def entry(scheduler: Scheduler, loaded: Loaded) -> dict[str, Any]:
    model, memory = loaded.model, loaded.memory
    name = model.name.display()
    return {
        "name": name,
        "model": name,
        "size": loaded.size,
        "size_vram": loaded.size_vram,
        "digest": model.manifest_digest,
        "details": model.details(),
        "expires_at": rfc3339(expires_at(loaded)),
        "context_length": loaded.shape.num_ctx,
        # Our additions: what a deployment needs to see, which Ollama hides.
        "device": loaded.device_key,
        "placement": placement(loaded),
        "memory_by_device": loaded.memory_by_device,
        "slots_total": loaded.num_parallel,
        "slots_busy": loaded.busy,
        "requests_queued": loaded.queued,
        "memory": {"weights": memory.weights, "kv_cache": memory.kv_cache, "compute": memory.compute,
                   "prompt_cache": memory.prompt_cache},
        "tokens_per_second": scheduler.stats_for(model).recent_tokens_per_second,
        "threads": {"decode": loaded.threads.decode, "batch": loaded.threads.batch},
        "kv_cache_type": loaded.shape.kv_cache_type,
        "last_reload": last_reload(loaded),
        **draft(loaded),
        "prompt_cache": prompt_cache(scheduler, loaded),
    }


def last_reload(loaded: Loaded) -> dict[str, Any] | None:
    """Why this instance replaced the one before it (None for a model loaded afresh)."""
    reload = loaded.reload
    return None if reload is None else {"reason": reload.reason, "kind": reload.kind, "at": rfc3339(reload.at)}


def yours(scheduler: Scheduler, loaded: Loaded, requester: Requester) -> dict[str, Any]:
    """The asking requester's share of a model: slots it holds, requests it has waiting, and where the first
    of those stands in the turns (1: next; None when none waits)."""
    return {"busy": loaded.holders.get(requester.key, 0), "queued": loaded.queue.count(requester.key),
            "position": scheduler.position(loaded, requester)}


def draft(loaded: Loaded, health: RunnerHealth | None = None) -> dict[str, Any]:
    """`{"draft": ...}` for a model with a draft model (Modelfile DRAFT): its blob, its memory, how its guesses did."""
    layer = loaded.model.draft_layer
    if layer is None:
        return {}
    out: dict[str, Any] = {"digest": layer.digest, "size": loaded.memory.draft}
    if health is not None:
        out.update(tokens_drafted=health.tokens_drafted_total, tokens_accepted=health.tokens_draft_accepted_total)
        if health.draft_error:
            out["error"] = health.draft_error
    return {"draft": out}


CACHE_FIELDS = ("ram_budget", "ram_bytes", "ram_entries", "disk_budget", "disk_bytes", "disk_entries", "saves",
                "discarded")


def prompt_cache(scheduler: Scheduler, loaded: Loaded, health: RunnerHealth | None = None) -> dict[str, Any]:
    """The prompt cache of a loaded model: its RAM tier (budget, bytes and entries held), its entries on disk, and
    since the load the prompts saved, the time that took on the engine thread, and the damaged entries removed.

    Without the runner's word, the budgets alone; a runner that keeps no cache (a recurrent model) says 0 for all."""
    if health is None:
        return {"ram_budget": loaded.memory.prompt_cache, "disk_budget": scheduler.settings.prompt_cache_disk,
                **{key: 0 for key in CACHE_FIELDS if not key.endswith("budget")}, "save_seconds": 0.0}
    report = health.prompt_cache
    return {**{key: int(report.get(key) or 0) for key in CACHE_FIELDS},
            "save_seconds": round(float(report.get("save_seconds") or 0.0), 6)}


def placement(loaded: Loaded) -> dict[str, Any]:
    """Where its layers are and why; per GPU the estimate and what NVML measured at load."""
    plan = loaded.plan
    return {
        "gpu_layers": plan.layers,
        "layers": plan.total_layers,
        "reason": plan.reason,
        "ram": plan.ram,
        "gpus": [{"index": g.index, "layers": g.layers, "estimated": g.size, "measured": loaded.measured_vram.get(g.index)}
                 for g in plan.gpus],
    }


def remote_entry(scheduler: Scheduler, held: RemoteLoaded) -> dict[str, Any]:
    """A remote model in /api/ps: no memory here; its pool's engines, each up or down, with their capacity.

    `slots_total` is the engines' slots where every engine up says how many it has, else 0 (unknown);
    `slots_busy` counts our requests in flight now plus others' as the engines last reported them."""
    model, pool = held.model, held.runner.describe()
    name = model.name.display()
    return {
        "name": name,
        "model": name,
        "size": 0,
        "size_vram": 0,
        "digest": model.manifest_digest,
        "details": model.details(),
        "expires_at": rfc3339(time.time() + FAR_FUTURE),
        "context_length": 0,
        "remote_model": model.remote_model,
        "remote_host": model.config.get("remote_host", ""),
        "device": "remote",
        "memory_by_device": {},
        "slots_total": pool["slots_total"] or 0,
        "slots_busy": pool["slots_busy"],
        "requests_queued": pool["requests_waiting"],
        "memory": {"weights": 0, "kv_cache": 0, "compute": 0, "prompt_cache": 0},
        "tokens_per_second": scheduler.stats_for(model).recent_tokens_per_second,
        "remote": pool,
    }


def remotes(scheduler: Scheduler) -> list[dict[str, Any]]:
    return [remote_entry(scheduler, held) for held in sorted(scheduler.remote.pools.values(), key=lambda x: x.key)]


def summary(scheduler: Scheduler) -> list[dict[str, Any]]:
    """`/api/ps` entries from the manager's own view."""
    return [entry(scheduler, x) for x in ordered(scheduler)] + remotes(scheduler)


async def running(scheduler: Scheduler, requester: Requester | None = None) -> list[dict[str, Any]]:
    """`summary` plus each slot's state and KV use, asked of the runners; remote models after local ones.
    With `requester`, each local model also says what is theirs (`you`)."""
    models = ordered(scheduler)
    healths = await asyncio.gather(*(runner_health(x) for x in models))
    await scheduler.remote.prune(scheduler.store)
    return [
        {**entry(scheduler, loaded), **draft(loaded, health),
         **({"prompt_cache": prompt_cache(scheduler, loaded, health)} if health else {}), "slots": [
            {"id": s.id, "state": s.state, "n_ctx": loaded.shape.num_ctx, "kv_tokens": s.n_past}
            for s in (health.slots if health else [])
        ], **({"you": yours(scheduler, loaded, requester)} if requester is not None else {})}
        for loaded, health in zip(models, healths, strict=False)
    ] + [{**x, "slots": []} for x in remotes(scheduler)]


def queue(scheduler: Scheduler) -> dict[str, int]:
    return {
        "waiting": scheduler.pending,
        "waiting_for_memory": scheduler.waiting_for_memory,
        "capacity": scheduler.settings.max_queue,
    }


async def health(scheduler: Scheduler) -> dict[str, Any]:
    """llama.cpp-style readiness with every loaded model's slots."""
    models = await running(scheduler)
    return {
        "status": "ok",
        "slots_idle": sum(max(0, m["slots_total"] - m["slots_busy"]) for m in models),
        "slots_processing": sum(m["slots_busy"] for m in models),
        "requests_queued": sum(m["requests_queued"] for m in models) + scheduler.waiting_for_memory,
        "models": [
            {"model": m["model"], "slots_total": m["slots_total"], "slots_busy": m["slots_busy"],
             "requests_queued": m["requests_queued"], "slots": m["slots"],
             **({"remote": m["remote"]} if "remote" in m else {})}
            for m in models
        ],
    }
