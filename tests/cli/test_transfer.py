"""`jupyter-ollama pull` / `push`: Ollama's progress display, and the commands against a real server."""

from __future__ import annotations

import io
import re

import pytest

from jupyter_ollama.cli.transfer import Bar, Display, Spinner, format_duration, show_progress
from jupyter_ollama.store.gguf import read_gguf

from ..registry_server import Registry, file_digest

MODEL = "application/vnd.ollama.image.model"


def test_finished_bar_renders_like_ollama():
    bar = Bar("pulling 3f8eb4da87fa:", 98_000_000, 98_000_000)
    line = bar.render(80)
    # Ollama: pre "<msg> 100%", " ▕", filled cells, "▏ ", size padded to 6, then blank rate/eta columns.
    assert line == "pulling 3f8eb4da87fa: 100% ▕" + "█" * 18 + "▏  98 MB" + " " * 25
    assert len(line) == 79


def test_running_bar_shows_done_over_total():
    bar = Bar("pulling 3f8eb4da87fa:", 200_000_000, 0)
    bar.set(50_000_000)
    line = bar.render(80)
    assert line.startswith("pulling 3f8eb4da87fa:  25% ▕")
    assert " 50 MB/200 MB" in line and len(line) == 79


def test_format_duration():
    assert [format_duration(s) for s in (5, 65, 3700, 400_000)] == ["5s", "1m5s", "1h1m", "99h+"]


def test_display_without_a_terminal_prints_each_line_once():
    out = io.StringIO()
    display = Display(out, live=False)
    digest = "sha256:" + "3f8eb4da87fa" + "0" * 52
    events = [
        {"status": "pulling manifest"},
        {"status": "pulling 3f8eb4da87fa", "digest": digest, "total": 1000, "completed": 0},
        {"status": "pulling 3f8eb4da87fa", "digest": digest, "total": 1000, "completed": 400},
        {"status": "pulling 3f8eb4da87fa", "digest": digest, "total": 1000, "completed": 1000},
        {"status": "verifying sha256 digest"},
        {"status": "writing manifest"},
        {"status": "success"},
    ]
    show_progress(events, "pulling", display)
    display.stop()
    lines = out.getvalue().splitlines()
    assert lines[0] == "pulling manifest"
    assert re.fullmatch(r"pulling 3f8eb4da87fa: 100% ▕█+▏   1 KB", lines[1])
    assert lines[2:] == ["verifying sha256 digest", "writing manifest", "success"]


def test_live_display_redraws_in_place():
    out = io.StringIO()
    display = Display(out, live=True)
    display.add(Spinner("pulling manifest"))
    display.render()
    display.stop()
    assert "\033[?25l" in out.getvalue() and "pulling manifest" in out.getvalue()


@pytest.fixture(scope="module")
def registry(tmp_path_factory, smollm2_gguf):
    reg = Registry(tmp_path_factory.mktemp("cli-registry"))
    reg.publish("library/smol", "latest", [(MODEL, smollm2_gguf)], read_gguf(smollm2_gguf, max_array_len=1024).config_blob())
    reg.cdn = True
    yield reg
    reg.close()


def test_cli_pull_push_and_errors(server, registry, smollm2_gguf):
    name = f"{registry.host}/library/smol"
    pulled = server.cli("pull", name, "--insecure")
    assert pulled.returncode == 0, pulled.stderr
    lines = pulled.stderr.splitlines()
    assert lines[0] == "pulling manifest" and lines[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    hex12 = file_digest(smollm2_gguf)[7:19]
    assert any(re.fullmatch(rf"pulling {hex12}: 100% ▕█+▏  98 MB", line) for line in lines), lines

    target = f"{registry.host}/me/smol-cli:latest"
    assert server.cli("cp", name, target).returncode == 0
    pushed = server.cli("push", target, "--insecure")
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.stderr.splitlines()[0] == "retrieving manifest"
    assert any(re.fullmatch(rf"pushing {hex12} 100% ▕█+▏  98 MB", line) for line in pushed.stderr.splitlines())
    assert pushed.stderr.splitlines()[-2:] == ["pushing manifest", "success"]
    assert f"You can find your model at:\n\n\t{target}" in pushed.stdout
    assert ("me/smol-cli", "latest") in registry.manifests

    missing = server.cli("pull", f"{registry.host}/library/nothing", "--insecure")
    assert missing.returncode == 1
    assert missing.stderr.splitlines()[-1] == "Error: pull model manifest: file does not exist"
    assert server.cli("rm", name, target).returncode == 0  # the session server is shared
