"""Every notebook in `notebooks/` runs top to bottom in a real kernel, and is stored without outputs."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from ..kernel.conftest import clean_env, text_of

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
ALL = sorted(NOTEBOOKS.glob("*.ipynb"))

# Per notebook: (a piece of a cell's source, what its output must contain) — what a reader would look for.
EXPECTED: dict[str, list[tuple[str, str]]] = {
    "01-quickstart": [
        ("%ollama host", "kernel-side server"),
        ("%%ollama create smollm2", "success"),
        ("%ollama list", "smollm2:latest"),
        ('answer = %ollama run', "characters:"),
        ("%ollama ps", "100% CPU"),
        ("%ollama show smollm2", "quantization"),
        ("%ollama stop smollm2", "stopped 'smollm2'"),
    ],
    "02-chat-widget": [
        ("chat.wait(timeout=120)", "1."),
        ('chat.messages[-1].get("stats")', "tokens_per_second"),
        ("chat.stop()", "characters before Stop"),
        ('chat.model = "no-such-model"', "model 'no-such-model' not found"),
    ],
    "03-gpu-memory-monitor": [
        ('"/api/system"', "GPUs: no NVIDIA GPU found"),  # CI has no GPU; the monitor says so cleanly
        ('"/api/system"', "smollm2:latest:"),
        ("%ollama stop smollm2", "stopped"),
    ],
    "04-modelfiles": [
        ("%ollama show tutor", "You are a patient physics tutor"),
        ("print(info[\"modelfile\"])", "PARAMETER num_predict 80"),
        ("%ollama run brief", "Paris"),
        ("%%ollama create broken", "invalid float value [hot]"),
        ("%ollama cp tutor tutor-backup", "tutor-backup:latest"),
    ],
    "05-api-clients": [
        ("client.list()", "smollm2:latest"),
        ("client.generate(", "tokens in"),
        ("OpenAI(base_url", "CompletionUsage"),
        ("ps = httpx.get", "slots 0/4"),
    ],
    "06-semantic-search": [
        ("vectors.shape", "(6, 576)"),
        ("def search", "lengths: [1. 1. 1. 1. 1. 1.]"),
    ],
    "07-structured-output": [
        ("raw = %ollama run", "{"),
        ("class Country", "Country(name="),
        ("response_format=", "'title':"),
    ],
}

# Cells whose output is a live widget (a view the front end renders).
WIDGETS: dict[str, list[str]] = {
    "02-chat-widget": ["chat = ChatWidget(", "%ollama chat smollm2 --widget"],
    "03-gpu-memory-monitor": ["monitor = GpuMonitor()", "%ollama gpu"],
}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_every_notebook_has_expectations() -> None:
    assert ALL, "no notebooks found"
    assert {p.stem for p in ALL} == set(EXPECTED)


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_stored_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: outputs not stripped"


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_markdown_reads_as_prose(path: Path) -> None:
    """One title, then text: not every line a heading (as a script's `# ` comments pasted in would make it)."""
    notebook = nbformat.read(path, as_version=4)
    markdown = [cell.source for cell in notebook.cells if cell.cell_type == "markdown"]
    assert markdown and markdown[0].startswith("# ")
    for source in markdown:
        lines = [line for line in source.splitlines() if line.strip()]
        headings = [line for line in lines if line.startswith("#")]
        assert len(headings) <= 1 and not any(line.startswith("# #") for line in lines), source[:200]
        assert len(lines) == 1 or len(headings) < len(lines), source[:200]


def run(path: Path, env: dict[str, str]) -> nbformat.NotebookNode:
    notebook = nbformat.read(path, as_version=4)
    # No allow_errors: an error stops the run, except in cells tagged `raises-exception`.
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute(env=env)
    return notebook


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs_top_to_bottom(name: str, tmp_path: Path) -> None:
    # The default path of a fresh kernel: a kernel-side server over an empty store.
    notebook = run(NOTEBOOKS / f"{name}.ipynb", clean_env(OLLAMA_MODELS=str(tmp_path / "models")))
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        output = text_of(cell)
        assert "Traceback" not in output, f"{name}: a traceback in {cell.source[:60]!r}"
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if "raises-exception" not in cell.metadata.get("tags", []):
            assert not errors, f"{name}: error in {cell.source[:60]!r}"
        # A refused request reads as one line of UsageError, never as our stack.
        assert all(e.ename == "UsageError" for e in errors), f"{name}: {[e.ename for e in errors]}"
    for source_piece in WIDGETS.get(name, []):
        cell = next(c for c in notebook.cells if c.cell_type == "code" and source_piece in c.source)
        assert any(WIDGET_VIEW in o.get("data", {}) for o in cell.outputs), f"{name}: no widget from {source_piece!r}"
    for source_piece, expected in EXPECTED[name]:
        cells = [c for c in notebook.cells if c.cell_type == "code" and source_piece in c.source]
        assert cells, f"{name}: no cell with {source_piece!r}"
        assert expected in text_of(cells[0]), f"{name}: {expected!r} not in the output of {source_piece!r}: {text_of(cells[0])[:500]!r}"
