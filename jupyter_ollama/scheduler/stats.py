"""Per-model counters the scheduler keeps for /api/ps, /health and /metrics."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from .shape import RELOAD_REASONS

# Request duration buckets in seconds, for the Prometheus histogram.
DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


@dataclass
class ModelStats:
    requests_total: int = 0
    prompt_tokens_total: int = 0
    prompt_seconds_total: float = 0.0
    tokens_predicted_total: int = 0
    tokens_predicted_seconds_total: float = 0.0
    loads_total: int = 0  # every load, the first and the reloads
    reloads_total: Counter[str] = field(default_factory=lambda: Counter({reason: 0 for reason in RELOAD_REASONS}))
    evictions_total: int = 0
    prompts_cut_total: int = 0  # prompts longer than the slot, cut because the request asked to shift
    prompt_tokens_dropped_total: int = 0
    # The prompt cache: requests whose prompt was restored from RAM or disk, those it had nothing for, the tokens
    # restored and the prompt processing that saved (estimated by the runner from its own prefill speed).
    prompt_cache_hits: dict[str, int] = field(default_factory=lambda: {"ram": 0, "disk": 0})
    prompt_cache_misses: int = 0
    prompt_tokens_restored_total: int = 0
    prompt_seconds_saved_total: float = 0.0
    duration_buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))
    duration_sum: float = 0.0
    # (tokens, seconds) of the last requests, for a "recent tokens/s" that moves with load.
    recent: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=16))

    def record(self, prompt_tokens: int, prompt_ns: int, eval_tokens: int, eval_ns: int, total_ns: int) -> None:
        self.requests_total += 1
        self.prompt_tokens_total += prompt_tokens
        self.prompt_seconds_total += prompt_ns / 1e9
        self.tokens_predicted_total += eval_tokens
        self.tokens_predicted_seconds_total += eval_ns / 1e9
        seconds = total_ns / 1e9
        self.duration_sum += seconds
        for i, bound in enumerate(DURATION_BUCKETS):
            if seconds <= bound:
                self.duration_buckets[i] += 1
        if eval_tokens and eval_ns:
            self.recent.append((eval_tokens, eval_ns / 1e9))

    def record_cache(self, tier: str, restored: int, saved_ns: int) -> None:
        """One request's use of the prompt cache (the runner's Done: prompt_cache, prompt_restored, prompt_cache_saved)."""
        if tier in self.prompt_cache_hits:
            self.prompt_cache_hits[tier] += 1
            self.prompt_tokens_restored_total += restored
            self.prompt_seconds_saved_total += saved_ns / 1e9
        elif tier == "miss":
            self.prompt_cache_misses += 1

    @property
    def recent_tokens_per_second(self) -> float:
        tokens = sum(t for t, _ in self.recent)
        seconds = sum(s for _, s in self.recent)
        return round(tokens / seconds, 2) if seconds else 0.0
