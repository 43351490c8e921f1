"""`jupyter-ollama launch`: the settings each agent gets, the checks before it starts, against a real server.

The agents themselves run against real servers in tests/agents/; here `--config` writes their
settings into a home folder of the test's own, and the errors come before any agent starts.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from jupyter_ollama.cli.launch import AGENTS, Model, check

from ..agents.conftest import AGENTS_BIN, terminal_env
from ..api.templates import TOOLS, create_variant


@pytest.fixture(scope="module")
def tools_model(client, smollm2) -> str:
    return create_variant(client, smollm2, "smollm2-tools", TOOLS)


def launch(server, home: Path, *args: str, path: str = "/usr/bin:/bin", **env: str) -> subprocess.CompletedProcess:
    """`jupyter-ollama launch ...` as typed in a terminal whose HOME is `home`; `env` adds to (or, as "", removes from) it."""
    base = terminal_env(home, path, OLLAMA_HOST=server.host)
    for key, value in env.items():
        if value:
            base[key] = value
        else:
            base.pop(key, None)
    return subprocess.run([sys.executable, "-m", "jupyter_ollama", "launch", *args], env=base, cwd=home,
                          capture_output=True, text=True, timeout=120)


def test_claude_settings_are_added_to_the_users_own(server, tools_model, tmp_path):
    settings = tmp_path / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps({"theme": "dark", "env": {"MY_VAR": "1"}}))
    done = launch(server, tmp_path, "claude", "--config", "--model", "smollm2-tools")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote Claude Code's settings for smollm2-tools:latest at {server.url} to {settings}"
    written = json.loads(settings.read_text())
    assert written["theme"] == "dark" and written["env"]["MY_VAR"] == "1"  # what was there stays
    env = written["env"]
    assert env["ANTHROPIC_BASE_URL"] == server.url and env["ANTHROPIC_AUTH_TOKEN"] == "ollama" and env["ANTHROPIC_API_KEY"] == ""
    # The full name, for every tier Claude Code asks for; the window a load gets, and a quarter of it to reply.
    assert {env[k] for k in ("ANTHROPIC_MODEL", "ANTHROPIC_DEFAULT_OPUS_MODEL", "ANTHROPIC_DEFAULT_SONNET_MODEL",
                             "ANTHROPIC_DEFAULT_HAIKU_MODEL", "CLAUDE_CODE_SUBAGENT_MODEL")} == {"smollm2-tools:latest"}
    assert env["CLAUDE_CODE_MAX_CONTEXT_TOKENS"] == "4096" and env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] == "1024"
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600  # it may hold a Jupyter token
    assert json.loads(settings.with_name("settings.json.bak").read_text())["theme"] == "dark"
    # 4,096 tokens cannot hold Claude Code's first request: said before it starts, with what to do.
    [warning] = done.stderr.splitlines()
    assert warning == ("warning: smollm2-tools:latest loads with a 4,096-token context and Claude Code's first request alone "
                       "takes about 11,600 tokens: it will be refused as too long; smollm2-tools:latest was trained on "
                       "8,192 tokens: use a model trained on more")


def test_codex_profile_names_the_token_variable(server, tools_model, tmp_path):
    """In a JupyterLab terminal the token is the Jupyter server's: the profile names its variable, not its value."""
    done = launch(server, tmp_path, "codex", "--config", "-m", "SmolLM2-Tools", OLLAMA_HOST="",
                  JUPYTER_OLLAMA_URL=server.url, JUPYTER_OLLAMA_TOKEN="secret-token")
    assert done.returncode == 0, done.stderr
    profile = tmp_path / ".codex" / "jupyter-ollama.config.toml"
    assert done.stdout.strip().endswith(f"to {profile}")
    assert profile.read_text() == f"""# Written by `jupyter-ollama launch codex`: run `codex --profile jupyter-ollama`.
model = "smollm2-tools:latest"
model_provider = "jupyter-ollama"
model_context_window = 4096

[model_providers.jupyter-ollama]
name = "jupyter-ollama"
base_url = "{server.url}/v1"
wire_api = "responses"
env_key = "JUPYTER_OLLAMA_TOKEN"
"""  # the token itself ("secret-token") is not in it


def test_opencode_provider_with_limits(server, tools_model, tmp_path):
    config = tmp_path / ".config" / "opencode" / "opencode.json"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"provider": {"other": {"name": "other"}}, "theme": "system"}))
    done = launch(server, tmp_path, "opencode", "--config", "--model", "smollm2-tools", OLLAMA_API_KEY="k")
    assert done.returncode == 0, done.stderr
    written = json.loads(config.read_text())
    assert written["theme"] == "system" and written["provider"]["other"] == {"name": "other"}
    ours = written["provider"]["jupyter-ollama"]
    assert ours["npm"] == "@ai-sdk/openai-compatible" and ours["options"] == {"baseURL": server.url + "/v1",
                                                                             "apiKey": "{env:OLLAMA_API_KEY}"}
    assert ours["models"]["smollm2-tools:latest"]["limit"] == {"context": 4096, "output": 1024}
    assert written["model"] == "jupyter-ollama/smollm2-tools:latest"


def test_a_model_without_tools_or_not_here_is_refused(server, smollm2, tools_model, tmp_path):
    no_tools = launch(server, tmp_path, "claude", "--config", "--model", "smollm2")
    assert no_tools.returncode == 1 and not (tmp_path / ".claude").exists()
    assert no_tools.stderr.startswith("Error: smollm2:latest does not support tools, which Claude Code needs")
    missing = launch(server, tmp_path, "codex", "--config", "--model", "nosuch")
    assert missing.returncode == 1 and missing.stderr == "Error: model 'nosuch' not found: pull it first (jupyter-ollama pull nosuch)\n"
    unnamed = launch(server, tmp_path, "opencode", "--config")
    assert unnamed.returncode == 1 and "--model NAME" in unnamed.stderr and "smollm2-tools:latest" in unnamed.stderr
    assert "smollm2:latest" not in unnamed.stderr  # only models with tools are offered


def test_a_missing_agent_says_how_to_install_it(server, tools_model, tmp_path):
    for agent, title, install in (("claude", "Claude Code", "npm install -g @anthropic-ai/claude-code"),
                                  ("codex", "Codex", "npm install -g @openai/codex"),
                                  ("opencode", "opencode", "npm install -g opencode-ai")):
        done = launch(server, tmp_path, agent, "--model", "smollm2-tools")
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr == f"Error: {title} is not installed (no `{agent}` on PATH): install it with `{install}`\n"


def test_no_server_says_so(tmp_path):
    done = launch(type("S", (), {"host": "127.0.0.1:9"})(), tmp_path, "codex", "--config", "--model", "m")
    assert done.returncode == 1 and "could not connect to the server at http://127.0.0.1:9 (OLLAMA_HOST)" in done.stderr


def test_launch_runs_the_agent_with_its_settings_and_arguments(server, tools_model, tmp_path):
    """The agent replaces the CLI with its settings in the environment and the words after -- as its arguments:
    Claude Code itself, which refuses a prompt longer than the window it was told, before sending it."""
    if not (AGENTS_BIN / "claude").exists():
        pytest.fail("the agent CLIs are not installed: make setup (npm ci in tests/clients/agents)")
    done = launch(server, tmp_path, "claude", "--model", "smollm2-tools", "--", "-p", "Say hi",
                  path=f"{AGENTS_BIN}:{os.environ['PATH']}")
    assert done.returncode == 1
    assert done.stdout.strip() == "Prompt is too long", done.stdout + done.stderr
    assert done.stderr.startswith("warning: smollm2-tools:latest loads with a 4,096-token context")
    assert "doesn't recognize the model" not in done.stderr  # it was told the window


def test_what_is_said_about_the_context():
    """Below 32k: what to change, where changing it can help; nothing at 32k and above."""
    claude = AGENTS["claude"]

    def said(context: int, trained: int) -> list[str]:
        return check(claude, Model("m:latest", ("completion", "tools"), context, trained, context // 4))

    assert said(4096, 32768) == ["m:latest loads with a 4,096-token context and Claude Code's first request alone takes "
                                 "about 11,600 tokens: it will be refused as too long; raise it with PARAMETER num_ctx "
                                 "32768 in a Modelfile, or OLLAMA_CONTEXT_LENGTH=32768 on the server"]
    assert said(16384, 131072)[0].endswith("which leaves little room to work; raise it with PARAMETER num_ctx 32768 "
                                           "in a Modelfile, or OLLAMA_CONTEXT_LENGTH=32768 on the server")
    assert said(16384, 16384)[0].endswith("which leaves little room to work; m:latest was trained on 16,384 tokens")
    assert said(4096, 16384)[0].endswith("refused as too long; raise it with PARAMETER num_ctx 16384 in a Modelfile, "
                                         "or OLLAMA_CONTEXT_LENGTH=16384 on the server")
    assert said(32768, 32768) == said(131072, 0) == []
    assert said(0, 0) == ["the context length of m:latest is not known here: Claude Code is told nothing about it"]
    # A model served elsewhere: its engines know its context and whether it takes tools; it is not refused here.
    remote = Model("team:latest", ("completion",), 0, 0, 0, remote=True)
    assert check(claude, remote) == [
        "team:latest is served elsewhere and its config does not list tools, which Claude Code needs: its requests fail "
        "if its engines cannot take them",
        "the context length of team:latest is not known here: Claude Code is told nothing about it"]


def test_a_settings_file_it_cannot_add_to_is_left_alone(server, tools_model, tmp_path):
    settings = tmp_path / ".claude" / "settings.json"
    settings.parent.mkdir()
    for text, error in (("[1]", f"Error: cannot add to {settings}: it is not a JSON object\n"),
                        ("{oops", f"Error: cannot read {settings} to add to it: Expecting property name enclosed in "
                                  "double quotes: line 1 column 2 (char 1)\n")):
        settings.write_text(text)
        done = launch(server, tmp_path, "claude", "--config", "--model", "smollm2-tools")
        assert done.returncode == 1 and done.stderr.endswith(error) and settings.read_text() == text
