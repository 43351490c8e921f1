"""Binder's build steps, run as repo2docker would: a copy of the repository, a fresh environment, postBuild, start.

mybinder.org itself is out of reach from CI; what it runs is not. The environment
here is a clean venv with JupyterLab (what repo2docker's base image provides), and
HOME is a temporary folder, so the model is readied in a store of its own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"


def test_binder_files_follow_repo2docker_rules() -> None:
    assert not (ROOT / ".binder").exists(), "repo2docker refuses binder/ and .binder/ together"
    post_build = (BINDER / "postBuild").read_text()
    assert post_build.startswith("#!/bin/bash") and "set -euo pipefail" in post_build  # otherwise errors are ignored
    start = (BINDER / "start").read_text().strip().splitlines()
    assert start[0] == "#!/bin/bash" and start[-1] == 'exec "$@"'
    for script in ("postBuild", "start"):
        assert os.access(BINDER / script, os.X_OK), f"binder/{script} is not executable"


def repository_copy(dest: Path) -> Path:
    """What a clone holds: tracked files and new ones not ignored (no .venv, no build output)."""
    listed = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def user_cache(env_var: str, default: str) -> str:
    return os.environ.get(env_var) or str(Path.home() / default)


@pytest.mark.timeout(1200)
def test_binder_build_and_start_in_a_clean_environment(tmp_path: Path) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.fail("this test copies the repository as git sees it: run it from a git checkout")
    repo = repository_copy(tmp_path / "repo")
    venv = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {
        "PATH": f"{venv / 'bin'}:{os.environ['PATH']}",
        "HOME": str(tmp_path / "home"),
        "VIRTUAL_ENV": str(venv),
        # The download and build caches of this machine, so llama.cpp is not compiled again.
        "PIP_CACHE_DIR": user_cache("PIP_CACHE_DIR", ".cache/pip"),
        "npm_config_cache": user_cache("npm_config_cache", ".npm"),
        "LANG": "C.UTF-8",
    }
    # repo2docker's base environment already has JupyterLab 4.
    subprocess.run([venv / "bin" / "pip", "install", "-q", "jupyterlab>=4,<5"], env=env, check=True)

    built = subprocess.run(["bash", "binder/postBuild"], cwd=repo, env=env, capture_output=True, text=True)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert "jupyter_ollama" in built.stdout and "jupyter-ollama" in built.stdout  # both extensions listed enabled
    store = tmp_path / "home" / ".local" / "share" / "jupyter" / "ollama" / "models"
    assert (store / "manifests" / "registry.ollama.ai" / "library" / "smollm2" / "latest").is_file()

    started = subprocess.run(["binder/start", "python", "-c",
                              "import os, jupyter_ollama; print(os.environ['OLLAMA_NUM_PARALLEL'], jupyter_ollama.__version__)"],
                             cwd=repo, env=env, capture_output=True, text=True)
    assert started.returncode == 0, started.stderr
    assert started.stdout.split()[0] == "2"
