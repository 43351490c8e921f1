"""`jupyter-ollama system`: with no server answering, this machine's llama.cpp build and devices."""

from __future__ import annotations

import socket

import pytest

from jupyter_ollama.cli.main import main


def test_without_a_server_it_describes_this_machine(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{port}")
    assert main(["system"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "(no server answers: this machine, with no model loaded)"
    assert lines[1].startswith("llama.cpp: CPU: CPU only.")  # this machine's build (and why, once make setup recorded it)
    assert lines[2].startswith("GPU: no NVIDIA GPU found") and lines[3].startswith("RAM: ")
