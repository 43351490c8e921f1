"""What the extension hands Jupyter AI, without Jupyter AI: the entries, the kernels' LiteLLM base, Basic auth.

Jupyter AI itself, in a real JupyterLab and a real browser, is tested in tests/jupyter_ai/.
"""

from __future__ import annotations

import base64
import json
import stat

import httpx
import pytest

from jupyter_ollama import jupyter_ai
from jupyter_ollama.extension import basic_password

from .kernel.conftest import launch_jupyter_server

API = "http://127.0.0.1:8888/a%40b/ollama"


def tag(name: str, *capabilities: str, **details: object) -> dict:
    return {"name": name, "capabilities": list(capabilities), "details": details}


def test_the_token_rides_as_the_urls_password_quoted():
    assert jupyter_ai.api_base_with_token(API, "abc123") == "http://jupyter:abc123@127.0.0.1:8888/a%40b/ollama"
    assert jupyter_ai.api_base_with_token(API, "a/b@c:d") == "http://jupyter:a%2Fb%40c%3Ad@127.0.0.1:8888/a%40b/ollama"
    assert httpx.URL(jupyter_ai.api_base_with_token(API, "a/b@c:d")).password == "a/b@c:d"
    assert jupyter_ai.api_base_with_token(API, "") == API  # no token, nothing to carry


def test_kernels_get_litellms_base_only_with_litellm_and_never_over_the_users(monkeypatch):
    monkeypatch.delenv("OLLAMA_API_BASE", raising=False)
    assert jupyter_ai.kernel_environment(API, "t", with_litellm=True) == {"OLLAMA_API_BASE": "http://jupyter:t@127.0.0.1:8888/a%40b/ollama"}
    assert jupyter_ai.kernel_environment(API, "t", with_litellm=False) == {}
    monkeypatch.setenv("OLLAMA_API_BASE", "http://gpu-box:11434")
    assert jupyter_ai.kernel_environment(API, "t", with_litellm=True) == {}


def test_custom_models_are_the_models_that_chat_with_tools():
    models = [
        tag("qwen3:latest", "completion", "tools", "thinking", parameter_size="8.2B", quantization_level="Q4_K_M", context_length=40960),
        tag("smollm2:latest", "completion"),  # Jupyternaut sends tools with every message: Ollama's 400
        tag("nomic-embed-text:latest", "embedding"),
        tag("team:70b", "completion", "tools"),
    ]
    entries = jupyter_ai.custom_models(models, API, "tok")
    assert [e["id"] for e in entries] == ["custom-jupyter-ollama/qwen3", "custom-jupyter-ollama/team:70b"]
    qwen = entries[0]
    assert qwen["name"] == "qwen3" and qwen["model_id"] == "ollama_chat/qwen3"
    assert qwen["params"] == {"api_base": API, "api_key": "tok"}
    assert qwen["description"] == "8.2B Q4_K_M, on this Jupyter server (jupyter-ollama)"
    assert qwen["context_length"] == 40960
    assert entries[1]["description"] == "on this Jupyter server (jupyter-ollama)"
    assert "api_key" not in jupyter_ai.custom_models(models, API, "")[0]["params"]


def test_merged_keeps_the_users_own_models_first_and_replaces_ours():
    mine = {"id": "custom-1234/openai/gpt-x", "name": "mine", "description": None, "model_id": "openai/gpt-x", "params": {}}
    stale = {"id": "custom-jupyter-ollama/gone", "name": "gone", "model_id": "ollama_chat/gone", "params": {}}
    ours = jupyter_ai.custom_models([tag("qwen3:latest", "completion", "tools")], API, "tok")
    result = jupyter_ai.merged([stale, mine], ours)
    assert result == [mine, {k: ours[0][k] for k in ("id", "name", "description", "model_id", "params")}]
    assert jupyter_ai.merged(result, []) == [mine]


def test_drop_ours_leaves_the_rest_of_the_config_file(tmp_path):
    path = tmp_path / "config.json"
    mine = {"id": "custom-1234/openai/gpt-x", "name": "mine", "model_id": "openai/gpt-x", "params": {}}
    ours = {"id": "custom-jupyter-ollama/qwen3", "name": "qwen3", "model_id": "ollama_chat/qwen3", "params": {"api_key": "tok"}}
    path.write_text(json.dumps({"model_provider_id": "openai/gpt-x", "custom_models": [mine, ours], "api_keys": {"K": "v"}}))
    path.chmod(0o600)
    jupyter_ai.drop_ours(str(path))
    assert json.loads(path.read_text()) == {"model_provider_id": "openai/gpt-x", "custom_models": [mine], "api_keys": {"K": "v"}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # rewritten in place: still readable by its owner only


@pytest.mark.parametrize(("header", "password"), [
    ("Basic " + base64.b64encode(b"jupyter:tok").decode(), "tok"),
    ("basic " + base64.b64encode(b":tok:with:colons").decode(), "tok:with:colons"),
    ("Basic " + base64.b64encode(b"jupyter:").decode(), None),
    ("Basic not-base64!", None),
    ("Bearer tok", None),
    ("", None),
])
def test_basic_password(header, password):
    assert basic_password(header) == password


def test_jupyter_takes_the_token_as_a_basic_password(tmp_path):
    """What LiteLLM sends for OLLAMA_API_BASE=http://jupyter:<token>@host/ollama: Basic, to that server only."""
    (tmp_path / "models").mkdir()
    server = launch_jupyter_server(tmp_path, tmp_path / "models")
    try:
        with_token = jupyter_ai.api_base_with_token(server.ollama_url, server.token)
        assert httpx.get(with_token + "/api/version", timeout=30).status_code == 200
        assert httpx.post(with_token + "/api/show", json={"model": "nope"}, timeout=30).json() == {"error": "model 'nope' not found"}
        wrong = jupyter_ai.api_base_with_token(server.ollama_url, "wrong-token")
        assert httpx.get(wrong + "/api/version", timeout=30).status_code == 403
        assert httpx.get(server.ollama_url + "/api/version", timeout=30).status_code == 403
    finally:
        server.process.terminate()
        server.process.wait(timeout=30)
