"""JupyterLab with the extension, a loopback registry to pull from, and Debian's Chromium."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from jupyter_ollama.store.gguf import read_gguf

from ..conftest import free_port
from ..kernel.conftest import clean_env
from ..registry_server import Registry

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
MODEL = "application/vnd.ollama.image.model"


def chromium_path() -> str:
    """Debian's Chromium (`make setup` installs it): Playwright's own browser download is not reachable."""
    found = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("Chromium is missing: the browser tests need Debian's `chromium` "
                    "(apt-get install -y chromium, which `make setup` runs), or CHROMIUM=/path/to/chrome")
    return found


@dataclass
class JupyterLab:
    url: str  # http://127.0.0.1:PORT/a%40b/
    token: str
    models_dir: Path
    log: Path

    @property
    def ollama_url(self) -> str:
        return self.url + "ollama"

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def]
        headers = {"Authorization": f"token {self.token}"}
        return httpx.request(method, f"{self.ollama_url}/{path}", headers=headers, timeout=120, **kwargs)


def start_lab(root: Path, root_dir: Path, args: tuple[str, ...] = (), **env: str) -> tuple[JupyterLab, subprocess.Popen]:
    """`jupyter lab` with the extension under a prefixed base_url and a token, its settings and workspaces under
    `root` (no "get Jupyter news?" toast over the screenshots), serving `root_dir`; `args`: more command-line
    options, `env`: more environment (OLLAMA_MODELS among them). Returns once the API answers."""
    port, token = free_port(), secrets.token_hex(16)
    settings = root / "settings"
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    environment = clean_env(JUPYTER_CONFIG_DIR=str(root / "config"), JUPYTER_RUNTIME_DIR=str(root / "runtime"),
                            JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(root / "workspaces"), **env)
    log = root / "lab.log"
    with open(log, "w") as log_file:  # the server writes to its own copy of the handle
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
             f"--IdentityProvider.token={token}", "--ServerApp.base_url=/a%40b/", f"--ServerApp.root_dir={root_dir}",
             "--ServerApp.jpserver_extensions={'jupyter_ollama': True}", "--ServerApp.allow_unauthenticated_access=False",
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", *args],
            env=environment, stdout=subprocess.DEVNULL, stderr=log_file,
        )
    lab = JupyterLab(f"http://127.0.0.1:{port}/a%40b/", token, Path(env["OLLAMA_MODELS"]), log)
    deadline = time.monotonic() + 120
    while True:
        try:
            if lab.api("GET", "api/version").status_code == 200:
                return lab, process
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("jupyter lab did not start:\n" + log.read_text())
        time.sleep(0.2)


@pytest.fixture(scope="session")
def jupyter_lab(tmp_path_factory, smollm2_gguf):
    """`jupyter lab` with the extension under a prefixed base_url and a token, with `smollm2` created."""
    root = tmp_path_factory.mktemp("lab")
    lab, process = start_lab(root, root, OLLAMA_MODELS=str(tmp_path_factory.mktemp("labmodels")), OLLAMA_KEEP_ALIVE="10m",
                             # Remote models on loopback engines (test_sidebar_remote), checked twice a second.
                             OLLAMA_REMOTES="127.0.0.1", OLLAMA_REMOTE_CHECK_INTERVAL="0.5")
    import ollama

    client = ollama.Client(host=lab.ollama_url, headers={"Authorization": f"token {lab.token}"})
    # Short replies keep the chat step quick; the rest is the model as the other tests use it.
    client.create(model="smollm2", files={"m.gguf": client.create_blob(smollm2_gguf)}, parameters={"num_predict": 48})
    yield lab
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture(scope="session")
def registry(tmp_path_factory, gemma_gguf):
    """A loopback registry serving `library/tiny:latest`: Gemma 3 270M, whose blob the lab's store lacks."""
    reg = Registry(tmp_path_factory.mktemp("registry"))
    reg.publish("library/tiny", "latest", [(MODEL, gemma_gguf)], read_gguf(gemma_gguf, max_array_len=1024).config_blob())
    yield reg
    reg.close()


@pytest.fixture
def browser_page():
    """A Chromium page (1280×900) that fails the test on uncaught page errors."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable,
                                    args=["--headless", "--no-sandbox", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("pageerror", lambda error: errors.append(str(error)))
        yield page
        browser.close()
    assert not errors, f"uncaught errors in the page: {errors}"
