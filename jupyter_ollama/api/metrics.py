"""`GET /metrics`: Prometheus text through prometheus_client, from a private registry per scrape.

A registry of our own, never the global one: Jupyter's server exports its own metrics on
the global registry, and two servers in one process (tests, a kernel-side server) must
not clash. The numbers are read from the scheduler when scraped (a custom collector).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from ..scheduler.scheduler import Scheduler
from ..scheduler.stats import DURATION_BUCKETS
from ..scheduler.turns import QUEUE_LIMIT, TOKEN_LIMIT

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _family(cls: type, name: str, help: str, labels: list[str], samples: list[tuple[list[str], float]]) -> Metric:
    family = cls(name, help, labels=labels)
    for values, value in samples:
        family.add_metric(values, value)
    return family


class SchedulerCollector(Collector):
    """One scrape: the scheduler's counters plus `models`, the /api/ps entries with slot detail."""

    def __init__(self, scheduler: Scheduler, models: list[dict[str, Any]]) -> None:
        self.scheduler, self.models = scheduler, models

    def collect(self) -> Iterator[Metric]:
        scheduler, models = self.scheduler, self.models
        stats = sorted(scheduler.stats.items())
        per_model = lambda attr: [([name], float(getattr(s, attr))) for name, s in stats]  # noqa: E731
        loaded = [(m["model"], m) for m in models]
        counter, gauge = CounterMetricFamily, GaugeMetricFamily
        # llama.cpp's names where they fit, with a model label (one runner per model here).
        yield _family(counter, "llamacpp:prompt_tokens", "Prompt tokens processed.", ["model"], per_model("prompt_tokens_total"))
        yield _family(counter, "llamacpp:prompt_seconds", "Prompt processing time.", ["model"], per_model("prompt_seconds_total"))
        yield _family(counter, "llamacpp:tokens_predicted", "Generated tokens.", ["model"], per_model("tokens_predicted_total"))
        yield _family(counter, "llamacpp:tokens_predicted_seconds", "Generation time.", ["model"],
                      per_model("tokens_predicted_seconds_total"))
        yield _family(gauge, "llamacpp:requests_processing", "Requests holding a slot.", ["model"],
                      [([m], x["slots_busy"]) for m, x in loaded])
        yield _family(gauge, "llamacpp:requests_deferred", "Requests waiting for a slot.", ["model"],
                      [([m], x["requests_queued"]) for m, x in loaded])
        yield _family(gauge, "llamacpp:kv_cache_tokens", "Tokens held in the KV cache.", ["model"],
                      [([m], sum(s["kv_tokens"] for s in x["slots"])) for m, x in loaded])
        # The scheduler's own.
        yield _family(gauge, "ollama_models_loaded", "Models with a live runner.", [], [([], len(models))])
        yield _family(gauge, "ollama_slots", "Slots per loaded model.", ["model"], [([m], x["slots_total"]) for m, x in loaded])
        yield _family(gauge, "ollama_queue_depth", "Requests waiting for a load or a slot.", [], [([], scheduler.pending)])
        yield _family(gauge, "ollama_queue_capacity", "Waiting requests allowed before 503.", [],
                      [([], scheduler.settings.max_queue)])
        yield _family(gauge, "ollama_requests_waiting_for_memory", "Loads waiting for busy models to free memory.", [],
                      [([], scheduler.waiting_for_memory)])
        yield _family(gauge, "ollama_model_memory_bytes", "Estimated memory of each loaded model.", ["model", "device"],
                      [([m, d], v) for m, x in loaded for d, v in x["memory_by_device"].items()])
        per_device: dict[str, int] = {}
        for x in models:
            for d, v in x["memory_by_device"].items():
                per_device[d] = per_device.get(d, 0) + v
        yield _family(gauge, "ollama_device_memory_used_bytes", "Estimated memory used by loaded models per device.",
                      ["device"], [([d], v) for d, v in sorted(per_device.items())])
        yield _family(gauge, "ollama_device_memory_budget_bytes", "Memory cap per device (OLLAMA_MEMORY_BUDGET).",
                      ["device"], [([d], v) for d, v in sorted(scheduler.settings.memory_budget.items())])
        yield _family(counter, "ollama_model_loads", "Loads per model.", ["model"], per_model("loads_total"))
        yield _family(counter, "ollama_model_evictions", "Evictions to make room, per model.", ["model"],
                      per_model("evictions_total"))
        yield _family(counter, "ollama_prompts_cut", "Prompts longer than the context, cut because the request asked to shift.",
                      ["model"], per_model("prompts_cut_total"))
        yield _family(counter, "ollama_prompt_tokens_dropped", "Prompt tokens dropped from prompts that were cut.", ["model"],
                      per_model("prompt_tokens_dropped_total"))
        yield from prompt_cache_families(stats, [(m, x["prompt_cache"]) for m, x in loaded if x.get("prompt_cache")])
        yield _family(counter, "ollama_model_reloads", "Loads of a model that replaced a loaded instance, by reason.",
                      ["model", "reason"], [([name, reason], n) for name, s in stats for reason, n in sorted(s.reloads_total.items())])
        yield from user_families(scheduler)
        yield from remote_families([(m, x["remote"]) for m, x in loaded if "remote" in x])
        durations = HistogramMetricFamily("ollama_request_duration_seconds", "Time per generate/chat request.",
                                          labels=["model"])
        for name, s in stats:  # the buckets are cumulative already
            buckets = [(repr(float(b)), n) for b, n in zip(DURATION_BUCKETS, s.duration_buckets, strict=False)]
            durations.add_metric([name], [*buckets, ("+Inf", s.requests_total)], s.duration_sum)
        yield durations


def prompt_cache_families(stats: list[tuple[str, Any]], caches: list[tuple[str, dict[str, Any]]]) -> Iterator[Metric]:
    """The prompt cache: per model, restores from each tier and misses (since the server started), tokens restored
    and prompt time saved; and per loaded model, what its tiers hold against their budgets."""
    counter, gauge = CounterMetricFamily, GaugeMetricFamily
    yield _family(counter, "ollama_prompt_cache_hits", "Prompts whose prefix was restored from the prompt cache.",
                  ["model", "tier"], [([name, tier], n) for name, s in stats for tier, n in sorted(s.prompt_cache_hits.items())])
    yield _family(counter, "ollama_prompt_cache_misses", "Prompts to compute for which the prompt cache had nothing.",
                  ["model"], [([name], s.prompt_cache_misses) for name, s in stats])
    yield _family(counter, "ollama_prompt_cache_tokens_restored", "Prompt tokens restored from the prompt cache.", ["model"],
                  [([name], s.prompt_tokens_restored_total) for name, s in stats])
    yield _family(counter, "ollama_prompt_cache_seconds_saved", "Prompt processing the restores saved (estimated).",
                  ["model"], [([name], s.prompt_seconds_saved_total) for name, s in stats])
    yield _family(counter, "ollama_prompt_cache_saves", "Prompts saved into the prompt cache since the model was loaded.",
                  ["model"], [([m], c["saves"]) for m, c in caches])
    yield _family(counter, "ollama_prompt_cache_save_seconds",
                  "Time the engine paused its slots to copy prompts out of llama.cpp, since the model was loaded.",
                  ["model"], [([m], c["save_seconds"]) for m, c in caches])
    yield _family(counter, "ollama_prompt_cache_discarded", "Damaged or mismatched prompt cache entries removed.",
                  ["model"], [([m], c["discarded"]) for m, c in caches])
    for what, text in (("bytes", "Bytes the prompt cache holds"), ("entries", "Prompts the prompt cache holds"),
                       ("budget", "The prompt cache's budget in bytes")):
        yield _family(gauge, f"ollama_prompt_cache_{what}" if what != "budget" else "ollama_prompt_cache_budget_bytes",
                      f"{text}, per loaded model and tier (disk: its model's files; the budget is every model's).",
                      ["model", "tier"], [([m, tier], c[f"{tier}_{what}"]) for m, c in caches for tier in ("ram", "disk")])


def user_families(scheduler: Scheduler) -> Iterator[Metric]:
    """Each requester's usage, labelled by its name (the Hub user's, or the hash of its token, or `anonymous`)."""
    users = sorted(scheduler.users.usage.values(), key=lambda u: u.label)
    counter = CounterMetricFamily
    yield _family(counter, "ollama_user_requests", "Requests that got a slot, per requester.", ["user"],
                  [([u.label], u.requests) for u in users])
    yield _family(counter, "ollama_user_prompt_tokens", "Prompt tokens read, per requester.", ["user"],
                  [([u.label], u.prompt_tokens) for u in users])
    yield _family(counter, "ollama_user_generated_tokens", "Tokens generated, per requester.", ["user"],
                  [([u.label], u.generated_tokens) for u in users])
    yield _family(counter, "ollama_user_requests_refused", "Requests refused (429) by a per-requester limit.",
                  ["user", "limit"], [([u.label, limit], u.refused[limit]) for u in users for limit in (QUEUE_LIMIT, TOKEN_LIMIT)])


def remote_families(pools: list[tuple[str, dict[str, Any]]]) -> Iterator[Metric]:
    """Each remote model's engines: up or down, our requests in flight, and the slots they report."""
    engines = [(model, e) for model, pool in pools for e in pool["engines"]]
    gauge = GaugeMetricFamily
    yield _family(gauge, "ollama_remote_engine_up", "1 when the remote engine answered its last check.",
                  ["model", "host"], [([m, e["host"]], float(e["state"] == "up")) for m, e in engines])
    yield _family(gauge, "ollama_remote_engine_in_flight", "Our requests in flight on the remote engine.",
                  ["model", "host"], [([m, e["host"]], e["in_flight"]) for m, e in engines])
    yield _family(gauge, "ollama_remote_engine_slots", "Slots the remote engine reports (where it does).",
                  ["model", "host"], [([m, e["host"]], e["slots_total"]) for m, e in engines if e["slots_total"] is not None])
    yield _family(gauge, "ollama_remote_engine_slots_busy", "Busy slots the remote engine reports (where it does).",
                  ["model", "host"], [([m, e["host"]], e["slots_busy"]) for m, e in engines if e["slots_busy"] is not None])
    yield _family(CounterMetricFamily, "ollama_remote_engine_failures", "Requests the remote engine failed.",
                  ["model", "host"], [([m, e["host"]], e["failures_total"]) for m, e in engines])
    yield _family(CounterMetricFamily, "ollama_remote_retries", "Requests retried on another engine of the pool.",
                  ["model"], [([m], pool["retries_total"]) for m, pool in pools])


def render_metrics(scheduler: Scheduler, models: list[dict[str, Any]]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SchedulerCollector(scheduler, models))
    return generate_latest(registry)
