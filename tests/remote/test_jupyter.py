"""A JupyterHub admin's setup: a pool declared once in the Jupyter server's config, used from a notebook unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import ollama
import pytest

from tests.kernel.conftest import clean_env, launch_jupyter_server, run_notebook, text_of
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
    server = launch_jupyter_server(root, root / "models", "/")
    yield server.ollama_url, server.token
    server.process.terminate()
    server.process.wait(timeout=30)


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
