"""JupyterLab with Jupyter AI 3 (its `jupyternaut` and `magics` extras) beside the extension, and Chromium.

Jupyter AI 3.2's Jupyternaut pins httpx below 0.29 (through langchain-litellm), below what the test
environment has, so it lives in an environment of its own, layered over .venv: `make test-jupyter-ai`
builds it (.venv-jupyter-ai) and runs these tests there. `make test` does not collect them (tests/conftest.py).
"""

from __future__ import annotations

import importlib.util
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ..conftest import free_port
from ..kernel.conftest import clean_env
from ..labextension.conftest import ARTIFACTS, JupyterLab, browser_page, chromium_path  # noqa: F401 (fixtures)

if not all(importlib.util.find_spec(p) for p in ("jupyter_ai_jupyternaut", "jupyter_ai_magic_commands")):
    pytest.fail("Jupyter AI is not in this environment: run these tests with `make test-jupyter-ai`", pytrace=False)

# SmolLM2's own chat template has no tools, and Jupyternaut sends its tools with every message (a model without
# them gets Ollama's 400). This ChatML template takes tools; it names them only, so that Jupyternaut's prompt
# (its system prompt and some twenty tool schemas, about 7000 tokens in full) reads quickly on two CPU cores.
TOOLS_TEMPLATE = """<|im_start|>system
{{ if .System }}{{ .System }}{{ end }}{{ if .Tools }}
Tools: {{ range .Tools }}{{ .Function.Name }} {{ end }}{{ end }}<|im_end|>
{{ range .Messages }}{{ if ne .Role "system" }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}{{ end }}<|im_start|>assistant
"""


@dataclass
class AiLab(JupyterLab):
    data_dir: Path  # Jupyter AI's config is data_dir/jupyter_ai/config.json
    process: subprocess.Popen

    @property
    def jupyternaut_config(self) -> dict:
        response = httpx.get(self.url + "api/jupyternaut/config", headers={"Authorization": f"token {self.token}"}, timeout=30)
        response.raise_for_status()
        return response.json()

    def ours(self) -> dict[str, dict]:
        """Our entries among Jupyternaut's custom models, by name."""
        return {e["name"]: e for e in self.jupyternaut_config["custom_models"] if e["id"].startswith("custom-jupyter-ollama/")}


def launch_ai_lab(root: Path, smollm2_gguf: Path) -> AiLab:
    """`jupyter lab` with Jupyter AI and the extension, its own Jupyter data dir (Jupyter AI's config lives there),
    `smollm2` (no tools) and `smollm2-tools` (the same weights, a template with tools)."""
    port, token = free_port(), secrets.token_hex(16)
    work = root / "work"  # what the file browser shows: the chats only
    work.mkdir()
    settings = root / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    env = clean_env(OLLAMA_MODELS=str(root / "models"), JUPYTER_CONFIG_DIR=str(root / "config"),
                    JUPYTER_DATA_DIR=str(root / "data"), JUPYTER_RUNTIME_DIR=str(root / "runtime"),
                    JUPYTERLAB_SETTINGS_DIR=str(root / "settings"), JUPYTERLAB_WORKSPACES_DIR=str(root / "workspaces"),
                    OLLAMA_KEEP_ALIVE="10m",
                    # LiteLLM fetches its price list from GitHub when imported, unless told to use its own copy.
                    LITELLM_LOCAL_MODEL_COST_MAP="True")
    env.pop("OLLAMA_API_BASE", None)
    log = root / "lab.log"
    with open(log, "w") as log_file:  # the server writes to its own copy of the handle
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
             f"--IdentityProvider.token={token}", "--ServerApp.base_url=/a%40b/", f"--ServerApp.root_dir={work}",
             "--ServerApp.jpserver_extensions={'jupyter_ollama': True}", "--ServerApp.allow_unauthenticated_access=False",
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
             # Jupyter AI's MCP server listens on port 3001 unless told otherwise: any free port, for parallel runs.
             "--MCPExtensionApp.mcp_port=0"],
            env=env, stdout=subprocess.DEVNULL, stderr=log_file,
        )
    lab = AiLab(f"http://127.0.0.1:{port}/a%40b/", token, root / "models", log, root / "data", process)
    deadline = time.monotonic() + 120
    while True:
        try:
            if lab.api("GET", "api/version").status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("jupyter lab did not start:\n" + log.read_text())
        time.sleep(0.2)
    import ollama

    client = ollama.Client(host=lab.ollama_url, headers={"Authorization": f"token {token}"})
    client.create(model="smollm2", files={"m.gguf": client.create_blob(smollm2_gguf)}, parameters={"num_predict": 32})
    created = lab.api("POST", "api/create", json={"model": "smollm2-tools", "from": "smollm2", "template": TOOLS_TEMPLATE, "stream": False})
    assert created.status_code == 200, created.text
    return lab


@pytest.fixture(scope="session")
def ai_lab(tmp_path_factory, smollm2_gguf):
    ARTIFACTS.mkdir(exist_ok=True)
    lab = launch_ai_lab(tmp_path_factory.mktemp("ailab"), smollm2_gguf)
    yield lab
    lab.process.terminate()
    lab.process.wait(timeout=60)
