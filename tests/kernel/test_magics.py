"""`%ollama` in real kernels: on a kernel-side server, and through the Jupyter server extension."""

from __future__ import annotations

import httpx
import ollama
import pytest

from ..api.templates import THINKING
from ..registry_server import Registry
from .conftest import clean_env, run_notebook, text_of


def magic_cells(gguf) -> list[str]:
    return [
        "%load_ext jupyter_ollama",
        "%ollama host",
        f"%%ollama create tiny\nFROM {gguf}\nPARAMETER temperature 0\nPARAMETER num_predict 60",
        'topic = "2+2"\nx = %ollama run tiny "What is {topic}?"\nprint(type(x).__name__, "|", x)',
        "%%ollama run tiny\nWrite a short poem about the sea.",
        "%ollama list",
        "%ollama chat tiny My name is Ada.\n",
        "%ollama chat tiny What is my name?",
        "%ollama ps",
        "%ollama run no-such-model hi",
    ]


def check_session(notebook, client) -> None:
    cells = notebook.cells
    assert "tiny" not in text_of(cells[1])
    created = text_of(cells[2])
    assert "parsing GGUF" in created and "success" in created
    kind, _, answer = text_of(cells[3]).partition(" | ")
    assert kind == "Reply" and "4" in answer  # the reply is the value, {topic} was filled in
    poem = cells[4]
    results = [o for o in poem.outputs if o.output_type == "execute_result"]
    assert results and results[0].data["text/markdown"].strip()  # rendered Markdown as the cell's value
    assert client.messages[4].count("update_display_data") >= 2  # tokens arrived while it ran
    assert "tiny:latest" in text_of(cells[5]) and "<table>" in cells[5].outputs[0].data["text/html"]
    assert text_of(cells[6]).strip() and text_of(cells[7]).strip()
    assert "100% CPU" in text_of(cells[8])
    error = text_of(cells[9])
    # `run` pulls a model that is not here, as Ollama's does; the failed pull is one line.
    assert "UsageError" in error and "pull model manifest" in error and "no-such-model" in error and "Traceback" not in error


def test_magics_on_a_kernel_side_server(tmp_path, smollm2_gguf):
    env = clean_env(OLLAMA_MODELS=str(tmp_path / "models"))
    notebook, client = run_notebook(magic_cells(smollm2_gguf), env, tmp_path)
    assert "kernel-side server" in text_of(notebook.cells[1])
    check_session(notebook, client)


def test_magics_through_the_jupyter_extension(tmp_path, smollm2_gguf, jupyter_server):
    # What the extension exports to the kernels its server starts.
    env = clean_env(JUPYTER_OLLAMA_URL=jupyter_server.ollama_url, JUPYTER_OLLAMA_TOKEN=jupyter_server.token)
    notebook, client = run_notebook(magic_cells(smollm2_gguf), env, tmp_path)
    assert "jupyter_ollama extension" in text_of(notebook.cells[1])
    check_session(notebook, client)
    # The model lives in the server's store, shared by every notebook.
    assert (jupyter_server.models_dir / "manifests" / "registry.ollama.ai" / "library" / "tiny").is_dir()


def test_official_client_through_the_jupyter_url(jupyter_server, smollm2_gguf):
    client = ollama.Client(host=jupyter_server.ollama_url, headers={"Authorization": f"Bearer {jupyter_server.token}"})
    client.create(model="viajupyter", files={"m.gguf": client.create_blob(smollm2_gguf)})
    assert "viajupyter:latest" in [m.model for m in client.list().models]
    chunks = list(client.generate(model="viajupyter", prompt="Hi", stream=True, options={"num_predict": 5}))
    assert chunks[-1].done and chunks[-1].eval_count == 5
    anonymous = ollama.Client(host=jupyter_server.ollama_url)
    with pytest.raises(ollama.ResponseError) as err:
        anonymous.list()
    assert err.value.status_code in (401, 403)


def test_empty_tables_a_reset_and_the_endpoint_say_what_they_are(tmp_path):
    cells = [
        "%load_ext jupyter_ollama",
        "%ollama list",
        "%ollama ps",
        "%ollama chat tiny --reset",
        "import jupyter_ollama\nserver = jupyter_ollama.endpoint()\nserver",
        "print(bool(server.token), server.headers['Authorization'] == f'Bearer {server.token}')",
    ]
    notebook, _ = run_notebook(cells, clean_env(OLLAMA_MODELS=str(tmp_path / "models")), tmp_path)
    out = [text_of(cell) for cell in notebook.cells]
    assert "No models yet: %ollama pull NAME" in out[1] and "NAME" in out[1] and "<table>" not in str(notebook.cells[1].outputs)
    assert "No model is loaded" in out[2]
    assert out[3].strip() == "Forgot the conversation with tiny."
    # The token works but never shows in the notebook.
    token = notebook.cells[5].outputs and out[5].strip() == "True True"
    assert token and "token" not in out[4] and "Endpoint(url='http://127.0.0.1:" in out[4]


@pytest.fixture(scope="module")
def registry(tmp_path_factory, smollm2_gguf):
    reg = Registry(tmp_path_factory.mktemp("magic-registry"))
    reg.publish_gguf("library/fetched", smollm2_gguf)
    yield reg
    reg.close()


def test_run_pulls_a_missing_model_with_progress_then_answers(tmp_path, server, registry):
    name = f"{registry.host}/library/fetched"
    cells = [
        "%load_ext jupyter_ollama",
        f'%ollama run {name} --insecure "What is 2+2?" -o temperature=0 -o num_predict=20',
        f'%ollama run {name} --insecure "Hi" -o num_predict=3',
    ]
    notebook, _ = run_notebook(cells, clean_env(OLLAMA_HOST=server.host), tmp_path)
    first, again = notebook.cells[1].outputs, notebook.cells[2].outputs
    widget = [o for o in first if o.output_type == "display_data" and "application/vnd.jupyter.widget-view+json" in o.data]
    assert widget, first  # the pull's progress widget, as `%ollama pull` shows it
    answer = [o for o in first if o.output_type == "execute_result"]
    assert answer and "4" in answer[0].data["text/markdown"] and not [o for o in first if o.output_type == "error"]
    assert not [o for o in again if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]  # here now
    assert httpx.request("DELETE", server.url + "/api/delete", json={"model": name}, timeout=30).status_code == 200


def test_run_sends_the_image_files_a_prompt_names_to_a_model_that_reads_images(tmp_path, server, seeing, smollm2):
    from tests.projector import png

    (tmp_path / "red.png").write_bytes(png(24, 24, (220, 20, 20)))
    cells = [
        "%load_ext jupyter_ollama",
        f'%ollama run {seeing} "What is in ./red.png?" -o temperature=0 -o num_predict=6',
        f'%ollama run {smollm2} "Repeat: ./red.png" -o temperature=0 -o num_predict=6',  # reads no images: text
    ]
    notebook, _ = run_notebook(cells, clean_env(OLLAMA_HOST=server.host), tmp_path)
    seen, unseen = text_of(notebook.cells[1]), text_of(notebook.cells[2])
    assert seen.startswith("Added image './red.png'\n") and len(seen) > len("Added image './red.png'\n")
    assert "Error" not in seen and "Added image" not in unseen and "Error" not in unseen


@pytest.fixture(scope="module")
def thinker(client, smollm2) -> str:
    """SmolLM2 behind a template that opens <think> for it: what it writes is its thinking."""
    client.create(model="magic-thinker", from_=smollm2, template=THINKING, parameters={"temperature": 0, "num_predict": 12})
    return "magic-thinker:latest"


def test_run_and_chat_show_a_thinking_models_thoughts_quoted_and_hidethinking_hides_them(tmp_path, server, thinker):
    cells = [
        "%load_ext jupyter_ollama",
        f'%ollama run {thinker} "What is 2+2?"',
        f'x = %ollama run {thinker} "What is 2+2?" --hidethinking\nprint(repr(x), repr(x.thinking))',
        f'%ollama chat {thinker} "What is 2+2?"',
        f'y = %ollama run {thinker} "What is 2+2?"\nprint(repr(y), bool(y.thinking))',
        f'%ollama run {thinker} "What is 2+2?" --think=false -o num_predict=4',
        f'%ollama run {thinker} "Hi" --think=sometimes',
    ]
    notebook, _ = run_notebook(cells, clean_env(OLLAMA_HOST=server.host), tmp_path)
    c = notebook.cells
    [shown] = [o.data["text/markdown"] for o in c[1].outputs if o.output_type == "execute_result"]
    quote, _, answer = shown.partition("\n\n")
    assert quote.startswith("> *Thinking...*\n>\n> ") and len(quote) > len("> *Thinking...*\n>\n> ")  # above the answer
    assert all(line.startswith(">") for line in quote.splitlines())
    assert text_of(c[2]).strip() == "'' ''"  # hidden: it only thought, so nothing shows and the value is empty
    assert "> *Thinking...*" in text_of(c[3])  # the chat shows it too
    assert text_of(c[4]).strip() == "'' True"  # the thinking is on the value, never in its text
    off = text_of(c[5])
    assert off.strip() and "Thinking" not in off
    assert "UsageError: Error: invalid value for --think: 'sometimes'" in text_of(c[6])


def test_a_terminal_shows_thinking_as_the_cli_does(monkeypatch, capsys, server, thinker):
    from IPython.core.interactiveshell import InteractiveShell

    from jupyter_ollama import discovery

    monkeypatch.setenv("OLLAMA_HOST", server.host)
    discovery.forget()
    try:
        shell = InteractiveShell.instance()
        shell.run_line_magic("load_ext", "jupyter_ollama")
        reply = shell.run_line_magic("ollama", f'run {thinker} "What is 2+2?"')
        out = capsys.readouterr().out
        assert out.startswith("Thinking...\n") and reply.thinking and reply.thinking in out and reply == ""
        hidden = shell.run_line_magic("ollama", f'run {thinker} "What is 2+2?" --hidethinking')
        assert capsys.readouterr().out.strip() == "" and hidden == ""
    finally:
        discovery.forget()
        InteractiveShell.clear_instance()
