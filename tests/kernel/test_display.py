"""What the magics' values look like in a notebook."""

from __future__ import annotations

from jupyter_ollama.kernel.display import LiveText, Reply, Table
from jupyter_ollama.views import running_table


def test_a_json_reply_renders_as_a_json_block_and_stays_the_text():
    reply = Reply.of('{"name": "Ada", "age": 36}', is_json=True)
    assert reply == '{"name": "Ada", "age": 36}' and isinstance(reply, str)
    assert reply._repr_markdown_() == '```json\n{"name": "Ada", "age": 36}\n```'
    assert Reply.of("**bold** answer")._repr_markdown_() == "**bold** answer"


def test_thinking_shows_quoted_above_the_answer_and_stays_out_of_the_text():
    reply = Reply.of("4", thinking="2+2 is 4.\n\nSo: 4.\n")
    assert reply == "4" and reply.thinking.startswith("2+2")
    assert reply._repr_markdown_() == "> *Thinking...*\n>\n> 2+2 is 4.\n>\n> So: 4.\n\n4"
    as_json = Reply.of('{"a": 1}', is_json=True, thinking="JSON, then.")
    assert as_json._repr_markdown_() == '> *Thinking...*\n>\n> JSON, then.\n\n```json\n{"a": 1}\n```'
    assert Reply.of("4", thinking="  \n")._repr_markdown_() == "4"  # nothing to show


def test_an_empty_table_says_so():
    empty = Table(["NAME"], [], empty="No model is loaded.")
    assert repr(empty) == "No model is loaded." and empty._repr_html_() == "<p>No model is loaded.</p>"
    full = Table(["NAME"], [["a"]], empty="No model is loaded.")
    assert repr(full) == "NAME\na" and "<table>" in full._repr_html_()


LOCAL = {"name": "smollm2:latest", "model": "smollm2:latest", "size": 270_898_272, "size_vram": 0, "digest": "b" * 64,
         "expires_at": "2099-01-01T00:00:00Z", "context_length": 4096, "device": "cpu", "slots_total": 4, "slots_busy": 1,
         "requests_queued": 0}


def engine(port: int, state: str, **extra):  # type: ignore[no-untyped-def]
    return {"host": f"http://127.0.0.1:{port}", "api": "openai", "state": state, "in_flight": 0, "slots_total": 2,
            "slots_busy": 0, "requests_waiting": 0, "signal": "slots", "requests_total": 1, "failures_total": 0, **extra}


# A pool of two llama-servers, one killed, as /api/ps lists it: no placement, threads or context length.
TEAM = {"name": "team:latest", "model": "team:latest", "size": 0, "size_vram": 0, "digest": "a" * 64,
        "expires_at": "2318-09-20T13:55:33.193401Z", "context_length": 0, "remote_model": "smollm2",
        "remote_host": "http://127.0.0.1:8081", "device": "remote", "memory_by_device": {}, "slots_total": 2,
        "slots_busy": 1, "requests_queued": 0,
        "remote": {"remote_model": "smollm2", "engines_up": 1, "in_flight": 1, "slots_total": 2, "slots_busy": 1,
                   "requests_waiting": 0, "retries_total": 0,
                   "engines": [engine(8081, "up", in_flight=1, slots_busy=1),
                               engine(8082, "down", error="All connection attempts failed")]}}


def test_ps_marks_a_remote_model_and_its_engines():
    header, rows = running_table([LOCAL, TEAM])
    assert header == ["NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "SLOTS", "QUEUED", "UNTIL", "ENGINES"]
    local, team = rows
    assert local[:8] == running_table([LOCAL])[1][0] and local[8] == ""  # the local row as without a remote one
    assert team == ["team:latest", "a" * 12, "-", "remote", "-", "1/2", "0", "Forever",
                    "1/2 up; down: 127.0.0.1:8082 (All connection attempts failed)"]
    # Engines that do not report their slots: busy/?; a pool not checked yet says so.
    unknown = {**TEAM, "slots_total": 0, "remote": {**TEAM["remote"], "slots_total": None, "engines_up": 2,  # type: ignore[dict-item]
                                                    "engines": [engine(8081, "up", slots_total=None)] * 2}}
    assert running_table([unknown])[1][0][5:] == ["1/?", "0", "Forever", "2/2 up"]
    bare = {k: v for k, v in TEAM.items() if k != "remote"} | {"remote_host": ["http://a:1", "http://b:2"]}
    assert running_table([bare])[1][0][3:] == ["remote", "-", "1/2", "0", "Forever", "2 (not checked yet)"]
    shown = Table(header, rows)
    assert "None" not in repr(shown) and "100% CPU" in repr(shown)
    assert "<td style='text-align:left'>remote</td>" in shown._repr_html_()


def test_ps_without_a_remote_model_is_unchanged():
    header, [row] = running_table([LOCAL])
    assert header == ["NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "SLOTS", "QUEUED", "UNTIL"]
    assert row[:7] == ["smollm2:latest", "b" * 12, "270 MB", "100% CPU", "4096", "1/4", "0"]


def test_a_live_reply_that_names_a_file_is_shown_as_text(tmp_path, monkeypatch):
    """IPython's Markdown("notes.md") would read the file: a reply is always its own text."""
    (tmp_path / "notes.md").write_text("# the file, not the reply")
    monkeypatch.chdir(tmp_path)
    shown: list[dict] = []

    class Handle:
        def update(self, bundle: dict, raw: bool = False) -> None:
            assert raw
            shown.append(bundle)

    live = LiveText()
    live.notebook, live._handle = True, Handle()
    for reply in (".", "notes.md"):
        live.parts = [reply]
        live._refresh()
        assert shown[-1] == {"text/markdown": reply, "text/plain": reply}
    live.close(keep=True)
    assert shown[-1]["text/markdown"] == "notes.md"
