"""envconfig's list of variables: complete, in the README's table as it is written, in `serve --help`; OLLAMA_DEBUG's levels."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from jupyter_ollama import envconfig
from jupyter_ollama.cli.main import main
from jupyter_ollama.extension import JupyterOllama

README = Path(__file__).resolve().parents[1] / "README.md"
NAME = re.compile(r"(OLLAMA|JUPYTER|JUPYTERHUB|CUDA|HF)_[A-Z0-9_]+")


def listed() -> set[str]:
    return {name for v in envconfig.VARIABLES for name in v.names}


def test_every_variable_envconfig_reads_is_listed():
    source = ast.parse(Path(envconfig.__file__).read_text())
    read = {node.value for node in ast.walk(source)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and NAME.fullmatch(node.value)}
    assert "OLLAMA_PULL_PART_SIZE" in read  # the scan finds them
    assert read - listed() == set()


def test_each_variable_is_listed_once_with_a_meaning():
    names = [name for v in envconfig.VARIABLES for name in v.names]
    assert len(names) == len(set(names))
    assert all(v.meaning.strip() for v in envconfig.VARIABLES)


def test_the_readme_table_is_the_list():
    """`make readme` writes it; this fails when one changed without the other."""
    lines = README.read_text(encoding="utf-8").splitlines(keepends=True)
    start = lines.index("| variable | trait | default | meaning |\n")
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("|"))
    assert "".join(lines[start:end]) == envconfig.markdown_table()


def test_the_traits_are_the_extensions_settings_for_those_variables():
    traits = JupyterOllama.class_traits(config=True)
    assert {v.trait for v in envconfig.VARIABLES if v.trait} <= set(traits)
    # A setting whose help names a variable is that variable's trait.
    helped = {(name.group(0), trait) for trait, t in traits.items() for name in NAME.finditer(t.help or "")}
    assert helped and {(name, envconfig.variable(name).trait) for name, _ in helped} == helped


def test_serve_help_lists_every_variable_with_its_default(capsys):
    with pytest.raises(SystemExit) as done:
        main(["serve", "--help"])
    assert done.value.code == 0
    printed = capsys.readouterr().out
    for name in listed():
        assert name in printed
    words = " ".join(printed.split())  # lines wrap
    assert (f"OLLAMA_NUM_PARALLEL slots per model (each with the full context) [default: {envconfig.NUM_PARALLEL}; "
            "under Jupyter also c.JupyterOllama.num_parallel]") in words


@pytest.mark.parametrize("value, level", [
    (None, 0), ("", 0), ("0", 0), ("false", 0), ("False", 0), ("f", 0),
    ("1", 1), ("true", 1), ("TRUE", 1), ("t", 1),
    ("2", 2), ("3", 2), ("-1", 0), ("yes", 0),
])
def test_debug_levels_as_ollama_reads_them(monkeypatch, value, level):
    if value is None:
        monkeypatch.delenv("OLLAMA_DEBUG", raising=False)
    else:
        monkeypatch.setenv("OLLAMA_DEBUG", value)
    assert envconfig.debug_level() == level
