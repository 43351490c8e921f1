"""PullWidget against a real server pulling from the loopback registry."""

from __future__ import annotations

import httpx
import pytest

from jupyter_ollama.widgets import PullWidget
from jupyter_ollama.widgets.pull import Speed

from ..conftest import wait_for
from ..registry_server import Registry, file_digest
from .conftest import updates

MODEL = "application/vnd.ollama.image.model"
SYSTEM = "application/vnd.ollama.image.system"


@pytest.fixture(scope="module")
def registry(tmp_path_factory, smollm2_gguf):
    reg = Registry(tmp_path_factory.mktemp("registry"))
    reg.publish("library/smol", "latest", [(MODEL, smollm2_gguf), (SYSTEM, b"You are terse.")])
    yield reg
    reg.close()


@pytest.fixture(scope="module")
def puller(tmp_path_factory):
    from ..conftest import start_server

    running = start_server(tmp_path_factory.mktemp("models"), OLLAMA_PULL_PART_SIZE=str(8 << 20))
    yield running
    running.stop()


def names(server) -> list[str]:  # type: ignore[no-untyped-def]
    return [m["name"] for m in httpx.get(server.url + "/api/tags", timeout=30).json()["models"]]


def test_pull_shows_each_layer_then_success(registry, puller, smollm2_gguf):
    registry.source.rate = 40_000_000  # ~2.5 s for the model layer: progress has time to show
    try:
        pull = PullWidget(f"{registry.host}/library/smol", insecure=True, endpoint=puller.url)
        assert pull.wait(300) is True
    finally:
        registry.source.rate = None
    assert pull.done and pull.success and pull.error == "" and pull.status == "success"
    size = smollm2_gguf.stat().st_size
    layers = {layer["digest"]: layer for layer in pull.layers}
    assert len(layers) == 3  # model, system, config
    model = layers[file_digest(smollm2_gguf)]
    assert model["completed"] == model["total"] == size and model["status"].startswith("pulling ")
    assert all(layer["completed"] == layer["total"] > 0 for layer in layers.values())
    assert pull.completed == pull.total == sum(layer["total"] for layer in layers.values())

    # On the way: the model layer part done, a speed and a time left, at a bounded rate of updates.
    sent = updates(pull)
    partial = [u for u in sent if "layers" in u and any(0 < x["completed"] < x["total"] == size for x in u["layers"])]
    assert partial and any(u.get("speed", 0) > 0 for u in sent) and any(u.get("eta") for u in sent)
    statuses = [u["status"] for u in sent if "status" in u]
    assert statuses[0] == "starting" and "pulling manifest" in statuses and statuses[-1] == "success"
    assert pull.speed == 0.0 and pull.eta is None  # over
    assert f"{registry.host}/library/smol:latest" in names(puller)


def test_missing_model_shows_the_error(registry, puller):
    pull = PullWidget(f"{registry.host}/library/nothing", insecure=True, endpoint=puller.url)
    assert pull.wait(60) is False
    assert pull.done and not pull.success and pull.error == "pull model manifest: file does not exist"
    assert pull.layers == []


def test_bad_names_and_no_server(puller):
    bad = PullWidget("a/b/c/d/e", endpoint=puller.url)
    assert bad.wait(60) is False and bad.error == "invalid model name"
    empty = PullWidget("  ", endpoint=puller.url)
    assert empty.wait(5) is False and empty.error == "give the name of a model to pull" and empty.done
    nowhere = PullWidget("smollm2", endpoint="http://127.0.0.1:9")
    assert nowhere.wait(30) is False and nowhere.error.startswith("could not connect to the server at http://127.0.0.1:9")


def test_cancel_stops_the_download(registry, puller, smollm2_gguf):
    registry.publish("library/slow", "latest", [(MODEL, smollm2_gguf), (SYSTEM, b"slow")])
    httpx.request("DELETE", puller.url + "/api/delete", json={"model": f"{registry.host}/library/smol"}, timeout=30)
    registry.source.rate = 5_000_000  # ~20 s for the whole model: cancelled long before
    try:
        pull = PullWidget(f"{registry.host}/library/slow", insecure=True, endpoint=puller.url)
        wait_for(lambda: any(x["completed"] > 0 for x in pull.layers if x["total"] > 1 << 20), timeout=120)
        pull.cancel()
        assert pull.wait(60) is False
    finally:
        registry.source.rate = None
    assert pull.error == "cancelled" and pull.done and not pull.success
    assert f"{registry.host}/library/slow:latest" not in names(puller)


def test_speed_and_time_left():
    speed = Speed()
    assert speed.rate == 0.0 and speed.eta(100) is None
    speed.add(10.0, 0)
    speed.add(11.0, 1000)
    assert speed.rate == 1000.0 and speed.eta(5000) == 5.0
    speed.add(20.0, 1000)  # stalled: the old samples leave the window
    assert speed.rate == 0.0 and speed.eta(5000) is None
