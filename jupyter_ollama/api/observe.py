"""Seeing the capacity: `/api/ps`, `/health` (llama.cpp style), `/metrics` (Prometheus), `/api/system` (devices)."""

from __future__ import annotations

from typing import Any

from ..scheduler import report, system
from ..scheduler.scheduler import Scheduler
from ..scheduler.stats import DURATION_BUCKETS
from .base import OllamaHandler


class PsHandler(OllamaHandler):
    async def get(self) -> None:
        self.write_json({"models": await report.running(self.scheduler), "queue": report.queue(self.scheduler)})


class HealthHandler(OllamaHandler):
    """200 with slot states; `?fail_on_no_slot` answers 503 when every loaded slot is busy."""

    async def get(self) -> None:
        body = await report.health(self.scheduler)
        status = 200
        # Busy means every slot of every loaded model is taken; with nothing loaded, a request would load one.
        if self.get_argument("fail_on_no_slot", None) is not None and body["models"] and body["slots_idle"] == 0:
            body["status"] = "no slot available"
            status = 503
        self.write_json(body, status)


class SystemHandler(OllamaHandler):
    """GPUs (NVML), RAM and CPU of the server's machine, with each loaded model's share (`wire.SystemInfo`)."""

    async def get(self) -> None:
        self.write_json(await system.system_info(self.scheduler))


class MetricsHandler(OllamaHandler):
    async def get(self) -> None:
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.finish(render_metrics(self.scheduler, await report.running(self.scheduler)))


class Exposition:
    """Prometheus text format, written by hand: a few families, no global registry to clash with Jupyter's."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help: str, samples: list[tuple[dict[str, str], float]]) -> None:
        self.lines += [f"# HELP {name} {help}", f"# TYPE {name} {kind}"]
        for labels, value in samples:
            self.lines.append(f"{name}{_labels(labels)} {_number(value)}")

    def histogram(self, name: str, help: str, series: list[tuple[dict[str, str], list[int], float, int]]) -> None:
        """Cumulative buckets, then _sum and _count, per label set."""
        self.lines += [f"# HELP {name} {help}", f"# TYPE {name} histogram"]
        for labels, buckets, total, count in series:
            for bound, n in zip(DURATION_BUCKETS, buckets):
                self.lines.append(f"{name}_bucket{_labels({**labels, 'le': _number(bound)})} {n}")
            self.lines.append(f"{name}_bucket{_labels({**labels, 'le': '+Inf'})} {count}")
            self.lines.append(f"{name}_sum{_labels(labels)} {_number(total)}")
            self.lines.append(f"{name}_count{_labels(labels)} {count}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    escaped = (f'{k}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34)).replace(chr(10), chr(92) + "n")}"' for k, v in labels.items())
    return "{" + ",".join(escaped) + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def render_metrics(scheduler: Scheduler, models: list[dict[str, Any]]) -> str:
    out = Exposition()
    stats = sorted(scheduler.stats.items())
    per_model = lambda attr: [({"model": name}, getattr(s, attr)) for name, s in stats]  # noqa: E731
    busy = {m["model"]: m for m in models}
    # llama.cpp's names where they fit, with a model label (one runner per model here).
    out.family("llamacpp:prompt_tokens_total", "counter", "Prompt tokens processed.", per_model("prompt_tokens_total"))
    out.family("llamacpp:prompt_seconds_total", "counter", "Prompt processing time.", per_model("prompt_seconds_total"))
    out.family("llamacpp:tokens_predicted_total", "counter", "Generated tokens.", per_model("tokens_predicted_total"))
    out.family("llamacpp:tokens_predicted_seconds_total", "counter", "Generation time.", per_model("tokens_predicted_seconds_total"))
    out.family("llamacpp:requests_processing", "gauge", "Requests holding a slot.", [({"model": m}, x["slots_busy"]) for m, x in busy.items()])
    out.family("llamacpp:requests_deferred", "gauge", "Requests waiting for a slot.", [({"model": m}, x["requests_queued"]) for m, x in busy.items()])
    out.family("llamacpp:kv_cache_tokens", "gauge", "Tokens held in the KV cache.", [({"model": m}, sum(s["kv_tokens"] for s in x["slots"])) for m, x in busy.items()])
    # The scheduler's own.
    out.family("ollama_models_loaded", "gauge", "Models with a live runner.", [({}, len(models))])
    out.family("ollama_slots", "gauge", "Slots per loaded model.", [({"model": m}, x["slots_total"]) for m, x in busy.items()])
    out.family("ollama_queue_depth", "gauge", "Requests waiting for a load or a slot.", [({}, scheduler.pending)])
    out.family("ollama_queue_capacity", "gauge", "Waiting requests allowed before 503.", [({}, scheduler.settings.max_queue)])
    out.family("ollama_requests_waiting_for_memory", "gauge", "Loads waiting for busy models to free memory.", [({}, scheduler.waiting_for_memory)])
    out.family("ollama_model_memory_bytes", "gauge", "Estimated memory of each loaded model.", [({"model": m, "device": x["device"]}, x["size"]) for m, x in busy.items()])
    device_totals: dict[str, int] = {}
    for x in models:
        device_totals[x["device"]] = device_totals.get(x["device"], 0) + x["size"]
    out.family("ollama_device_memory_used_bytes", "gauge", "Estimated memory used by loaded models per device.", [({"device": d}, v) for d, v in sorted(device_totals.items())])
    budgets = [({"device": d}, v) for d, v in sorted(scheduler.settings.memory_budget.items())]
    out.family("ollama_device_memory_budget_bytes", "gauge", "Memory cap per device (OLLAMA_MEMORY_BUDGET).", budgets)
    out.family("ollama_model_loads_total", "counter", "Loads per model.", per_model("loads_total"))
    out.family("ollama_model_evictions_total", "counter", "Evictions to make room, per model.", per_model("evictions_total"))
    out.histogram("ollama_request_duration_seconds", "Time per generate/chat request.",
                  [({"model": name}, s.duration_buckets, s.duration_sum, s.requests_total) for name, s in stats])
    return out.text()


def observe_routes() -> list[tuple[str, type, dict[str, Any]]]:
    return [(r"api/ps", PsHandler, {}), (r"health", HealthHandler, {}), (r"metrics", MetricsHandler, {}),
            (r"api/system", SystemHandler, {})]
