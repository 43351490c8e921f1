"""The speed goals of issue 14 in one run: every scenario side by side, defaults as users get them.

Runs loadgen.py's targets and scenarios one after another (ours and llama.cpp's server, each
started fresh per scenario, 8 slots each), each pair TRIES times in turn (A B A B: a machine
whose speed drifts by 10% between minutes drifts for both), and keeps each target's faster try
(by aggregate tok/s). Then it measures the KV cache a runner context holds with f16 and q8_0,
and prints every scenario's table and one table of the goals:

    .venv/bin/python benchmarks/goals.py      # about 20 minutes on 2 cores
"""

from __future__ import annotations

import asyncio
import datetime
import importlib.metadata
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import loadgen as lg

TRIES = 2


@dataclass(frozen=True)
class Run:
    label: str
    scenario: str
    ctx: int
    tokens: int
    concurrency: list[int]
    targets: tuple[str, str]
    cpus: str | None = None


RUNS = [
    Run("counting", "count", 1024, 128, [1, 8], ("ours", "native")),
    Run("shared document", "shared-doc", 2048, 16, [8], ("ours", "native")),
    Run("repeat this passage", "repeat", 1024, 128, [1], ("ours", "native")),
    Run("under taskset -c 0", "count", 1024, 128, [1, 8], ("ours", "ours-1-thread"), cpus="0"),
]

# (run, concurrency, metric, label, goal, at most): each ratio is the run's first target over its second.
GOALS = [
    ("counting", 1, "decode_tps", "decode tok/s, one stream", 1.0, False),
    ("counting", 8, "aggregate_tps", "aggregate tok/s, 8 streams", 1.0, False),
    ("counting", 8, "ttft_p50", "median TTFT, 8 streams", 1.0, True),
    ("shared document", 8, "ttft_max", "slowest TTFT, 8 questions on a read document", 0.25, True),
    ("repeat this passage", 1, "decode_tps", "decode tok/s, one stream, repeat this passage", 1.5, False),
    ("under taskset -c 0", 1, "decode_tps", "taskset -c 0: defaults / num_thread 1, decode tok/s", 0.9, False),
    ("under taskset -c 0", 8, "aggregate_tps", "taskset -c 0: defaults / num_thread 1, aggregate", 0.9, False),
]

# A runner's context with 8 slots of 4,096 tokens; the KV cache llama.cpp allocates (and clears, so it is resident).
KV_PROBE = """
import sys, psutil
from jupyter_ollama.runner.llama import LlamaModel
model = LlamaModel(sys.argv[1])
before = psutil.Process().memory_info().rss
ctx = model.new_context(n_ctx=8 * 4096, n_seq_max=8, n_batch=512, threads=(1, 1), kv_cache_type=sys.argv[2])
print(psutil.Process().memory_info().rss - before)
"""


def measure(run: Run, model: str, tmp: Path) -> list[lg.Level]:
    cfg = lg.Config(model, run.ctx, 8, None, run.tokens, run.concurrency, 2, 180, 3, 0.10, run.scenario)
    lg.Target.cpus = run.cpus
    best: dict[tuple[str, int], lg.Level] = {}
    for attempt in range(TRIES):
        for key in run.targets:
            lg.wait_quiet(60)
            print(f"{run.label}: {key}, try {attempt + 1}", file=sys.stderr)
            target = lg.TARGETS[key](cfg, tmp)
            try:
                for level in asyncio.run(lg.bench_target(target)):
                    kept = best.get((level.target, level.c))
                    if kept is None or level.aggregate_tps > kept.aggregate_tps:
                        best[level.target, level.c] = level
            finally:
                target.stop()
    return list(best.values())


def kv_bytes(model: str, kv_type: str) -> int:
    probe = subprocess.run([sys.executable, "-c", KV_PROBE, model, kv_type], capture_output=True, text=True, check=True)
    return int(probe.stdout.strip().splitlines()[-1])


def goal_rows(results: dict[str, list[lg.Level]], runs: dict[str, Run]) -> list[str]:
    rows = ["| goal | ratio | target | met |", "|---|---:|---|---|"]
    for label, c, metric, what, goal, most in GOALS:
        first, second = runs[label].targets
        by = {(lv.target, lv.c): lv for lv in results[label]}
        a, b = by[lg.TARGETS[first].name, c], by[lg.TARGETS[second].name, c]
        value = getattr(a, metric) / getattr(b, metric)
        met = value <= goal if most else value >= goal
        who = "ours / native" if second == "native" else ""
        rows.append(f"| {who + ': ' if who else ''}{what} | {value:.2f}× | {'≤' if most else '≥'} {goal}× | "
                    f"{'yes' if met else 'NO'} |")
    return rows


def main() -> None:
    model = lg.default_model()
    runs = {run.label: run for run in RUNS}
    results: dict[str, list[lg.Level]] = {}
    with tempfile.TemporaryDirectory(prefix="goals-") as tmp:
        for run in RUNS:
            results[run.label] = measure(run, model, Path(tmp))
    f16, q8 = kv_bytes(model, "f16"), kv_bytes(model, "q8_0")
    versions = ", ".join(f"{d} {importlib.metadata.version(d)}" for d in ("jupyter-ollama", "llama_cpp_python", "xllamacpp"))
    out = [f"{datetime.datetime.now():%Y-%m-%d %H:%M} · {os.cpu_count()} CPUs · {versions}",
           f"{Path(model).name}, default threads, 8 slots on every target, greedy; each target's faster of "
           f"{TRIES} alternating tries", ""]
    for run in RUNS:
        out += [f"**{run.label}** ({run.ctx} context per slot, {run.tokens} tokens per request"
                f"{f', every target under taskset -c {run.cpus}' if run.cpus else ''})", "",
                lg.table(results[run.label]), ""]
    out += goal_rows(results, runs)
    out.append(f"| q8_0 / f16 KV cache resident in a runner context (8 × 4,096 tokens: {q8 / lg.MIB:.0f} / "
               f"{f16 / lg.MIB:.0f} MiB) | {q8 / f16:.2f}× | about 0.5× | {'yes' if 0.45 <= q8 / f16 <= 0.6 else 'NO'} |")
    print("\n".join(out))


if __name__ == "__main__":
    main()
