"""A remote model's engines as create takes them, normalized as Ollama's remoteURL does, and the allowlist."""

from __future__ import annotations

import pytest

from jupyter_ollama.errors import BadRequest
from jupyter_ollama.store.remote_hosts import EngineSpec, check_allowed, engines_of, parse_engines, remote_url


@pytest.mark.parametrize(("raw", "url"), [
    ("gpu-1", "http://gpu-1:11434"),
    ("gpu-1:8000", "http://gpu-1:8000"),
    ("https://vllm.example.org/v1/", "https://vllm.example.org:11434/v1"),
    ("ollama.com", "https://ollama.com:443"),
    ("/proxy", "http://localhost:11434/proxy"),
    ("http://[::1]:8080", "http://[::1]:8080"),
])
def test_urls_are_normalized_as_ollama_does(raw: str, url: str) -> None:
    assert remote_url(raw) == url


def test_engines_of_a_pool_and_the_allowlist(monkeypatch: pytest.MonkeyPatch) -> None:
    engines = parse_engines(["10.0.0.1:8000", {"host": "10.0.0.2:8000", "api": "openai"}, "10.0.0.1:8000"])
    assert engines == [EngineSpec("http://10.0.0.1:8000"), EngineSpec("http://10.0.0.2:8000", "openai")]
    config = {"remote_host": engines[0].url, "remote_hosts": [e.to_json() for e in engines]}
    assert engines_of(config) == engines and engines_of({"remote_host": "http://a:1"}) == [EngineSpec("http://a:1")]
    monkeypatch.delenv("OLLAMA_REMOTES", raising=False)
    with pytest.raises(BadRequest, match="cannot run this remote model.*ollama.com"):
        check_allowed(engines)
    monkeypatch.setenv("OLLAMA_REMOTES", "10.0.0.1,10.0.0.2")
    check_allowed(engines)
    for bad in ([], [""], [{"host": "x", "api": "grpc"}], ["ftp://x"], [3]):
        with pytest.raises(BadRequest):
            parse_engines(bad)
