"""The scheduler's settings, from Ollama's environment variables (and Jupyter traits later)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from .. import envconfig
from .durations import default_keep_alive

_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
          "ki": 2**10, "kib": 2**10, "mi": 2**20, "mib": 2**20, "gi": 2**30, "gib": 2**30, "ti": 2**40, "tib": 2**40}


def parse_size(text: str) -> int:
    """`8GiB`, `512MB`, `1.5G` or plain bytes."""
    match = _SIZE.fullmatch(text)
    if match is None or (match.group(2) or "").lower() not in _UNITS:
        raise ValueError(f"invalid size {text!r}: use e.g. 8GiB, 512MB or a number of bytes")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "").lower()])


def size_setting(name: str, text: str, default: str) -> int:
    """A size from an environment variable; a malformed one is logged and the default taken (as Ollama ignores one)."""
    try:
        return parse_size(text)
    except ValueError as err:
        logging.getLogger("jupyter_ollama").warning("%s: %s; using %s", name, err, default)
        return parse_size(default)


def parse_budget(text: str | None) -> dict[str, int]:
    """A memory cap per device: `8GiB` (every device) or `cpu=8GiB,gpu0=20GiB`. `*` is every device."""
    budget: dict[str, int] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        device, sep, size = part.rpartition("=")
        budget[device.strip().lower() if sep else "*"] = parse_size(size)
    return budget


def parse_weights(text: str | None) -> dict[str, float]:
    """Turns per group: `teachers=4,students=1`. A part that is not `name=positive number` is skipped, and said."""
    weights: dict[str, float] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        group, sep, value = part.partition("=")
        try:
            weight = float(value) if sep and group.strip() else 0.0
        except ValueError:
            weight = 0.0
        if weight > 0 and weight != float("inf"):
            weights[group.strip()] = weight
        else:
            logging.getLogger("jupyter_ollama").warning("OLLAMA_GROUP_WEIGHTS: %r is not group=weight; left out", part)
    return weights


@dataclass
class SchedulerSettings:
    # Each slot has the full context, so memory grows with both (see /api/show and /api/ps).
    num_parallel: int = field(default_factory=envconfig.num_parallel)
    max_loaded_models: int = field(default_factory=envconfig.max_loaded_models)
    max_queue: int = field(default_factory=envconfig.max_queue)
    context_length: int = field(default_factory=envconfig.context_length)
    keep_alive: float | None = field(default_factory=default_keep_alive)
    memory_budget: dict[str, int] = field(default_factory=lambda: parse_budget(envconfig.memory_budget()))
    # 0 = fit the machine (see cpus.py); a number is every runner's default, shared like the automatic one.
    num_thread: int = field(default_factory=envconfig.num_thread)
    kv_cache_type: str = field(default_factory=envconfig.kv_cache_type)
    flash_attention: bool | None = field(default_factory=envconfig.flash_attention)
    # The prompt cache (runner/prompt_cache.py): RAM per loaded model (at most its KV cache's size, see memory.py)
    # and the cap of its folder on disk, every model's together. 0 turns a tier off.
    prompt_cache_ram: int = field(default_factory=lambda: size_setting(
        "OLLAMA_PROMPT_CACHE_RAM", envconfig.prompt_cache_ram(), envconfig.PROMPT_CACHE_RAM))
    prompt_cache_disk: int = field(default_factory=lambda: size_setting(
        "OLLAMA_PROMPT_CACHE_DISK", envconfig.prompt_cache_disk(), envconfig.PROMPT_CACHE_DISK))
    # Per requester (scheduler/turns.py); 0 is no limit. Slots past the cap wait, the other two answer 429.
    user_max_slots: int = field(default_factory=envconfig.user_max_slots)
    user_max_queue: int = field(default_factory=envconfig.user_max_queue)
    user_tokens_per_hour: int = field(default_factory=envconfig.user_tokens_per_hour)
    group_weights: dict[str, float] = field(default_factory=lambda: parse_weights(envconfig.group_weights()))

    @property
    def effective_kv_cache_type(self) -> str:
        """A quantized cache needs flash attention: switched off, the cache stays f16 (as Ollama does)."""
        return "f16" if self.flash_attention is False else self.kv_cache_type

    def budget_for(self, device_key: str) -> int | None:
        return self.memory_budget.get(device_key, self.memory_budget.get("*"))
