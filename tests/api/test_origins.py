"""What a web page may do with `serve` on loopback: Ollama's origin and Host rules, through a real server."""

from __future__ import annotations

import httpx
import pytest

from jupyter_ollama.api.origins import BrowserGuard, host_allowed

from ..conftest import RunningServer, start_server


@pytest.fixture(scope="module")
def lan(tmp_path_factory) -> RunningServer:
    running = start_server(tmp_path_factory.mktemp("origins"), OLLAMA_ORIGINS="https://notebooks.example.org,https://*.corp.example")
    yield running
    running.stop()


def get(server: RunningServer, path: str = "/api/tags", **headers: str) -> httpx.Response:
    return httpx.get(server.url + path, headers=headers, timeout=10)


def test_clients_without_an_origin_pass(lan):
    assert get(lan).status_code == 200


@pytest.mark.parametrize("origin", [
    "http://localhost:3000", "http://127.0.0.1:8888", "https://localhost", "http://0.0.0.0:5173",
    "vscode-webview://abc123", "app://obsidian.md", "file://", "tauri://localhost",
    "chrome-extension://abcdefghijklmnop", "moz-extension://1234",
    "https://notebooks.example.org", "https://team.corp.example",  # from OLLAMA_ORIGINS, one with a wildcard
])
def test_allowed_origins_are_served_with_cors_headers(lan, origin):
    reply = get(lan, Origin=origin)
    assert reply.status_code == 200
    assert reply.headers["access-control-allow-origin"] == origin and reply.headers["vary"] == "Origin"


@pytest.mark.parametrize("origin", ["https://evil.example", "http://localhost.evil.example", "null", "https://corp.example"])
def test_other_origins_get_403_and_change_nothing(lan, origin):
    for method, path, body in (("GET", "/api/tags", None), ("POST", "/api/pull", {"model": "smollm2"}),
                               ("DELETE", "/api/delete", {"model": "anything"}), ("POST", "/v1/chat/completions", {})):
        reply = httpx.request(method, lan.url + path, json=body, headers={"Origin": origin}, timeout=10)
        assert reply.status_code == 403, (method, path)
        assert "not allowed" in reply.json()["error"] if path.startswith("/api") else reply.json()["error"]["message"]
        assert "access-control-allow-origin" not in reply.headers
    assert get(lan).json() == {"models": []}  # the pull never started


def test_preflights_are_answered_for_allowed_origins_only(lan):
    asked = {"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "content-type, authorization"}
    reply = httpx.options(lan.url + "/api/chat", headers=asked, timeout=10)
    assert reply.status_code == 204
    assert reply.headers["access-control-allow-origin"] == "http://localhost:5173"
    assert "POST" in reply.headers["access-control-allow-methods"]
    assert {"authorization", "content-type"} <= {h.strip().lower() for h in reply.headers["access-control-allow-headers"].split(",")}
    denied = httpx.options(lan.url + "/api/chat", headers={**asked, "Origin": "https://evil.example"}, timeout=10)
    assert denied.status_code == 403


@pytest.mark.parametrize("host", ["evil.example", "evil.example:11434", "rebind.attacker.com:80", "8.8.8.8"])
def test_a_loopback_server_refuses_foreign_host_names(lan, host):
    # DNS rebinding: a page on evil.example resolves its own name to 127.0.0.1 and reads the replies.
    reply = get(lan, Host=host)
    assert reply.status_code == 403 and "is not allowed" in reply.json()["error"]


@pytest.mark.parametrize("host", ["127.0.0.1:11434", "localhost", "[::1]:11434", "my-box.local", "gpu.internal:8080",
                                  "app.localhost", "10.1.2.3", "192.168.1.20:11434", "0.0.0.0"])
def test_names_of_this_machine_are_served(lan, host):
    assert get(lan, Host=host).status_code == 200


def test_the_rules_as_functions():
    assert host_allowed("") and host_allowed("LOCALHOST:1") and not host_allowed("example.com")
    wide = BrowserGuard(("*",), check_host=True)
    assert wide.origin_allowed("https://anything.example", "127.0.0.1:11434")
    strict = BrowserGuard.for_bind_address("127.0.0.1")
    assert strict.check_host and not BrowserGuard.for_bind_address("0.0.0.0").check_host
    assert strict.origin_allowed("http://127.0.0.1:11434", "127.0.0.1:11434")  # same origin
    assert not strict.origin_allowed("http://127.0.0.1.evil.example", "127.0.0.1:11434")


def test_the_kernel_side_server_checks_its_token_and_origins():
    from jupyter_ollama.discovery.embedded import EmbeddedServer

    embedded = EmbeddedServer()
    embedded.start()
    try:
        token = {"Authorization": f"Bearer {embedded.token}"}
        assert httpx.get(embedded.url + "/api/tags", headers=token).status_code == 200
        assert httpx.get(embedded.url + "/api/tags").status_code == 401
        evil = httpx.get(embedded.url + "/api/tags", headers={**token, "Origin": "https://evil.example"})
        assert evil.status_code == 403
        rebound = httpx.get(embedded.url + "/api/tags", headers={**token, "Host": "evil.example"})
        assert rebound.status_code == 403
        preflight = httpx.options(embedded.url + "/api/tags", headers={
            "Origin": "vscode-webview://x", "Access-Control-Request-Method": "GET"})
        assert preflight.status_code == 204  # a preflight carries no token; the request that follows must
    finally:
        embedded.stop()
