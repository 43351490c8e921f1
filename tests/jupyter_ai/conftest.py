"""JupyterLab with Jupyter AI 3 (its `jupyternaut` and `magics` extras) beside the extension, and Chromium.

Jupyter AI 3.2's Jupyternaut pins httpx below 0.29 (through langchain-litellm), below what the test
environment has, so it lives in an environment of its own, layered over .venv: `make test-jupyter-ai`
builds it (.venv-jupyter-ai) and runs these tests there. `make test` does not collect them (tests/conftest.py).
"""

from __future__ import annotations

import importlib.util
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ..labextension.conftest import ARTIFACTS, JupyterLab, browser_page, chromium_path, start_lab  # noqa: F401 (fixtures)

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
    work = root / "work"  # what the file browser shows: the chats only
    work.mkdir()
    plain, process = start_lab(
        root, work, ("--MCPExtensionApp.mcp_port=0",),  # Jupyter AI's MCP server: any free port, not 3001
        OLLAMA_MODELS=str(root / "models"), JUPYTER_DATA_DIR=str(root / "data"), OLLAMA_KEEP_ALIVE="10m",
        # LiteLLM fetches its price list from GitHub when imported, unless told to use its own copy.
        LITELLM_LOCAL_MODEL_COST_MAP="True")
    lab = AiLab(plain.url, plain.token, plain.models_dir, plain.log, root / "data", process)
    import ollama

    client = ollama.Client(host=lab.ollama_url, headers={"Authorization": f"token {lab.token}"})
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
