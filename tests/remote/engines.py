"""Real remote engines on loopback for the remote-model tests: llama.cpp servers (xllamacpp) and a second `serve`."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import free_port

# llama.cpp's own server embedded by xllamacpp, the script the benchmarks run too.
SCRIPT = Path(__file__).parents[2] / "benchmarks" / "xllamacpp_server.py"


@dataclass
class LlamaServer:
    """One llama-server process; `kill()` ends it at once, as a crash would."""

    url: str
    process: subprocess.Popen

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process.stdin.close()  # type: ignore[union-attr]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()  # type: ignore[union-attr]  # it exits when its stdin closes
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def start_llama_server(gguf: Path, slots: int = 2, port: int | None = None, *extra: str) -> LlamaServer:
    """llama-server with `slots` slots of 1024 tokens on one thread, ready to answer (its /health is ok).

    `extra`: more of its options (`--api-key`, `--metrics`)."""
    port = port or free_port()
    command = [sys.executable, str(SCRIPT), str(gguf), str(port), "--slots", str(slots), "--threads", "1", *extra]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"llama-server exited with {process.returncode}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return LlamaServer(url, process)
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("llama-server did not start")
