"""Typed request shapes (`api/wire.py`): read from checked JSON in one place, and nowhere read as dicts.

The scan keeps it so: in api/, no handler or translation reads a request's top-level fields off a dict
(`body[...]`, `body.get(...)`, nor under the other names request JSON went by); they read typed fields,
which mypy checks. Only `WireRequest.from_json` reads the checked JSON.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from jupyter_ollama.api import anthropic_wire as aw
from jupyter_ollama.api import openai_wire as ow
from jupyter_ollama.api import responses_wire as rw
from jupyter_ollama.api import wire
from jupyter_ollama.errors import BadRequest

API = Path(wire.__file__).parent
# Names that held a request's JSON before it was typed: reading keys off one of them is reading an untyped request.
REQUEST_NAMES = {"body", "native", "chat", "request", "req", "data"}
# The one place that reads checked JSON into a typed request.
DECLARED = {("wire.py", "from_json")}


def dict_reads(path: Path) -> list[str]:
    """`name[...]` and `name.get(...)` on a request name, outside the declared places: "file:line name"."""
    found = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            function = node.name
        target = None
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            target = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
            target = node.func.value
        if isinstance(target, ast.Name) and target.id in REQUEST_NAMES and (path.name, function) not in DECLARED:
            found.append(f"{path.name}:{node.lineno} {target.id}")
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(ast.parse(path.read_text()), "")
    return found


def test_no_request_is_read_as_a_dict_in_api():
    reads = [read for path in sorted(API.glob("*.py")) for read in dict_reads(path)]
    assert reads == []


def test_the_scan_sees_a_dict_read(tmp_path):
    path = tmp_path / "handler.py"
    path.write_text("def post(self):\n    body = self.json()\n    return body['model'], body.get('stream'), native['x']\n")
    assert dict_reads(path) == ["handler.py:3 body", "handler.py:3 body", "handler.py:3 native"]


def every_request_class() -> list[type[wire.WireRequest]]:
    out, todo = [], list(wire.WireRequest.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if "go_struct" in cls.__dict__:
            out.append(cls)
    return out


def test_every_request_declares_json_types_only():
    classes = every_request_class()
    assert {c.__module__.rsplit(".", 1)[1] for c in classes} == {"wire", "openai_wire", "responses_wire", "anthropic_wire"}
    for cls in classes:
        assert cls.shape().name == cls.go_struct and cls.shape().fields  # a field of another type raises TypeError


def test_wrong_types_are_refused_in_gos_words():
    with pytest.raises(BadRequest, match=r"^json: cannot unmarshal number into Go struct field ChatRequest.model of type string$"):
        wire.ChatRequest.from_json({"model": 1})
    with pytest.raises(BadRequest, match=r"^json: cannot unmarshal array into Go value of type api.GenerateRequest$"):
        wire.GenerateRequest.from_json([])
    with pytest.raises(BadRequest, match=r"Go struct field GenerateRequest._debug_render_only of type bool$"):
        wire.GenerateRequest.from_json({"_debug_render_only": "yes"})
    with pytest.raises(BadRequest, match=r"Go struct field CreateRequest.files of type map\[string\]string$"):
        wire.CreateRequest.from_json({"files": {"a.gguf": 1}})
    with pytest.raises(BadRequest, match=r"Go struct field ChatCompletionRequest.temperature of type float64$"):
        ow.ChatCompletionRequest.from_json({"temperature": True})
    with pytest.raises(BadRequest, match=r"Go struct field MessagesRequest.tool_choice of type map\[string\]interface \{\}$"):
        aw.MessagesRequest.from_json({"tool_choice": "auto"})


def test_absent_and_null_fields_take_their_defaults_and_json_names_map():
    request = wire.GenerateRequest.from_json({"model": "m", "stream": None, "top_logprobs": 3.0, "_debug_render_only": True,
                                              "unknown": {"ignored": True}})
    assert request == wire.GenerateRequest(model="m", top_logprobs=3, debug_render_only=True)
    assert request.stream is True and request.shift is None and request.options == {} and request.keep_alive is None
    assert isinstance(request.top_logprobs, int)
    assert ow.ChatCompletionRequest.from_json({}).stream is False  # OpenAI's default, not Ollama's
    # The store reads a create request itself: it gets the whole checked object, unknown fields and all.
    create = wire.CreateRequest.from_json({"model": "m", "from": "base", "draft_files": {"d.gguf": "sha256:1"}, "system": None})
    assert create.from_ == "base" and create.checked == {"model": "m", "from": "base", "draft_files": {"d.gguf": "sha256:1"}}


def test_a_count_tokens_request_reads_as_a_messages_request_without_max_tokens():
    request = aw.CountTokensRequest.from_json({"model": "m", "max_tokens": "any", "messages": [{"role": "user", "content": "Hi"}],
                                               "output_config": {"effort": "low"}})
    native, choice = aw.count_request(request)
    assert native.think == "low" and native.options == {"num_predict": 1} and choice is None


def test_translations_build_typed_native_requests():
    native = ow.chat_request(rw.chat_body(rw.ResponsesRequest.from_json(
        {"model": "m", "input": "Hi", "max_output_tokens": 5, "reasoning": {"effort": "high"}, "temperature": 0}),
        rw.tool_table([])))
    assert isinstance(native, wire.ChatRequest)
    assert native.options == {"temperature": 0, "top_p": 1.0, "num_predict": 5} and native.think == "high"
    assert native.stream is False and native.tools is None
    generate = ow.completion_request(ow.CompletionRequest.from_json({"model": "m", "prompt": "Hi", "logprobs": 0}))
    assert isinstance(generate, wire.GenerateRequest) and generate.logprobs and generate.top_logprobs == 0
