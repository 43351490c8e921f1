"""A remote model on an engine that speaks Ollama's API: a second `jupyter-ollama serve` on loopback.

Also: the Modelfile's REMOTE lines through the CLI, and models an admin declares (OLLAMA_REMOTE_MODELS).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import ollama
import pytest

from tests.conftest import RunningServer, serving, start_server

pytestmark = pytest.mark.timeout(240)
SHORT = {"num_predict": 8, "temperature": 0}
SYSTEM = "You answer in one short sentence, plainly, without lists, headings or greetings of any kind."


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> Iterator[RunningServer]:
    """The remote engine: another serve, holding smollm2 itself."""
    running = serving(tmp_path_factory.mktemp("engine"), smollm2_gguf, OLLAMA_NUM_PARALLEL="2")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory, engine: RunningServer) -> Iterator[RunningServer]:
    """The server users reach: nothing local; one model declared by the admin, on the engine."""
    declared = {"team": {"from": "smollm2", "remote_host": engine.url, "system": SYSTEM}}
    running = start_server(tmp_path_factory.mktemp("front"), OLLAMA_REMOTE_MODELS=json.dumps(declared),
                           OLLAMA_REMOTE_CHECK_INTERVAL="0.3")  # OLLAMA_REMOTES left at its default: ollama.com
    yield running
    running.stop()


def test_a_declared_model_is_listed_and_used_without_creating_anything(front: RunningServer, engine: RunningServer) -> None:
    client = ollama.Client(host=front.url)
    assert [m.model for m in client.list().models] == ["team:latest"]
    tags = httpx.get(front.url + "/api/tags").json()["models"][0]
    assert tags["remote_model"] == "smollm2" and tags["remote_host"] == engine.url
    reply = client.chat(model="team", messages=[{"role": "user", "content": "Hi"}], options=SHORT)
    assert reply.message.content and reply.eval_count == 8
    # Our SYSTEM went with the request: the engine read more prompt than for the bare message
    # (with its own default system prompt, which is shorter).
    assert f"SYSTEM {SYSTEM}" in client.show("team").modelfile
    direct = ollama.Client(host=engine.url).chat(model="smollm2", messages=[{"role": "user", "content": "Hi"}], options=SHORT)
    assert reply.prompt_eval_count > direct.prompt_eval_count
    generated = client.generate(model="team", prompt="Why is the sky blue?", options=SHORT, stream=False)
    assert generated.response and generated.done_reason == "length"
    # The engine is a jupyter-ollama: its /health gives the model's slots, once it is loaded there.
    ps = httpx.get(front.url + "/api/ps").json()["models"][0]
    engine_state = ps["remote"]["engines"][0]
    assert engine_state["api"] == "ollama" and engine_state["state"] == "up"
    assert engine_state["signal"] == "health" and engine_state["slots_total"] == 2 and ps["slots_total"] == 2
    # A user's copy of it is the user's model: OLLAMA_REMOTES (here the default, ollama.com) applies to it.
    client.copy("team", "mine")
    with pytest.raises(ollama.ResponseError) as refused:
        client.chat(model="mine", messages=[{"role": "user", "content": "Hi"}])
    assert refused.value.status_code == 400 and "cannot run this remote model" in refused.value.error
    client.delete("mine")
    # keep_alive 0 "unloads" it here: its engines are no longer checked, and it leaves /api/ps.
    assert client.chat(model="team", messages=[], keep_alive=0).done_reason == "unload"
    assert httpx.get(front.url + "/api/ps").json()["models"] == []


def test_streaming_tools_thinking_and_embeddings_pass_through(front: RunningServer) -> None:
    client = ollama.Client(host=front.url)
    parts = list(client.chat(model="team", messages=[{"role": "user", "content": "Count"}], options=SHORT, stream=True))
    assert parts[-1].done and "".join(p.message.content for p in parts)
    # The engine decides what the model can do: smollm2 has no thinking there, and says so in its words.
    with pytest.raises(ollama.ResponseError) as refused:
        client.chat(model="team", messages=[{"role": "user", "content": "Hi"}], think=True)
    assert refused.value.status_code == 400 and "does not support thinking" in refused.value.error
    vectors = client.embed(model="team", input=["one", "two"])
    assert len(vectors.embeddings) == 2 and abs(sum(x * x for x in vectors.embeddings[0]) - 1) < 1e-3
    legacy = httpx.post(front.url + "/api/embeddings", json={"model": "team", "prompt": "one"}).json()
    assert len(legacy["embedding"]) == len(vectors.embeddings[0])


def test_a_declared_model_no_longer_declared_goes(tmp_path: Path, engine: RunningServer) -> None:
    models = tmp_path / "models"
    first = start_server(models, OLLAMA_REMOTE_MODELS=json.dumps({"gone": {"from": "smollm2", "remote_host": engine.url}}))
    try:
        assert [m.model for m in ollama.Client(host=first.url).list().models] == ["gone:latest"]
    finally:
        first.stop()
    declarations = tmp_path / "remote-models.json"  # the file form
    declarations.write_text(json.dumps({"kept": {"from": "smollm2", "remote_host": [engine.url]}}))
    second = start_server(models, OLLAMA_REMOTE_MODELS=str(declarations))
    try:
        assert [m.model for m in ollama.Client(host=second.url).list().models] == ["kept:latest"]
    finally:
        second.stop()


def test_a_modelfile_with_remote_lines_through_the_cli(tmp_path: Path, engine: RunningServer) -> None:
    running = start_server(tmp_path / "models", OLLAMA_REMOTES="127.0.0.1")
    try:
        modelfile = tmp_path / "Modelfile"
        modelfile.write_text(f"FROM smollm2\nREMOTE {engine.url} ollama\nPARAMETER temperature 0\n")
        created = running.cli("create", "mine", "-f", str(modelfile))
        assert created.returncode == 0, created.stderr
        shown = running.cli("show", "mine", "--modelfile")
        assert f"REMOTE {engine.url} ollama" in shown.stdout and "FROM smollm2" in shown.stdout
        ran = running.cli("run", "mine", "Say hi")
        assert ran.returncode == 0 and ran.stdout.strip(), ran.stderr
        ps = running.cli("ps")
        assert "mine:latest" in ps.stdout
        # A Modelfile with a REMOTE line naming a host outside the allowlist: refused at create, nothing kept.
        modelfile.write_text("FROM smollm2\nREMOTE http://10.9.8.7:8000 openai\n")
        refused = running.cli("create", "far", "-f", str(modelfile))
        assert refused.returncode != 0 and "this server cannot run this remote model" in refused.stderr
    finally:
        running.stop()


def test_images_reach_a_remote_engine_that_reads_them(tmp_path: Path, server: RunningServer, seeing: str) -> None:
    """The engine is the session's server with a projector model; the front passes images on, natively and from /v1."""
    from tests.projector import png

    image = png(24, 24, (220, 20, 20))
    front = start_server(tmp_path / "front", OLLAMA_REMOTES="127.0.0.1")
    try:
        client = ollama.Client(host=front.url)
        created = httpx.post(front.url + "/api/create", timeout=60, json={  # ollama-python's create has no remote_host
            "model": "far-sight", "from": seeing, "remote_host": server.url, "stream": False})
        assert created.status_code == 200, created.text
        asked = [{"role": "user", "content": "What is this?", "images": [image]}]
        remote = client.chat(model="far-sight", messages=asked, options=SHORT)
        direct = ollama.Client(host=server.url).chat(model=seeing, messages=asked, options=SHORT)
        assert (remote.message.content, remote.prompt_eval_count) == (direct.message.content, direct.prompt_eval_count)
        url = "data:image/png;base64," + base64.b64encode(image).decode()
        body = {"model": "far-sight", "max_tokens": 8, "temperature": 0, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": url}}]}]}
        reply = httpx.post(front.url + "/v1/chat/completions", json=body, timeout=60)
        assert reply.status_code == 200 and reply.json()["usage"]["prompt_tokens"] > 0, reply.text
    finally:
        front.stop()
