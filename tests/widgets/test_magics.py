"""`%ollama gpu`, `%ollama chat --widget` and `%ollama pull` in a real kernel (nbclient): widget views, no tracebacks."""

from __future__ import annotations

import pytest

from ..conftest import start_server
from ..kernel.conftest import clean_env, run_notebook, text_of
from ..registry_server import Registry

VIEW = "application/vnd.jupyter.widget-view+json"
MODEL = "application/vnd.ollama.image.model"


@pytest.fixture(scope="module")
def registry(tmp_path_factory, smollm2_gguf):
    reg = Registry(tmp_path_factory.mktemp("registry"))
    reg.publish("library/smol", "latest", [(MODEL, smollm2_gguf)])
    yield reg
    reg.close()


@pytest.fixture(scope="module")
def ollama_host(tmp_path_factory):
    running = start_server(tmp_path_factory.mktemp("models"))
    yield running
    running.stop()


def views(cell) -> list[str]:  # type: ignore[no-untyped-def]
    """The widget model ids a cell's outputs show."""
    return [o.data[VIEW]["model_id"] for o in cell.outputs if "data" in o and VIEW in o.data]


def test_widget_magics_in_a_kernel(tmp_path, smollm2_gguf, registry, ollama_host):
    cells = [
        "%load_ext jupyter_ollama",
        f"%%ollama create tiny\nFROM {smollm2_gguf}",
        "%ollama gpu",
        "chat = %ollama chat tiny Hello there --widget --system 'Be brief.' -o num_predict=8 -o temperature=0\nchat",
        "print(repr(chat.wait(120)), '|', chat.error, '|', len(chat.messages))",
        f"%ollama pull {registry.host}/library/smol --insecure",
        f"%ollama pull {registry.host}/library/nothing --insecure",
        "%ollama chat tiny --widget --think",
        "%ollama chat tiny --widget -o warmth=1",
        "import sys\nfrom jupyter_ollama.widgets import ChatWidget, GpuMonitor, PullWidget\nprint('jupyter_server' in sys.modules)",
    ]
    notebook, _ = run_notebook(cells, clean_env(OLLAMA_HOST=ollama_host.host), tmp_path)
    c = notebook.cells
    state = notebook.metadata.widgets["application/vnd.jupyter.widget-state+json"]["state"]

    [gpu] = views(c[2])
    system = state[gpu]["state"]["system"]
    assert system["gpus"] == [] and system["gpu_error"].startswith("no NVIDIA GPU found") and system["ram"]["total"] > 0

    [chat] = views(c[3])
    chat_state = state[chat]["state"]
    assert chat_state["model"] == "tiny" and chat_state["system"] == "Be brief." and '"num_predict": 8' in chat_state["options"]
    reply, error, count = text_of(c[4]).strip().split(" | ")
    assert reply not in ("None", "''") and error == "" and count == "2"
    assert chat_state["messages"][0] == {"role": "user", "content": "Hello there"}
    assert chat_state["messages"][1]["content"] == eval(reply) and 0 < chat_state["messages"][1]["stats"]["eval_count"] <= 8

    [pull] = views(c[5])
    assert state[pull]["state"]["success"] is True and state[pull]["state"]["status"] == "success"
    assert not [o for o in c[5].outputs if o.output_type == "error"]

    [missing] = views(c[6])
    assert state[missing]["state"]["error"] == "pull model manifest: file does not exist"
    assert text_of(c[6]).strip().endswith("UsageError: Error: pull model manifest: file does not exist")
    for cell in (c[7], c[8]):
        assert not views(cell) and "Traceback" not in text_of(cell)
    assert "UsageError: %ollama chat --widget: --think not supported with --widget" in text_of(c[7])
    assert "UsageError: %ollama: -o warmth=1: unknown parameter 'warmth'" in text_of(c[8])
    assert text_of(c[9]).strip() == "False"  # the widgets do not pull in the Jupyter server


def test_terminal_ipython_gets_text(monkeypatch, capsys, server, smollm2):
    """Outside a notebook there is nothing to render a widget: `%ollama gpu` prints, `--widget` says why not."""
    from IPython.core.error import UsageError
    from IPython.core.interactiveshell import InteractiveShell

    from jupyter_ollama import discovery

    monkeypatch.setenv("OLLAMA_HOST", server.host)
    discovery.forget()
    try:
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "jupyter_ollama")
        server_client = discovery.find_server().client()
        server_client.request("POST", "/api/generate", {"model": smollm2, "prompt": "hi", "stream": False, "options": {"num_predict": 1}})
        shell.run_line_magic("ollama", "gpu")
        out = capsys.readouterr().out
        assert "No NVIDIA GPU on the server: models run on the CPU (no NVIDIA GPU found (" in out
        assert "RAM: " in out and f"  {smollm2}: " in out
        with pytest.raises(UsageError, match="needs a notebook"):
            shell.run_line_magic("ollama", f"chat {smollm2} --widget")
    finally:
        discovery.forget()
        InteractiveShell.clear_instance()
