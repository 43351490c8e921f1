"""The hub's one model manager, on a real JupyterHub (conftest.py): sign-in, who may manage models, users'
servers sharing one runner, model traffic as activity, and what a stream hears when a server stops."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime

import httpx
import ollama
import psutil
import pytest

from .conftest import RunningHub

ASK = [{"role": "user", "content": "Why is the sky blue?"}]
# One request per route family, and how each says "no": Ollama's {"error"}, OpenAI's and Anthropic's shapes.
ROUTES = [
    ("POST", "/api/chat", {"model": "smollm2", "messages": ASK, "stream": False, "options": {"num_predict": 4}},
     lambda body: body["error"]),
    ("GET", "/api/tags", None, lambda body: body["error"]),
    ("POST", "/v1/chat/completions", {"model": "smollm2", "messages": ASK, "max_tokens": 4},
     lambda body: body["error"]["message"]),
    ("POST", "/v1/messages", {"model": "smollm2", "max_tokens": 4, "messages": ASK},
     lambda body: body["type"] == "error" and body["error"]["message"]),
]


def call(hub: RunningHub, method: str, path: str, body: dict | None, headers: dict[str, str]) -> httpx.Response:
    return httpx.request(method, hub.service + path, json=body, headers=headers, timeout=120)


@pytest.mark.parametrize(("method", "path", "body", "message"), ROUTES)
def test_every_route_needs_the_hub(hub: RunningHub, hub_model: str, method, path, body, message):
    no_token = call(hub, method, path, body, {})
    assert no_token.status_code == 401 and "sign in to JupyterHub" in message(no_token.json())
    bad = call(hub, method, path, body, {"Authorization": "token not-a-token"})
    assert bad.status_code == 401 and "sign in to JupyterHub" in message(bad.json())
    # A real token of alice's, without the service's access scope.
    narrow = hub.token("alice", scopes=["read:users:name!user=alice"])
    refused = call(hub, method, path, body, {"Authorization": f"Bearer {narrow}"})
    assert refused.status_code == 403 and "access:services!service=ollama" in message(refused.json())
    allowed = call(hub, method, path, body, hub.headers("alice"))
    assert allowed.status_code == 200, allowed.text


def test_anthropic_clients_sign_in_with_x_api_key(hub: RunningHub, hub_model: str):
    reply = httpx.post(hub.service + "/v1/messages?beta=true", headers={"x-api-key": hub.token("bob")}, timeout=120,
                       json={"model": "smollm2", "max_tokens": 4, "messages": ASK})
    assert reply.status_code == 200 and reply.json()["type"] == "message"


def test_a_browser_is_sent_through_the_hubs_sign_in(hub: RunningHub):
    page = httpx.get(hub.service + "/api/tags", headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 302
    assert page.headers["location"].startswith("/hub/api/oauth2/authorize?client_id=service-ollama")


def test_only_admins_and_the_admin_group_manage_models(hub: RunningHub, hub_model: str, tmp_path):
    blob = tmp_path / "new.bin"
    blob.write_bytes(b"a blob the service does not have " + str(time.time()).encode())
    alice = ollama.Client(host=hub.service, headers=hub.headers("alice"))
    who = "only JupyterHub admins and members of the 'ollama-admins' group may"
    for attempt, action in [
        (lambda: alice.copy("smollm2", "alice-copy"), "copy"),
        (lambda: alice.delete("smollm2"), "delete"),
        (lambda: alice.pull("registry.invalid/x/y", stream=False), "pull"),
        (lambda: alice.push("smollm2", stream=False), "push"),
        (lambda: alice.create(model="mine", from_="smollm2", system="Be brief."), "create"),
        (lambda: alice.create_blob(blob), "upload blobs for"),
    ]:
        with pytest.raises(ollama.ResponseError) as refused:
            attempt()
        assert refused.value.status_code == 403 and f"{who} {action} models" in refused.value.error
    # Reading is everyone's: list, show, ps.
    assert [m.model for m in alice.list().models] == ["smollm2:latest"]
    assert alice.show("smollm2").capabilities and isinstance(alice.ps().models, list)
    # carol is in ollama-admins; root-admin is a Hub admin.
    for user in ("carol", "root-admin"):
        manager = ollama.Client(host=hub.service, headers=hub.headers(user))
        manager.copy("smollm2", f"{user}-copy")
        manager.create(model=f"{user}-brief", from_="smollm2", system="Be brief.")
        names = {m.model for m in manager.list().models}
        assert {f"{user}-copy:latest", f"{user}-brief:latest"} <= names
        manager.delete(f"{user}-copy")
        manager.delete(f"{user}-brief")
    assert [m.model for m in alice.list().models] == ["smollm2:latest"]


def runners_of(pid: int) -> list[psutil.Process]:
    return [p for p in psutil.Process(pid).children(recursive=True) if "jupyter_ollama.runner" in " ".join(p.cmdline())]


def test_two_users_chat_through_their_servers_on_one_runner(hub: RunningHub, hub_model: str):
    """alice and bob chat at once, each through the `/ollama` routes of their own server: the service loads the
    model once, and their servers hold no manager, no runner and no store."""
    clients = {user: ollama.Client(host=hub.start_server(user), headers=hub.headers(user)) for user in ("alice", "bob")}
    replies: dict[str, str] = {}

    def chat(user: str) -> None:
        reply = clients[user].chat(model="smollm2", messages=[{"role": "user", "content": f"Say hello to {user}."}],
                                   options={"temperature": 0, "num_predict": 16})
        replies[user] = reply.message.content

    threads = [threading.Thread(target=chat, args=(user,)) for user in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert set(replies) == {"alice", "bob"} and all(replies.values())
    assert len(runners_of(hub.service_pid())) == 1
    for user in clients:
        assert runners_of(hub.server_pid(user)) == []
        assert not list((hub.tmp / "home" / user).rglob("manifests")), f"{user}'s server made a model store"
    (loaded,) = clients["alice"].ps().models
    assert loaded.model == "smollm2:latest"
    log = (hub.tmp / "hub.log").read_text()
    assert "POST /services/ollama/api/chat (alice@" in log and "POST /services/ollama/api/chat (bob@" in log


def hub_activity(hub: RunningHub, user: str) -> datetime:
    stamp = hub.server_model(user)["last_activity"]  # type: ignore[index]
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_model_traffic_is_the_servers_activity(hub: RunningHub, hub_model: str):
    """A chat through alice's server moves the activity the Hub (and its idle culler) sees for that server."""
    server = hub.start_server("alice")
    time.sleep(3)  # what the server reported last is settled (it reports every second here)
    before = hub_activity(hub, "alice")
    ollama.Client(host=server, headers=hub.headers("alice")).chat(model="smollm2", messages=ASK,
                                                                   options={"num_predict": 4})
    deadline = time.monotonic() + 30
    while hub_activity(hub, "alice") <= before:
        assert time.monotonic() < deadline, "the Hub never heard of the model traffic"
        time.sleep(0.5)


def test_a_stopping_server_says_so_to_its_streams(hub: RunningHub, hub_model: str):
    """bob's server stops under a streamed chat it forwards: the stream's last line says the server is shutting
    down (not a runner failure), and the service frees the slot."""
    server = hub.start_server("bob")
    lines: list[dict] = []
    with httpx.stream("POST", server + "/api/chat", headers=hub.headers("bob"), timeout=300, json={
            "model": "smollm2", "messages": [{"role": "user", "content": "Count from one to one thousand."}],
            "options": {"num_predict": 2000}}) as reply:
        assert reply.status_code == 200
        for line in reply.iter_lines():
            lines.append(json.loads(line))
            if len(lines) == 3:  # streaming: stop bob's server under it
                threading.Thread(target=hub.stop_server, args=("bob",)).start()
    assert lines[-1] == {"error": "the server is shutting down"}, lines[-3:]
    service = ollama.Client(host=hub.service, headers=hub.headers("carol"))
    deadline = time.monotonic() + 60
    while True:  # the service saw bob's server hang up: no slot stays busy
        busy = [m for m in httpx.get(hub.service + "/api/ps", headers=hub.headers("carol"), timeout=30).json()["models"]
                if m.get("slots_busy")]
        if not busy:
            break
        assert time.monotonic() < deadline, busy
        time.sleep(0.5)
    assert service.list().models


def test_fair_turns_between_users(hub: RunningHub, hub_model: str):
    """alice queues 8 streams on the model's 4 slots; bob's one request, asked after them, is next in line, and
    /api/ps tells each of them where they stand beside the totals."""
    def ps(user: str) -> dict:
        models = httpx.get(hub.service + "/api/ps", headers=hub.headers(user), timeout=30).json()["models"]
        loaded = [m for m in models if m["model"] == "smollm2:latest"]
        return loaded[0] if loaded else {"slots_busy": 0, "requests_queued": 0, "you": {"queued": 0}}  # not loaded yet

    def chat(user: str, tokens: int, started: list[str]) -> None:
        # A raw prompt the model continues for as long as it is let (it counts on), token by token (no guessing,
        # which counting would speed up unevenly), so each holds its slot as long as it asked.
        with httpx.stream("POST", hub.service + "/api/generate", headers=hub.headers(user), timeout=600, json={
                "model": "smollm2", "prompt": f"{user}: 1, 2, 3, 4, 5, 6, 7, 8,", "raw": True,
                "options": {"num_predict": tokens, "temperature": 0, "draft_num_predict": 0}}) as reply:
            lines = reply.iter_lines()
            for line in lines:
                if json.loads(line).get("response"):
                    started.append(user)  # its first token: it had a slot
                    break
            for _ in lines:  # the rest, to the end: the slot is held as long as it asked
                pass

    order: list[str] = []
    # Each of alice's asks for a different length, so her slots free one at a time, 30 tokens apart.
    floods = [threading.Thread(target=chat, args=("alice", 100 + 30 * i, order)) for i in range(8)]
    for thread in floods:
        thread.start()
    deadline = time.monotonic() + 300
    while (seen := ps("alice"))["requests_queued"] != 4:
        assert time.monotonic() < deadline, seen
        time.sleep(0.1)
    assert seen["slots_busy"] == 4 and seen["you"] == {"busy": 4, "queued": 4, "position": 1}
    asker = threading.Thread(target=chat, args=("bob", 4, order))
    asker.start()
    while (seen := ps("bob"))["you"]["queued"] != 1:
        assert time.monotonic() < deadline, seen
        time.sleep(0.05)
    assert seen["you"] == {"busy": 0, "queued": 1, "position": 1}  # ahead of alice's waiting ones
    asker.join(timeout=600)
    for thread in floods:
        thread.join(timeout=600)
    assert order.index("bob") == 4  # the first slot to free after alice's first four went to bob
