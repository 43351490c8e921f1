"""The real Claude Code and Codex CLIs (tests/clients/agents, installed by `make setup`) against real servers.

Two servers, each with the same two models: `jupyter-ollama serve`, and a Jupyter server with the
extension under a prefixed base URL, behind its token. `gemma-agent` is Gemma 3 270M (trained on
32k tokens) with a tools template and a 32k context in one slot: the agents' first requests
(about 11k tokens) fit it. It is a base model, which does not know when a reply ends: its replies
are one line, greedy (stopping at the reply limit instead would have Claude Code ask it to go on,
turn after turn). `smollm2-tools` is SmolLM2 with a tools template and the default 4,096-token
context: the same requests do not fit. Reading 11k tokens takes these two cores a minute or more,
so each agent answers once.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ollama
import pytest

from ..api.templates import TOOLS
from ..conftest import start_server
from ..kernel.conftest import clean_env, launch_jupyter_server
from .templates import GEMMA_TOOLS

AGENTS_BIN = Path(__file__).parent.parent / "clients" / "agents" / "node_modules" / ".bin"
AGENT_TIMEOUT = 540  # seconds for one run that reads an agent's whole first request


@dataclass
class AgentServer:
    url: str  # the API's base: what OLLAMA_HOST, JUPYTER_OLLAMA_URL or a base URL setting names
    token: str | None
    log: Path  # the server's log, where each refused request is named with its reason

    def env(self) -> dict[str, str]:
        """What a terminal has when this server is the one its CLI uses."""
        if self.token:  # a JupyterLab terminal: the extension exports these
            return {"JUPYTER_OLLAMA_URL": self.url, "JUPYTER_OLLAMA_TOKEN": self.token}
        return {"OLLAMA_HOST": self.url}


def create_models(url: str, token: str | None, gemma_gguf: Path, smollm2_gguf: Path) -> None:
    client = ollama.Client(host=url, headers={"Authorization": f"Bearer {token}"} if token else None)
    client.create(model="gemma-agent", files={"gemma.gguf": client.create_blob(gemma_gguf)}, template=GEMMA_TOOLS,
                  parameters={"num_ctx": 32768, "num_parallel": 1, "temperature": 0, "stop": ["<end_of_turn>", "\n"]})
    client.create(model="smollm2-tools", files={"smollm2.gguf": client.create_blob(smollm2_gguf)}, template=TOOLS)


@pytest.fixture(scope="session")
def agents_path() -> str:
    """PATH with the agents' CLIs first."""
    for name in ("claude", "codex"):
        if not (AGENTS_BIN / name).exists():
            pytest.fail(f"{AGENTS_BIN / name} is missing: make setup (npm ci in tests/clients/agents)")
    return f"{AGENTS_BIN}:{os.environ['PATH']}"


@pytest.fixture(scope="module")
def standalone(tmp_path_factory: pytest.TempPathFactory, gemma_gguf: Path, smollm2_gguf: Path) -> Iterator[AgentServer]:
    folder = tmp_path_factory.mktemp("agents-serve")
    running = start_server(folder / "models", log=folder / "server.log")
    try:
        create_models(running.url, None, gemma_gguf, smollm2_gguf)
        yield AgentServer(running.url, None, folder / "server.log")
    finally:
        running.stop()


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory, gemma_gguf: Path, smollm2_gguf: Path) -> Iterator[AgentServer]:
    root = tmp_path_factory.mktemp("agents-jupyter")
    server = launch_jupyter_server(root, root / "models")
    try:
        create_models(server.ollama_url, server.token, gemma_gguf, smollm2_gguf)
        yield AgentServer(server.ollama_url, server.token, root / "server.log")
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)


AGENT_SETTINGS = ("ANTHROPIC_", "CLAUDE_", "CODEX_", "OPENAI_", "OPENCODE_", "XDG_CONFIG_HOME", "XDG_DATA_HOME",
                  "XDG_STATE_HOME", "XDG_CACHE_HOME")


def terminal_env(home: Path, path: str, **env: str) -> dict[str, str]:
    """A terminal's environment with HOME at `home`, PATH `path` and `env`: no server pointers, and none of the
    agents' own settings (keys, config folders) of whoever runs the tests."""
    base = {k: v for k, v in clean_env().items() if not k.startswith(AGENT_SETTINGS)}
    return {**base, "HOME": str(home), "PATH": path, **env}


def run(command: list[str], home: Path, path: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """`command` in a terminal of its own (`terminal_env`: the agents' settings and sessions go to `home`), nothing on
    standard input (Codex reads a prompt from a pipe), in `home/work`."""
    work = home / "work"
    work.mkdir(parents=True, exist_ok=True)
    return subprocess.run(command, env=terminal_env(home, path, **env), cwd=work, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)
