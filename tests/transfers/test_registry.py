"""The registry client's pieces that need no server: challenges and schemes."""

from __future__ import annotations

import pytest

from jupyter_ollama.errors import OllamaError
from jupyter_ollama.store.names import ModelName
from jupyter_ollama.transfers.download import TransferSettings
from jupyter_ollama.transfers.registry import Registry, parse_challenge


def test_parse_challenge_like_ollama():
    header = 'Bearer realm="https://ollama.com:443/token",service="ollama.com",scope="repository:library/x:pull"'
    assert parse_challenge(header) == {
        "realm": "https://ollama.com:443/token",
        "service": "ollama.com",
        "scope": "repository:library/x:pull",
    }
    # A quote not followed by a comma is part of the value (Ollama's getValue).
    assert parse_challenge('Bearer realm="a"b",service="s"')["realm"] == 'a"b'
    assert parse_challenge("Bearer service=\"s\"")["realm"] == ""


def test_scheme_follows_insecure():
    name = ModelName.parse("127.0.0.1:5000/library/tiny:latest")
    assert Registry(name, insecure=True).url("manifests", "latest") == "http://127.0.0.1:5000/v2/library/tiny/manifests/latest"
    assert Registry(name).base == "https://127.0.0.1:5000"
    with pytest.raises(OllamaError, match="^insecure protocol http$"):
        Registry(ModelName.parse("http://127.0.0.1:5000/library/tiny"))


def test_part_sizes_follow_ollama():
    default = TransferSettings()
    assert default.part_size_for(50_000_000) == 100_000_000  # one part
    assert default.part_size_for(3_200_000_000) == 200_000_000  # 16 parts
    assert default.part_size_for(40_000_000_000) == 1_000_000_000  # capped at 1 GB
    assert TransferSettings(part_size=4096).part_size_for(10**9) == 4096


def test_settings_from_environment(monkeypatch):
    monkeypatch.setenv("OLLAMA_PULL_PART_SIZE", "65536")
    monkeypatch.setenv("OLLAMA_PULL_RETRIES", "2")
    monkeypatch.setenv("OLLAMA_PULL_RETRY_DELAY", "0.05")
    assert TransferSettings.from_env() == TransferSettings(part_size=65536, retries=2, retry_delay=0.05)
