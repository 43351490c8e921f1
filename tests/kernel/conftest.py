"""Real kernels (nbclient) and a real Jupyter server with the extension."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import nbformat
import pytest
from nbclient import NotebookClient

from ..conftest import free_port

# LiteLLM's OLLAMA_API_BASE too: the extension sets it for kernels only where none is set (see jupyter_ai.py).
SERVER_ENV_KEYS = ("OLLAMA_HOST", "OLLAMA_API_KEY", "JUPYTER_OLLAMA_URL", "JUPYTER_OLLAMA_TOKEN", "OLLAMA_API_BASE")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any server pointers, so discovery starts from nothing."""
    env = {k: v for k, v in os.environ.items() if k not in SERVER_ENV_KEYS}
    env.update(extra)
    return env


class RecordingClient(NotebookClient):
    """Keeps every iopub message type per cell, to see streaming happen."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.messages: dict[int, list[str]] = {}

    def process_message(self, msg, cell, cell_index):  # type: ignore[no-untyped-def]
        self.messages.setdefault(cell_index, []).append(msg["msg_type"])
        return super().process_message(msg, cell, cell_index)


def run_notebook(cells: list[str], env: dict[str, str], cwd: Path, timeout: int = 300) -> tuple[nbformat.NotebookNode, RecordingClient]:
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    client = RecordingClient(notebook, timeout=timeout, kernel_name="python3", allow_errors=True,
                             resources={"metadata": {"path": str(cwd)}})
    client.execute(env=env)  # the kernel gets exactly this environment, as a server would hand it
    return notebook, client


def text_of(cell) -> str:  # type: ignore[no-untyped-def]
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif "data" in output:
            data = output.data
            for mime in ("text/markdown", "text/html", "text/plain"):
                if mime in data:
                    parts.append(data[mime])
                    break
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}")
    return "".join(parts)


@dataclass
class JupyterServer:
    url: str  # http://127.0.0.1:PORT/prefix/
    token: str
    models_dir: Path
    process: subprocess.Popen

    @property
    def ollama_url(self) -> str:
        return self.url + "ollama"


def launch_jupyter_server(root: Path, models: Path, base_url: str = "/a%40b/", *args: str) -> JupyterServer:
    """`jupyter server` with the extension under `base_url`, with a token, its config in `root/config`;
    `args`: more command-line options. Returns once the extension answers."""
    port, token = free_port(), secrets.token_hex(16)
    env = clean_env(OLLAMA_MODELS=str(models), JUPYTER_CONFIG_DIR=str(root / "config"), JUPYTER_RUNTIME_DIR=str(root / "runtime"))
    with open(root / "server.log", "w") as log:  # the server writes to its own copy of the handle
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
             f"--IdentityProvider.token={token}", f"--ServerApp.base_url={base_url}", f"--ServerApp.root_dir={root}",
             "--ServerApp.jpserver_extensions={'jupyter_ollama': True}", "--ServerApp.allow_unauthenticated_access=False",
             *args],
            env=env, stdout=subprocess.DEVNULL, stderr=log,
        )
    url = f"http://127.0.0.1:{port}{base_url}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "ollama/api/version", headers={"Authorization": f"token {token}"}, timeout=2).status_code == 200:
                return JupyterServer(url, token, models, process)
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            raise RuntimeError((root / "server.log").read_text())
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("jupyter server did not start: " + (root / "server.log").read_text())


@pytest.fixture(scope="session")
def jupyter_server(tmp_path_factory):
    """`jupyter server` with the extension, under a prefixed base_url, with a token."""
    server = launch_jupyter_server(tmp_path_factory.mktemp("jupyter"), tmp_path_factory.mktemp("jmodels"))
    yield server
    server.process.terminate()
    server.process.wait(timeout=30)
