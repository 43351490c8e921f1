"""The real Codex 0.171.0 (`codex exec`), as a user sets it up: through `launch`, and by hand."""

from __future__ import annotations

import re
import sys

import pytest

from .conftest import AGENT_TIMEOUT, run

pytestmark = pytest.mark.timeout(AGENT_TIMEOUT + 60)

RAN_OUT = "Codex ran out of room in the model's context window"
TOO_LONG = "POST /v1/responses: the prompt is longer than the context length"


def refused(log: str) -> list[str]:
    """The log's lines for the requests answered 400 (under Jupyter, the path has the base URL before /ollama)."""
    return [line for line in log.splitlines() if re.search(r" 400 POST \S*/v1/responses", line)]


def test_launch_answers(standalone, agents_path, tmp_path):
    """`jupyter-ollama launch codex` against `serve`: its profile points Codex at /v1/responses with the model's
    window, and Codex prints the model's reply."""
    done = run([sys.executable, "-m", "jupyter_ollama", "launch", "codex", "--model", "gemma-agent",
                "--", "exec", "--skip-git-repo-check", "Say hi"], tmp_path, agents_path, standalone.env(), timeout=AGENT_TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip(), done.stderr
    assert "ERROR" not in done.stderr, done.stderr
    assert (tmp_path / ".codex" / "jupyter-ollama.config.toml").is_file()


def test_oss_provider_by_hand_a_prompt_too_long_says_so(standalone, agents_path, tmp_path):
    """`codex --oss` with the model's full name (Codex compares it with /api/tags): the request reaches the model,
    which refuses it as too long in OpenAI's words, and Codex says so."""
    done = run(["codex", "exec", "--oss", "--local-provider", "ollama", "-m", "smollm2-tools:latest", "--skip-git-repo-check",
                "Say hi"], tmp_path, agents_path, {"CODEX_OSS_BASE_URL": standalone.url + "/v1"})
    assert done.returncode == 1 and RAN_OUT in done.stderr, done.stdout + done.stderr
    log = standalone.log.read_text()
    assert "POST /api/pull" not in log  # the name matched: nothing pulled
    assert TOO_LONG in log and len(refused(log)) == 1, log  # the one request, refused for its length only


def test_provider_under_jupyter_by_hand_a_prompt_too_long_says_so(jupyter, agents_path, tmp_path):
    """Under Jupyter, a provider in ~/.codex/config.toml as the README shows it, with the token from the terminal's
    JUPYTER_OLLAMA_TOKEN: through Jupyter's authentication to the model, refused as too long."""
    codex = tmp_path / ".codex"
    codex.mkdir()
    (codex / "config.toml").write_text(f"""model = "smollm2-tools"
model_provider = "jupyter-ollama"

[model_providers.jupyter-ollama]
name = "jupyter-ollama"
base_url = "{jupyter.url}/v1"
wire_api = "responses"
env_key = "JUPYTER_OLLAMA_TOKEN"
""")
    done = run(["codex", "exec", "--skip-git-repo-check", "Say hi"], tmp_path, agents_path, jupyter.env())
    assert done.returncode == 1 and RAN_OUT in done.stderr, done.stdout + done.stderr
    [line] = refused(jupyter.log.read_text())  # Jupyter's access log: authenticated (a user name), then refused
    assert "/a%40b/ollama/v1/responses (" in line and "@127.0.0.1)" in line
