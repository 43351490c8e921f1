"""Remote models: what routing through jupyter-ollama costs, and what a pool of two engines gives.

Three targets, one at a time, in one run, with the load generator's requests (`loadgen.py`:
greedy, unique counting prompts, streamed `POST /v1/completions`, as a user sends them):

- **engine**: one llama-server (xllamacpp), 8 slots, 2 threads, called directly;
- **routed**: `jupyter-ollama serve` with a remote model on one such engine, called on our `/api/generate`
  with the raw prompt (the engine gets it on its `/v1/completions`, as in the direct calls);
- **pool of 2**: `jupyter-ollama serve` with a remote model on two llama-servers of 4 slots and 1 thread
  each: the same 8 slots and 2 threads in all, split over two processes.

Then the c=1 comparisons, measured closely: one engine behind our server, with `--pairs` requests to
the engine directly and as many through us, one at a time and taking turns, so that both see the
same machine. Levels run minutes apart drift more than routing costs: a p50 over the eight c=1
requests of a level is too coarse for a few milliseconds or percent.

    .venv/bin/python benchmarks/pool.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import os
import signal
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from loadgen import BIN, HERE, PROMPT, Config, Level, Ours, Sample, Target, bench_target, default_model, free_port, one_request, table, wait_quiet


class Engine(Target):
    """llama-server, called directly."""

    name, ready_path = "engine", "/health"
    engine_threads = 2

    def command(self) -> list[str]:
        c = self.cfg
        return [sys.executable, str(HERE / "xllamacpp_server.py"), c.model, str(self.port), "--slots", str(c.slots),
                "--ctx", str(c.ctx), "--threads", str(self.engine_threads)]

    def body(self, prompt: str) -> dict[str, Any]:
        return {**super().body(prompt), "stream_options": {"include_usage": True}}


class Routed(Engine):
    """Our server in front of `engines` llama-servers sharing the slots and threads evenly.

    One shell starts the engines in the background and then becomes our server, so that they are its
    children: the monitor counts their memory and CPU as the target's, and stop() ends them with it.
    """

    name, ready_path, engines = "routed (1 engine)", "/api/version", 1

    def __init__(self, cfg: Config, logdir: Path) -> None:
        super().__init__(cfg, logdir)
        self.engine_urls = [f"http://127.0.0.1:{free_port()}" for _ in range(self.engines)]

    def command(self) -> list[str]:
        c, each = self.cfg, self.engine_threads // self.engines
        engines = " ".join(
            f"sleep infinity | {sys.executable} {HERE / 'xllamacpp_server.py'} {c.model} {url.rsplit(':', 1)[1]} "
            f"--slots {c.slots // self.engines} --ctx {c.ctx} --threads {each} >/dev/null 2>&1 &"
            for url in self.engine_urls)
        return ["sh", "-c", f"{engines} exec {BIN / 'jupyter-ollama'} serve"]

    def env(self) -> dict[str, str]:
        return {**os.environ, "OLLAMA_HOST": f"127.0.0.1:{self.port}", "OLLAMA_REMOTES": "127.0.0.1",
                "OLLAMA_MODELS": tempfile.mkdtemp(prefix="models-", dir=self.logdir)}

    async def prepare(self) -> None:
        async with httpx.AsyncClient(timeout=120) as client:
            for url in self.engine_urls:
                for _ in range(600):
                    with contextlib.suppress(httpx.TransportError):
                        if (await client.get(url + "/health")).status_code == 200:
                            break
                    await asyncio.sleep(0.1)
            body = {"model": "bench", "from": "bench", "remote_host": self.engine_urls, "stream": False}
            (await client.post(self.url + "/api/create", json=body)).raise_for_status()

    # What a user of a remote model sends: our /api/generate with the raw prompt, so the engine reads
    # exactly the tokens the direct requests give it (our /v1/completions applies the chat template,
    # as Ollama's does, which would make the engine read more).
    path = Ours.path
    parse = Ours.parse

    def body(self, prompt: str) -> dict[str, Any]:
        options = {"temperature": 0, "top_k": 1, "repeat_penalty": 1.0, "seed": 0, "num_predict": self.cfg.tokens}
        return {"model": "bench", "prompt": prompt, "raw": True, "stream": True, "options": options}


class Pool(Routed):
    name, engines = "pool of 2 engines", 2


@dataclasses.dataclass
class Pairs:
    """One engine called directly and through our server, one request at a time, taking turns."""

    direct: list[Sample]
    routed: list[Sample]

    @property
    def ttft_added_ms(self) -> float:
        """The median of each pair's difference: what routing adds, with the machine's drift paired out."""
        return statistics.median(r.ttft - d.ttft for d, r in zip(self.direct, self.routed, strict=True)) * 1e3

    @property
    def decode_ratio(self) -> float:
        """The median of each pair's ratio of decode rates (tokens after the first per second)."""
        return statistics.median(r.decode_tps / d.decode_tps for d, r in zip(self.direct, self.routed, strict=True))

    def medians(self) -> str:
        def p50(samples: list[Sample]) -> tuple[float, float]:
            return statistics.median(s.ttft for s in samples) * 1e3, statistics.median(s.decode_tps for s in samples)

        (direct_ms, direct_tps), (routed_ms, routed_tps) = p50(self.direct), p50(self.routed)
        return (f"{len(self.direct)} pairs: p50 direct {direct_ms:.0f} ms, {direct_tps:.1f} tok/s; "
                f"routed {routed_ms:.0f} ms, {routed_tps:.1f} tok/s")


async def taking_turns(cfg: Config, logdir: Path, pairs: int) -> Pairs:
    """The c=1 comparisons, free of the drift between targets run minutes apart on a shared machine."""
    routed = Routed(cfg, logdir)
    direct = Engine(cfg, logdir)
    direct.url = routed.engine_urls[0]  # never started: it only names the engine's URL and request shape
    result = Pairs([], [])
    async with httpx.AsyncClient(timeout=httpx.Timeout(cfg.timeout, connect=10),
                                 limits=httpx.Limits(max_keepalive_connections=0)) as client:
        routed.start()
        try:
            await routed.wait_ready(client)
            await routed.prepare()
            for target in (direct, routed):
                await one_request(client, target, PROMPT.format(i=-1))  # warm: loads the model, opens paths
            for i in range(pairs):
                order = (direct, routed) if i % 2 == 0 else (routed, direct)  # neither always goes first
                for target in order:
                    sample = await one_request(client, target, PROMPT.format(i=2 * i + (target is routed)))
                    (result.routed if target is routed else result.direct).append(sample)
        finally:
            routed.stop()
    return result


def ratio_rows(levels: list[Level], pairs: Pairs) -> str:
    by = {(lv.target, lv.c): lv for lv in levels}
    rows = ["| comparison | value | goal | met |", "|---|---:|---|---|"]

    def row(label: str, value: float, goal: str, met: bool, unit: str = "×") -> None:
        rows.append(f"| {label} | {value:.2f}{unit} | {goal} | {'yes' if met else 'NO'} |")

    e, r, p = Engine.name, Routed.name, Pool.name
    row(f"routed − engine: TTFT added, c=1, median of pairs ({pairs.medians()})", pairs.ttft_added_ms, "≤ 10 ms",
        pairs.ttft_added_ms <= 10, " ms")
    row("routed / engine: decode tok/s per stream, c=1, median of pairs", pairs.decode_ratio, "≥ 0.95×",
        pairs.decode_ratio >= 0.95)
    if (e, 8) in by and (r, 8) in by:
        value = by[r, 8].aggregate_tps / by[e, 8].aggregate_tps
        row("routed / engine: aggregate tok/s, c=8", value, "≥ 0.95×", value >= 0.95)
    if (e, 8) in by and (p, 8) in by:
        value = by[p, 8].aggregate_tps / by[e, 8].aggregate_tps
        row("pool of 2 (1 thread each) / one engine (2 threads): aggregate tok/s, c=8", value, "report", True)
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="c=1,8; 32 tokens; one round")
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=4, help="requests per level = max(rounds * c, 4)")
    ap.add_argument("--pairs", type=int, default=30, help="direct/routed request pairs for the c=1 comparisons")
    args = ap.parse_args()
    tokens, rounds = (32, 1) if args.quick else (args.tokens, args.rounds)
    cfg = Config(default_model(), 1024, 8, None, tokens, [1, 8], rounds, 120, 2, 0.15)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    levels: list[Level] = []
    with tempfile.TemporaryDirectory(prefix="pool-") as tmp:
        for kind in (Engine, Routed, Pool):
            wait_quiet(60)
            print(f"{kind.name}:", file=sys.stderr)
            levels += asyncio.run(bench_target(kind(cfg, Path(tmp))))
        wait_quiet(60)
        print("direct and routed, taking turns:", file=sys.stderr)
        pairs = asyncio.run(taking_turns(cfg, Path(tmp), 4 if args.quick else args.pairs))
    print(f"{datetime.datetime.now():%Y-%m-%d %H:%M} · {os.cpu_count()} CPUs · {Path(cfg.model).name}, "
          f"8 slots and 2 threads in all per target, {tokens} tokens per request, greedy\n\n{table(levels)}\n\n"
          f"{ratio_rows(levels, pairs)}")


if __name__ == "__main__":
    main()
