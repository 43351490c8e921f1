"""The server extension: auth on every route, the env it gives kernels, and clean start-up checks."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid

import httpx
import pytest
from tornado.websocket import websocket_connect

from jupyter_ollama.api.routes import all_routes, own_verbs
from jupyter_ollama.envconfig import MAX_BODY_SIZE


def concrete(pattern: str) -> str:
    return pattern.replace("(?P<digest>[^/]+)", "sha256:" + "0" * 64)


@pytest.mark.parametrize("auth", [None, "token wrong-token"])
def test_every_route_refuses_unauthenticated_requests(jupyter_server, auth):
    headers = {"Authorization": auth} if auth else {}
    checked = 0
    for pattern, handler, _ in all_routes():
        for verb in own_verbs(handler):
            if verb == "options":
                continue
            url = jupyter_server.ollama_url + ("/" + concrete(pattern) if pattern else "/")
            response = httpx.request(verb.upper(), url, headers=headers, json={"model": "x"}, timeout=30)
            assert response.status_code in (401, 403), (verb, url, response.status_code, response.text[:200])
            assert "Ollama is running" not in response.text and '"models"' not in response.text
            checked += 1
    assert checked >= 20


def test_token_in_header_works_on_every_read_route(jupyter_server):
    headers = {"Authorization": f"token {jupyter_server.token}"}
    assert httpx.get(jupyter_server.ollama_url + "/", headers=headers).text == "Ollama is running"
    for path in ("api/version", "api/tags", "api/ps", "health", "metrics", "api/system"):
        assert httpx.get(f"{jupyter_server.ollama_url}/{path}", headers=headers).status_code == 200, path


def test_errors_keep_ollama_shape_under_jupyter(jupyter_server):
    headers = {"Authorization": f"token {jupyter_server.token}"}
    response = httpx.post(jupyter_server.ollama_url + "/api/show", json={"model": "nope"}, headers=headers)
    assert response.status_code == 404 and response.json() == {"error": "model 'nope' not found"}
    response = httpx.get(jupyter_server.ollama_url + "/api/show", headers=headers)
    assert response.status_code == 405 and "error" in response.json()


def test_json_body_cap_under_jupyter(jupyter_server):
    body = b'{"model": "' + b"a" * MAX_BODY_SIZE + b'"}'
    response = httpx.post(jupyter_server.ollama_url + "/api/show", content=body, timeout=60)
    assert response.status_code == 403  # authentication first: a stranger's body is never read
    headers = {"Authorization": f"token {jupyter_server.token}"}
    response = httpx.post(jupyter_server.ollama_url + "/api/show", content=body, headers=headers, timeout=60)
    assert response.status_code == 413
    assert response.json() == {"error": "request body too large: the limit is 64.0 MiB (OLLAMA_MAX_BODY_SIZE)"}


async def _run_in_server_kernel(server, code: str) -> str:
    """Start a kernel through the Jupyter server's REST API and run `code` in it over the websocket."""
    headers = {"Authorization": f"token {server.token}"}
    async with httpx.AsyncClient(headers=headers) as http:
        kernel = (await http.post(server.url + "api/kernels", json={"name": "python3"})).json()
        try:
            ws_url = server.url.replace("http", "ws", 1) + f"api/kernels/{kernel['id']}/channels?token={server.token}"
            ws = await websocket_connect(ws_url)
            msg_id = uuid.uuid4().hex
            header = {"msg_id": msg_id, "msg_type": "execute_request", "username": "t", "session": uuid.uuid4().hex, "version": "5.3"}
            content = {"code": code, "silent": False, "store_history": False, "user_expressions": {}, "allow_stdin": False}
            await ws.write_message(json.dumps({"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": "shell"}))
            out = []
            while True:
                msg = json.loads(await asyncio.wait_for(ws.read_message(), timeout=120))
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "stream":
                    out.append(msg["content"]["text"])
                if msg["msg_type"] == "error":
                    out.append(msg["content"]["evalue"])
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    return "".join(out)
        finally:
            await http.delete(server.url + f"api/kernels/{kernel['id']}")


def test_kernels_started_by_the_server_find_the_extension(jupyter_server):
    code = "import os\nprint(os.environ['JUPYTER_OLLAMA_URL'])\n%load_ext jupyter_ollama\n%ollama host"
    printed = asyncio.run(_run_in_server_kernel(jupyter_server, code))
    assert jupyter_server.ollama_url in printed
    assert "jupyter_ollama extension" in printed


def test_no_unauthenticated_endpoints_at_start_up(tmp_path):
    """Boot a server with allow_unauthenticated_access=False; any undecorated endpoint of ours fails."""
    script = f"""
import warnings, sys
from jupyter_server.serverapp import ServerApp
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    app = ServerApp(jpserver_extensions={{"jupyter_ollama": True}}, allow_unauthenticated_access=False,
                    reraise_server_extension_failures=True, root_dir={str(tmp_path)!r}, allow_root=True)
    app.initialize(argv=["--port=0"])
bad = [str(w.message) for w in caught if "Extension endpoints without" in str(w.message) and "ollama" in str(w.message)]
print("BAD" if bad else "OK", bad)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            env={**__import__("os").environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")})
    assert result.stdout.startswith("OK"), result.stdout + result.stderr[-2000:]


def test_openai_routes_keep_openai_errors_under_jupyter(jupyter_server):
    headers = {"Authorization": f"token {jupyter_server.token}"}
    body = {"model": "nope", "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(jupyter_server.ollama_url + "/v1/chat/completions", json=body, headers=headers)
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["type"] == "not_found_error" and "nope" in error["message"]


def test_model_traffic_is_the_servers_activity(jupyter_server, smollm2_gguf):
    """jupyter_server's own measure of activity (what an idle culler and JupyterHub read) moves with model traffic."""
    import ollama

    headers = {"Authorization": f"token {jupyter_server.token}"}
    client = ollama.Client(host=jupyter_server.ollama_url, headers=headers)
    client.create(model="active", files={"m.gguf": client.create_blob(smollm2_gguf)})

    def last_activity() -> str:
        return httpx.get(jupyter_server.url + "api/status", headers=headers, timeout=30).json()["last_activity"]

    before = last_activity()
    client.chat(model="active", messages=[{"role": "user", "content": "Hi"}], options={"num_predict": 2})
    assert last_activity() > before  # ISO 8601 in UTC: later sorts after


def test_a_stopping_server_tells_its_streams(tmp_path, smollm2_gguf):
    """SIGTERM under a streamed chat: the stream's last line says the server is shutting down, not that the
    runner failed; and the server exits."""
    import signal

    import ollama

    from .conftest import launch_jupyter_server

    (tmp_path / "root").mkdir()
    server = launch_jupyter_server(tmp_path / "root", tmp_path / "models")
    headers = {"Authorization": f"token {server.token}"}
    try:
        client = ollama.Client(host=server.ollama_url, headers=headers)
        client.create(model="stopping", files={"m.gguf": client.create_blob(smollm2_gguf)})
        lines = []
        with httpx.stream("POST", server.ollama_url + "/api/chat", headers=headers, timeout=120, json={
                "model": "stopping", "messages": [{"role": "user", "content": "Count to a thousand."}],
                "options": {"num_predict": 4000}}) as reply:
            for line in reply.iter_lines():
                lines.append(json.loads(line))
                if len(lines) == 3:
                    server.process.send_signal(signal.SIGTERM)
        assert lines[-1] == {"error": "the server is shutting down"}, lines[-3:]
        assert server.process.wait(timeout=60) is not None
    finally:
        if server.process.poll() is None:
            server.process.kill()


def test_scheduler_settings_are_the_environments_unless_a_trait_says_otherwise(monkeypatch):
    """The extension's settings default to SchedulerSettings' own (the OLLAMA_* variables): one place says them."""
    from jupyter_ollama.extension import JupyterOllama
    from jupyter_ollama.scheduler.settings import SchedulerSettings

    for name, value in {"OLLAMA_NUM_PARALLEL": "2", "OLLAMA_KEEP_ALIVE": "1m", "OLLAMA_MEMORY_BUDGET": "cpu=8GiB",
                        "OLLAMA_USER_MAX_QUEUE": "5", "OLLAMA_GROUP_WEIGHTS": "teachers=4"}.items():
        monkeypatch.setenv(name, value)
    from_environment = JupyterOllama().scheduler_settings()
    assert from_environment == SchedulerSettings()
    assert (from_environment.num_parallel, from_environment.keep_alive) == (2, 60.0)
    assert from_environment.memory_budget == {"cpu": 8 << 30} and from_environment.group_weights == {"teachers": 4.0}

    configured = JupyterOllama(num_parallel=3, keep_alive="-1", memory_budget="1GiB", num_thread=-2,
                               user_max_queue=0, group_weights={"students": 2.0}).scheduler_settings()
    assert (configured.num_parallel, configured.keep_alive, configured.memory_budget) == (3, None, {"*": 1 << 30})
    assert (configured.num_thread, configured.user_max_queue, configured.group_weights) == (0, 0, {"students": 2.0})
    assert configured.context_length == from_environment.context_length  # the rest as the environment says

    bad = JupyterOllama(keep_alive="soon").scheduler_settings()  # a bad setting: the environment's (the log says so)
    assert bad.keep_alive == 60.0
