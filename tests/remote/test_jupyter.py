"""A JupyterHub admin's setup: a pool declared once in the Jupyter server's config, used from a notebook unchanged."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import ollama
import pytest

from tests.conftest import free_port
from tests.kernel.conftest import clean_env, run_notebook, text_of
from tests.remote.engines import LlamaServer, start_llama_server

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def cluster(smollm2_gguf: Path) -> Iterator[LlamaServer]:
    engine = start_llama_server(smollm2_gguf, slots=2)
    yield engine
    engine.stop()


@pytest.fixture(scope="module")
def hub_server(tmp_path_factory: pytest.TempPathFactory, cluster: LlamaServer) -> Iterator[tuple[str, str]]:
    """`jupyter server` whose config declares `team` on the cluster (no OLLAMA_REMOTES: declaring is allowing)."""
    root = tmp_path_factory.mktemp("hub")
    (root / "config").mkdir()
    declared = {"team": {"from": "smollm2", "remote_host": [{"host": cluster.url, "api": "openai"}]}}
    (root / "config" / "jupyter_server_config.py").write_text(f"c.JupyterOllama.remote_models = {json.dumps(declared)}\n")
    port, token = free_port(), secrets.token_hex(16)
    env = clean_env(OLLAMA_MODELS=str(root / "models"), JUPYTER_CONFIG_DIR=str(root / "config"),
                    JUPYTER_RUNTIME_DIR=str(root / "runtime"))
    with open(root / "server.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
             "--ServerApp.jpserver_extensions={'jupyter_ollama': True}"],
            env=env, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}/ollama"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/version", headers={"Authorization": f"token {token}"}, timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError("jupyter server did not start: " + (root / "server.log").read_text())
    yield url, token
    process.terminate()
    process.wait(timeout=30)


def test_every_user_lists_the_declared_pool_and_uses_it_from_a_notebook(hub_server: tuple[str, str], cluster: LlamaServer,
                                                                         tmp_path: Path) -> None:
    url, token = hub_server
    client = ollama.Client(host=url, headers={"Authorization": f"Bearer {token}"})
    assert [m.model for m in client.list().models] == ["team:latest"]
    cells = ["%load_ext jupyter_ollama", '%ollama run team -o num_predict=8 -o temperature=0 "Say hello"', "%ollama ps"]
    notebook, _ = run_notebook(cells, clean_env(JUPYTER_OLLAMA_URL=url, JUPYTER_OLLAMA_TOKEN=token), tmp_path)
    answer, ps = (text_of(cell) for cell in notebook.cells[1:])
    assert answer.strip() and "Error" not in answer, answer
    assert "team:latest" in ps and "Error" not in ps, ps
    entry = httpx.get(url + "/api/ps", headers={"Authorization": f"token {token}"}).json()["models"][0]
    assert entry["remote"]["engines"][0]["host"] == cluster.url and entry["remote"]["engines"][0]["requests_total"] >= 1
