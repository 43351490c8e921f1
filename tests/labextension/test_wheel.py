"""The built wheel carries the JupyterLab extension: installed where there is no Node, it is enabled."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from jupyter_ollama import __version__

ROOT = Path(__file__).resolve().parents[2]
BUILT = ROOT / "jupyter_ollama" / "labextension"
SHARE = "share/jupyter/labextensions/jupyter-ollama"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    assert (BUILT / "package.json").is_file(), f"{BUILT} is missing: run `make labextension`"
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
                   check=True, capture_output=True, text=True)
    (found,) = out.glob("jupyter_ollama-*.whl")
    return found


def test_wheel_ships_the_built_extension(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    data = f"jupyter_ollama-{__version__}.data/data/{SHARE}/"
    assert data + "package.json" in names and data + "install.json" in names
    assert any(re.fullmatch(re.escape(data) + r"static/remoteEntry\.[0-9a-f]+\.js", n) for n in names)
    assert not any(n.startswith("jupyter_ollama/labextension/") for n in names)  # once, as data only


def test_wheel_in_a_clean_venv_without_node_enables_the_extension(wheel: Path, tmp_path: Path) -> None:
    env = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True, text=True)
    # JupyterLab and the other dependencies come from the test environment's site-packages
    # (a plain path: its .pth files, the editable install of this repo among them, are not run).
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    Path(purelib, "_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    path = str(env / "bin")
    assert shutil.which("node", path=path) is None and shutil.which("npm", path=path) is None
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "PYTHON", "VIRTUAL_ENV"))}
    clean.update(PATH=path, HOME=str(tmp_path), JUPYTER_DATA_DIR=str(tmp_path / "data"),
                 JUPYTER_CONFIG_DIR=str(tmp_path / "config"))
    where = subprocess.run([str(python), "-c", "import jupyter_ollama; print(jupyter_ollama.__file__)"],
                           env=clean, cwd=tmp_path, check=True, capture_output=True, text=True).stdout
    assert where.startswith(purelib), where  # the wheel's copy, not the repo's
    listed = subprocess.run([str(python), "-m", "jupyterlab.labextensions", "list"],
                            env=clean, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    text = re.sub(r"\x1b\[[0-9;]*m", "", listed.stdout + listed.stderr)
    assert listed.returncode == 0, text
    assert str(env / "share" / "jupyter" / "labextensions") in text, text
    assert re.search(rf"jupyter-ollama v{re.escape(__version__)} enabled\s+OK \(python, jupyter-ollama\)", text), text


def test_versions_agree() -> None:
    package = json.loads((ROOT / "labextension" / "package.json").read_text())
    assert package["version"] == __version__


def test_wheel_build_refuses_to_ship_without_the_extension(tmp_path: Path) -> None:
    """A checkout where the extension was never built gets an error, not a wheel without the sidebar."""
    copy = tmp_path / "src"
    skip = shutil.ignore_patterns("__pycache__", "labextension", "node_modules")
    shutil.copytree(ROOT / "jupyter_ollama", copy / "jupyter_ollama", ignore=skip)
    shutil.copytree(ROOT / "jupyter-config", copy / "jupyter-config")
    for name in ("pyproject.toml", "hatch_build.py", "README.md"):
        shutil.copy(ROOT / name, copy / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(copy)],
                           capture_output=True, text=True)
    assert built.returncode != 0
    assert "the JupyterLab extension is not built" in built.stdout + built.stderr
    assert not list(tmp_path.glob("dist/*.whl"))
