"""A real JupyterHub on loopback: the docs' recipe (docs/jupyterhub.md), three users, the service, their servers.

JupyterHub from PyPI, its proxy (configurable-http-proxy) from npm (tests/clients/hub, installed by
`make setup`), DummyAuthenticator and SimpleLocalProcessSpawner. The Hub's config is the recipe's
block, executed as written, plus only what a test harness needs: loopback ports, the proxy's path,
the database and the users' homes in tmp, `--allow-root` (CI runs as root), a models folder of the
test's own (`environment` on the service), an admin's API token for the tests, and time for a slow
start on two busy cores. The recipe's service URL stays `http://127.0.0.1:11434`, so the user
servers find the service as the recipe says (the Hub's host at 11434).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from ..conftest import free_port

ROOT = Path(__file__).parents[2]
PROXY = ROOT / "tests" / "clients" / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
RECIPE_DOC = ROOT / "docs" / "jupyterhub.md"
ADMIN_TOKEN = "tests-admin-token-0123456789abcdef"
SERVICE_PORT = 11434
PASSWORD = "hub-test-password"
USERS = ("alice", "bob", "carol", "dave")  # carol is in ollama-admins (the recipe); dave is for the benchmark's fourth user


def recipe() -> str:
    """The first Python block of docs/jupyterhub.md: what a hub admin copies."""
    return re.search(r"```python\n(.*?)```", RECIPE_DOC.read_text(), re.S).group(1)  # type: ignore[union-attr]


def harness(tmp: Path, port: int, hub_port: int, proxy_port: int, shared: bool = True) -> str:
    """The test harness's lines. `shared=False` drops the recipe's JUPYTER_OLLAMA_HUB_SERVICE, so each user's server
    runs a manager of its own, with a store in its home (the per-user setup the benchmark compares against)."""
    per_user = "" if shared else 'c.Spawner.environment.pop("JUPYTER_OLLAMA_HUB_SERVICE")\n'
    return per_user + f"""
import sys
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_port}"
c.ConfigurableHTTPProxy.command = [{str(PROXY)!r}]
c.JupyterHub.db_url = "sqlite:///{tmp}/hub.sqlite"
c.JupyterHub.cookie_secret_file = "{tmp}/cookie_secret"
c.JupyterHub.pid_file = "{tmp}/hub.pid"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {PASSWORD!r}
c.Authenticator.allowed_users = {set(USERS)!r}
c.Authenticator.admin_users = {{"root-admin"}}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{tmp}/home/{{username}}"
c.Spawner.args = ["--allow-root"]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.JupyterHub.tornado_settings = {{"slow_spawn_timeout": 120}}
c.JupyterHub.load_roles.append({{"name": "tests", "scopes": ["admin:users", "admin:servers", "admin:server_state",
                                                              "tokens", "read:services", "groups"],
                                  "services": ["tests"]}})
c.JupyterHub.services.append({{"name": "tests", "api_token": {ADMIN_TOKEN!r}}})
c.JupyterHub.services[0]["environment"] = {{"OLLAMA_MODELS": "{tmp}/models"}}
# The servers report activity to the Hub often enough for a test to see it.
c.Spawner.environment["JUPYTERHUB_ACTIVITY_INTERVAL"] = "1"
"""


@dataclass
class RunningHub:
    url: str  # the proxy: the hub's public address, http://127.0.0.1:PORT
    api: str  # the Hub's API, http://127.0.0.1:HUB_PORT/hub/api
    tmp: Path
    process: subprocess.Popen
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def service(self) -> str:
        """The service through the Hub's proxy."""
        return self.url + "/services/ollama"

    def admin(self, method: str, path: str, **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def]
        return httpx.request(method, self.api + path, headers={"Authorization": f"token {ADMIN_TOKEN}"}, timeout=180, **kwargs)

    def token(self, user: str, scopes: list[str] | None = None) -> str:
        """A Hub API token of `user`'s (with all its scopes unless `scopes` narrows them)."""
        if scopes is None and user in self.tokens:
            return self.tokens[user]
        body = {"note": "tests", **({"scopes": scopes} if scopes is not None else {})}
        reply = self.admin("POST", f"/users/{user}/tokens", json=body)
        assert reply.status_code == 201, reply.text
        token = reply.json()["token"]
        if scopes is None:
            self.tokens[user] = token
        return token

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"token {self.token(user)}"}

    def start_server(self, user: str) -> str:
        """Start `user`'s server (once) and return its `/ollama` URL through the proxy."""
        if not self.server_model(user):
            reply = self.admin("POST", f"/users/{user}/server")
            assert reply.status_code in (201, 202), reply.text
            deadline = time.monotonic() + 180
            while not (self.server_model(user) or {}).get("ready"):
                assert time.monotonic() < deadline, f"{user}'s server did not start"
                time.sleep(0.5)
        return f"{self.url}/user/{user}/ollama"

    def server_model(self, user: str) -> dict | None:
        return self.admin("GET", f"/users/{user}").json()["servers"].get("")

    def server_pid(self, user: str) -> int:
        return int(self.server_model(user)["state"]["pid"])  # type: ignore[index]

    def stop_server(self, user: str) -> None:
        self.admin("DELETE", f"/users/{user}/server")
        deadline = time.monotonic() + 60
        while self.server_model(user):
            assert time.monotonic() < deadline, f"{user}'s server did not stop"
            time.sleep(0.3)

    def service_pid(self) -> int:
        return int(self.admin("GET", "/services/ollama").json()["pid"])

    def stop(self) -> None:
        """The Hub, the service and every user server, each by its process id."""
        pids = [self.service_pid()] if self.process.poll() is None else []
        for user in USERS:
            if self.process.poll() is None and (self.server_model(user) or {}).get("state"):
                pids.append(self.server_pid(user))
        self.process.send_signal(signal.SIGTERM)  # the Hub stops its service and the servers it spawned
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def start_hub(tmp: Path, shared: bool = True) -> RunningHub:
    if not PROXY.exists():
        pytest.fail("configurable-http-proxy is not installed: run `make setup` (npm ci in tests/clients/hub)")
    with httpx.Client() as probe:
        try:
            probe.get(f"http://127.0.0.1:{SERVICE_PORT}/", timeout=1)
            pytest.fail(f"something already listens on 127.0.0.1:{SERVICE_PORT}, where the recipe runs the service")
        except httpx.TransportError:
            pass
    port, hub_port, proxy_port = free_port(), free_port(), free_port()
    for user in USERS:  # no "get Jupyter news?" toast over the screenshots
        settings = tmp / "home" / user / ".jupyter" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    config = tmp / "jupyterhub_config.py"
    config.write_text(recipe() + harness(tmp, port, hub_port, proxy_port, shared))
    scripts = str(Path(sys.executable).parent)  # jupyter-ollama and jupyterhub-singleuser, as installed
    env = {**os.environ, "PATH": scripts + os.pathsep + os.environ.get("PATH", "")}
    for key in ("OLLAMA_HOST", "OLLAMA_MODELS", "JUPYTER_OLLAMA_URL", "JUPYTER_OLLAMA_TOKEN"):
        env.pop(key, None)
    log = (tmp / "hub.log").open("ab")
    process = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f", str(config)], cwd=tmp, env=env,
                               stdout=log, stderr=subprocess.STDOUT)
    log.close()
    hub = RunningHub(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{hub_port}/hub/api", tmp, process)
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, (tmp / "hub.log").read_text()[-5000:]
        assert time.monotonic() < deadline, "the hub did not start: " + (tmp / "hub.log").read_text()[-5000:]
        try:  # the service answers through the proxy (401: it wants a token)
            if httpx.get(hub.service + "/api/version", timeout=2).status_code == 401:
                return hub
        except httpx.TransportError:
            pass
        time.sleep(0.3)


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningHub]:
    running = start_hub(tmp_path_factory.mktemp("hub"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
def hub_model(hub: RunningHub, smollm2_gguf: Path) -> str:
    """SmolLM2 on the service, created by carol (a member of ollama-admins) through the service."""
    import ollama

    carol = ollama.Client(host=hub.service, headers=hub.headers("carol"))
    carol.create(model="smollm2", files={"m.gguf": carol.create_blob(smollm2_gguf)})
    return "smollm2"
