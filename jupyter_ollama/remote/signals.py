"""An engine's own capacity signals: how many slots it has, how many are busy, how many requests wait.

Each engine says it its own way; we read what it has:
- jupyter-ollama: `/health`, the model's slots (once the model is loaded there);
- llama-server: `/slots`, each slot with `is_processing`;
- vLLM, SGLang, llama-server with `--metrics`: Prometheus `/metrics`, requests running and waiting;
- Ollama: nothing; requests in flight from here are all we know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

# Prometheus gauges of running and waiting requests, by engine.
RUNNING = ("vllm:num_requests_running", "sglang:num_running_reqs", "llamacpp:requests_processing")
WAITING = ("vllm:num_requests_waiting", "sglang:num_queue_reqs", "llamacpp:requests_deferred")
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eE]+|NaN)")


@dataclass(frozen=True)
class Capacity:
    """What an engine reported; `slots` is None where it does not say how many it has."""

    source: str  # "health", "slots", "metrics"
    busy: int
    waiting: int = 0
    slots: int | None = None


def same_model(a: str, b: str) -> bool:
    """Ollama names with and without `:latest` are one model."""
    return a.removesuffix(":latest") == b.removesuffix(":latest")


def from_health(data: Any, model: str) -> Capacity | None:
    """jupyter-ollama's `/health`: the model's entry, once it is loaded there."""
    if not isinstance(data, dict) or not isinstance(data.get("models"), list):
        return None
    for entry in data["models"]:
        if isinstance(entry, dict) and same_model(str(entry.get("model", "")), model):
            return Capacity("health", int(entry.get("slots_busy") or 0), int(entry.get("requests_queued") or 0),
                            int(entry.get("slots_total") or 0) or None)
    return Capacity("health", 0, int(data.get("requests_queued") or 0))  # up, model not loaded yet: it will load


def from_slots(data: Any) -> Capacity | None:
    """llama-server's `/slots`."""
    if not isinstance(data, list) or not all(isinstance(s, dict) for s in data):
        return None
    return Capacity("slots", sum(1 for s in data if s.get("is_processing")), 0, len(data))


def from_metrics(text: str) -> Capacity | None:
    """Prometheus text with a running-requests gauge we know (summed over its labels)."""
    totals: dict[str, float] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match and (match.group(1) in RUNNING or match.group(1) in WAITING) and match.group(3) != "NaN":
            totals[match.group(1)] = totals.get(match.group(1), 0.0) + float(match.group(3))
    running = [totals[n] for n in RUNNING if n in totals]
    if not running:
        return None
    waiting = [totals[n] for n in WAITING if n in totals]
    return Capacity("metrics", int(running[0]), int(waiting[0]) if waiting else 0)


async def read_capacity(http: httpx.AsyncClient, url: str, api: str, model: str, known: str,
                        headers: dict[str, str]) -> Capacity | None:
    """The engine's capacity by the first signal it answers (`known`: the one that answered last time)."""
    order = ["health"] if api == "ollama" else ["slots", "metrics"]
    if known in order:
        order = [known]
    for source in order:
        path = {"health": "/health", "slots": "/slots", "metrics": "/metrics"}[source]
        response = await http.get(url + path, headers=headers, timeout=3.0)  # unreachable: httpx's error
        if response.status_code != 200:
            continue
        try:
            if source == "health":
                found = from_health(response.json(), model)
            elif source == "slots":
                found = from_slots(response.json())
            else:
                found = from_metrics(response.text)
        except ValueError:
            found = None
        if found is not None:
            return found
    return None
