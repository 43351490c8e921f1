"""`make run`'s steps: ready the tiny model in the store, then JupyterLab on the quickstart with the API there."""

from __future__ import annotations

import re
import secrets
import subprocess
import sys
from pathlib import Path

import httpx

from .conftest import free_port, wait_for
from .kernel.conftest import clean_env

ROOT = Path(__file__).resolve().parents[1]


def run_recipe() -> list[str]:
    text = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^run: setup\n((?:\t.*\n)+)", text, re.M)
    assert recipe, "the Makefile has no `run` target"
    quickstart = re.search(r"^QUICKSTART := (.+)$", text, re.M)
    assert quickstart, "the Makefile names no QUICKSTART page"
    return [
        line.replace("$(BIN)/", "").replace("$(ALLOW_ROOT)", "").replace("$(QUICKSTART)", quickstart.group(1)).strip()
        for line in recipe.group(1).splitlines()
    ]


def test_demo_readies_the_model_once(tmp_path: Path) -> None:
    env = clean_env(OLLAMA_MODELS=str(tmp_path / "models"))
    first = subprocess.run([sys.executable, "-m", "jupyter_ollama.demo"], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "creating 'smollm2'" in first.stdout and "'smollm2' is ready" in first.stdout
    assert (tmp_path / "models" / "manifests" / "registry.ollama.ai" / "library" / "smollm2" / "latest").is_file()
    again = subprocess.run([sys.executable, "-m", "jupyter_ollama.demo"], env=env, capture_output=True, text=True)
    assert again.returncode == 0 and again.stdout == ""  # found, not created again


def test_make_run_opens_jupyterlab_on_the_quickstart_with_the_model(tmp_path: Path) -> None:
    demo, lab = run_recipe()
    assert demo == "python -m jupyter_ollama.demo"
    assert lab == "jupyter lab --LabApp.default_url=/lab/tree/notebooks/01-quickstart.ipynb"
    env = clean_env(
        OLLAMA_MODELS=str(tmp_path / "models"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "config")
    )
    subprocess.run([sys.executable, "-m", "jupyter_ollama.demo"], env=env, check=True, capture_output=True)
    port, token = free_port(), secrets.token_hex(16)
    opened = tmp_path / "opened.txt"
    # The "browser" writes down the URL it was asked to open.
    browser = f"{sys.executable} -c \"import sys; open({str(opened)!r}, 'w').write(sys.argv[1])\" %s"
    with open(tmp_path / "lab.log", "w") as log:  # the server writes to its own copy of the handle
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                *lab.split()[2:],
                f"--ServerApp.browser={browser}",
                "--ip=127.0.0.1",
                f"--port={port}",
                f"--IdentityProvider.token={token}",
                "--allow-root",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    base, auth = f"http://127.0.0.1:{port}/", {"Authorization": f"token {token}"}
    try:

        def up() -> bool:
            assert process.poll() is None, (tmp_path / "lab.log").read_text()
            try:
                return httpx.get(base + "api/status", headers=auth, timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, timeout=90)
        wait_for(opened.exists, timeout=30)
        # Jupyter opens a local page that redirects (with the token) to the notebook.
        redirect = Path(opened.read_text().removeprefix("file://")).read_text()
        url = re.search(r'href="([^"]+)"', redirect).group(1)
        quickstart = base + "lab/tree/notebooks/01-quickstart.ipynb?token="
        assert url.startswith(quickstart), url  # the browser opens on the quickstart
        assert httpx.get(url).status_code == 200
        # And so does the URL printed for a browser elsewhere (a container, a remote machine), not the Launcher.
        printed = re.findall(r"http://127\.0\.0\.1:\d+/\S*token=\S*", (tmp_path / "lab.log").read_text())
        assert printed and all(u.startswith(quickstart) for u in printed), printed
        tags = httpx.get(base + "ollama/api/tags", headers=auth).json()
        assert [m["name"] for m in tags["models"]] == ["smollm2:latest"]
    finally:
        process.terminate()
        process.wait(timeout=30)
