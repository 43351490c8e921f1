"""`jupyter-ollama run` as Ollama's: pulls what is missing, piped input, --verbose, thinking, /set, embeddings."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys

import pytest

from jupyter_ollama.cli.run import embed, prompt_of, run
from jupyter_ollama.client import Client, ClientError
from jupyter_ollama.client.chat import Stats

from ..api.templates import THINKING
from .test_main import Terminal, greedy
from .test_transfer import registry

__all__ = ["greedy", "registry"]  # fixtures, used by name


def piped(server, *args: str, text: str) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    return subprocess.run([sys.executable, "-m", "jupyter_ollama", *args], input=text, env=server.env(), capture_output=True, text=True, timeout=120)


def test_piped_text_comes_first_then_the_prompt_words():
    assert prompt_of(["Summarize", "this."], io.StringIO("Notes.\n")) == "Notes.\n Summarize this."
    assert prompt_of([], io.StringIO("Just piped.")) == "Just piped."
    assert prompt_of([], Terminal("")) is None  # a terminal and no words: the interactive chat
    assert prompt_of(["Hi"], io.StringIO("")) == "Hi"


def test_piped_question_with_an_instruction(server, greedy):
    result = piped(server, "run", greedy, "Answer with one number.", text="What is 2+2?\n")
    assert result.returncode == 0, result.stderr
    assert "4" in result.stdout


def test_verbose_prints_ollamas_timings(server, greedy):
    result = server.cli("run", greedy, "Hi", "--verbose")
    assert result.returncode == 0, result.stderr
    labels = [line.split(":")[0] for line in result.stderr.splitlines()]
    assert [label for label in labels if label != "load duration"] == [  # no load time for a model already loaded
        "total duration",
        "prompt eval count",
        "prompt eval duration",
        "prompt eval rate",
        "eval count",
        "eval duration",
        "eval rate",
    ]
    assert re.search(r"^eval count: {11}\d+ token\(s\)$", result.stderr, re.M)
    assert re.search(r"^eval rate: {12}\d+\.\d\d tokens/s$", result.stderr, re.M)
    assert re.search(r"^total duration: {7}[\d.]+(ms|s)$", result.stderr, re.M)


def test_summary_reads_like_ollamas():
    final = {
        "total_duration": 1_234_567_890,
        "load_duration": 12_345_678,
        "prompt_eval_count": 10,
        "prompt_eval_duration": 50_000_000,
        "eval_count": 20,
        "eval_duration": 400_000_000,
    }
    assert Stats.from_chunk(final).summary() == (
        "total duration:       1.23456789s\n"
        "load duration:        12.345678ms\n"
        "prompt eval count:    10 token(s)\n"
        "prompt eval duration: 50ms\n"
        "prompt eval rate:     200.00 tokens/s\n"
        "eval count:           20 token(s)\n"
        "eval duration:        400ms\n"
        "eval rate:            50.00 tokens/s"
    )


@pytest.fixture(scope="module")
def thinker(client, smollm2) -> str:
    """SmolLM2 behind a template that opens <think> for it: everything it writes is thinking."""
    client.create(model="thinker", from_=smollm2, template=THINKING, parameters={"temperature": 0, "num_predict": 12})
    return "thinker"


def test_thinking_is_shown_hidden_or_off(server, thinker):
    shown = server.cli("run", thinker, "--think", "What is 2+2?")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("Thinking...\n") and shown.stdout[len("Thinking...\n") :].strip()
    hidden = server.cli("run", thinker, "What is 2+2?", "--think", "--hidethinking")
    assert hidden.returncode == 0 and hidden.stdout.strip() == ""  # it only thought
    off = server.cli("run", thinker, "--think=false", "What is 2+2?")
    assert off.returncode == 0 and "Thinking..." not in off.stdout and off.stdout.strip()
    bad = server.cli("run", thinker, "--think=very", "Hi")
    assert bad.returncode == 1 and bad.stderr.startswith("Error: invalid value for --think: 'very'")


def test_interactive_set_think_verbose_and_format(server, thinker):
    typed = Terminal(
        "/set think\nHi\n/set nothink\n/set verbose\nHi\n/set quiet\n/set format json\n/set noformat\n/set format yaml\n/set bogus\n/bye\n"
    )
    screen, stats = io.StringIO(), io.StringIO()
    with Client(server.url) as client:
        assert run(thinker, [], stdin=typed, out=screen, err=stats, client=client) == 0
    text = screen.getvalue()
    for said in (
        "Set 'think' mode.",
        "Set 'nothink' mode.",
        "Set 'verbose' mode.",
        "Set 'quiet' mode.",
        "Set format to 'json' mode.",
        "Disabled format.",
        "Invalid or missing format. For 'json' mode use '/set format json'",
        "Unknown command '/set bogus'",
    ):
        assert said in text
    first, second = text.split("Set 'nothink' mode.")
    assert "Thinking...\n" in first and "Thinking..." not in second
    assert len(re.findall(r"^eval count:", stats.getvalue(), re.M)) == 1  # verbose for the second reply only


def test_a_missing_model_is_pulled_with_progress_then_run(server, registry):
    name = f"{registry.host}/library/smol"
    result = server.cli("run", name, "--insecure", "What is 2+2?")
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "pulling manifest" and lines[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    assert result.stdout.strip()  # and then it answered
    again = server.cli("run", name, "--insecure", "Hi")
    assert again.returncode == 0 and again.stderr == ""  # here now: no second pull
    assert server.cli("rm", name).returncode == 0


def test_embedding_prints_a_json_array(server, smollm2):
    out = io.StringIO()
    with Client(server.url) as client:
        assert embed(client, smollm2, "The sky is blue.", out) == 0
        with pytest.raises(ClientError, match="embedding models require input text"):
            embed(client, smollm2, "", out)
    vector = json.loads(out.getvalue())
    assert len(vector) == 576 and all(isinstance(x, float) for x in vector)
    assert " " not in out.getvalue()  # Go's json.Marshal: no spaces
