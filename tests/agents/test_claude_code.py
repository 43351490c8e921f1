"""The real Claude Code 2.1.332 (`claude -p`), as a user sets it up: through `launch`, and by hand."""

from __future__ import annotations

import re
import sys

import pytest

from .conftest import AGENT_TIMEOUT, run

pytestmark = pytest.mark.timeout(AGENT_TIMEOUT + 60)

TOO_LONG = re.compile(r"POST /v1/messages: the prompt is longer than the context length .* \((\d+) tokens > 4096\)")


def test_launch_in_a_jupyterlab_terminal_answers(jupyter, agents_path, tmp_path):
    """`jupyter-ollama launch claude` where the extension exported its URL and token: Claude Code reads its whole
    first request (system prompt, tools) into a 32k context, streams the reply back, and prints it."""
    done = run([sys.executable, "-m", "jupyter_ollama", "launch", "claude", "--model", "gemma-agent", "--", "-p", "Say hi"],
               tmp_path, agents_path, jupyter.env(), timeout=AGENT_TIMEOUT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() and "API Error" not in done.stdout, done.stdout
    assert "warning" not in done.stderr and "doesn't recognize the model" not in done.stderr, done.stderr


def test_by_hand_a_prompt_too_long_says_so(standalone, agents_path, tmp_path):
    """Set up as the README says, without telling it the window: the server refuses the 11k-token request in Anthropic's
    words, and Claude Code says the prompt is too long (never a 400 about roles or tool types)."""
    done = run(["claude", "-p", "Say hi", "--model", "smollm2-tools"], tmp_path, agents_path,
               {"ANTHROPIC_BASE_URL": standalone.url, "ANTHROPIC_AUTH_TOKEN": "ollama", "ANTHROPIC_API_KEY": ""})
    assert done.returncode == 1
    assert done.stdout.startswith("Prompt is too long"), done.stdout + done.stderr
    log = standalone.log.read_text()
    assert len([line for line in log.splitlines() if "tornado.access: 400 " in line]) == 1, log  # one request, refused
    found = TOO_LONG.search(log)  # for its length
    assert found and int(found.group(1)) > 4096, log
