"""What a load asks for (`LoadRequest`), and why a loaded model is loaded again (`Reload`).

Ollama's `needsReload` (server/sched.go) reloads a model whenever a request's runner options
differ from the loaded ones, so clients with other options take turns reloading it. Here a
loaded instance has a shape (context per slot, slots, batch, KV type, GPU layers, mmap), set at
load from the request over the Modelfile over the environment, and the scheduler serves every
request that fits it: a smaller `num_ctx` runs in the larger slot, other load options apply at
the next load. Only a larger `num_ctx`, or a changed model, loads it again (scheduler.py says when).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from ..runners.protocol import LoadConfig
from .cpus import Threads
from .placement import Plan

# The reasons a loaded model is loaded again: the label of /metrics' ollama_model_reloads_total.
GROWN = "num_ctx"  # a request asked for more context than the slots have, and nothing was running
MODEL_CHANGED = "model_changed"  # the model was created again under its name (another manifest)
RUNNER_EXITED = "runner_exited"  # its runner died (a crash in llama.cpp); the next request loaded it again
RELOAD_REASONS = (GROWN, MODEL_CHANGED, RUNNER_EXITED)


@dataclass(frozen=True)
class LoadRequest:
    """One model's files and the shape of an instance: the request's options over the Modelfile's over defaults."""

    model_path: str
    draft_path: str | None
    projector_path: str | None
    num_ctx: int  # tokens per slot, capped at the model's training context
    num_parallel: int  # slots
    num_batch: int
    num_gpu: int  # layers on the GPUs; -1: as many as fit
    main_gpu: int | None
    use_mmap: bool | None
    kv_cache_type: str
    flash_attention: bool | None

    def grown(self, num_ctx: int) -> LoadRequest:
        return replace(self, num_ctx=max(self.num_ctx, num_ctx))

    def load_config(self, plan: Plan, threads: Threads, gpu_ids: list[str] | None) -> LoadConfig:
        """What the runner gets: this shape, placed by `plan` (its layers and GPUs), with `threads`."""
        return LoadConfig(
            model_path=self.model_path, num_ctx=self.num_ctx, num_parallel=self.num_parallel, num_batch=self.num_batch,
            num_gpu=plan.layers, gpu_ids=gpu_ids, tensor_split=list(plan.tensor_split), main_gpu=plan.main_gpu,
            use_mmap=self.use_mmap, threads=threads.decode, threads_batch=threads.batch,
            kv_cache_type=self.kv_cache_type, flash_attention=self.flash_attention,
            draft_model_path=self.draft_path, projector_path=self.projector_path,
        )


@dataclass(frozen=True)
class Reload:
    """Why an instance replaced the one before it (/api/ps `last_reload`): `kind` is one of RELOAD_REASONS."""

    kind: str
    reason: str
    at: float = field(default_factory=time.time)
