"""What the magics' values look like in a notebook."""

from __future__ import annotations

from jupyter_ollama.kernel.display import Reply, Table


def test_a_json_reply_renders_as_a_json_block_and_stays_the_text():
    reply = Reply.of('{"name": "Ada", "age": 36}', is_json=True)
    assert reply == '{"name": "Ada", "age": 36}' and isinstance(reply, str)
    assert reply._repr_markdown_() == '```json\n{"name": "Ada", "age": 36}\n```'
    assert Reply.of("**bold** answer")._repr_markdown_() == "**bold** answer"


def test_an_empty_table_says_so():
    empty = Table(["NAME"], [], empty="No model is loaded.")
    assert repr(empty) == "No model is loaded." and empty._repr_html_() == "<p>No model is loaded.</p>"
    full = Table(["NAME"], [["a"]], empty="No model is loaded.")
    assert repr(full) == "NAME\na" and "<table>" in full._repr_html_()
