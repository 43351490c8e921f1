"""Tool calls and thinking parsed from recorded model outputs, family by family.

The outputs are what these models write (several taken from Ollama's own parser
tests), fed whole and split at every character to exercise streaming.
"""

from __future__ import annotations

import json
import re

import pytest
from llama_cpp.llama_grammar import json_schema_to_gbnf

from jupyter_ollama.errors import BadRequest
from jupyter_ollama.templates.tags import go_tool_tag, jinja_tool_tag, tool_tag
from jupyter_ollama.tools import OutputParser, ThinkingParser, ToolCallParser, check_tools, forced_call_schema

NAMES = ["get_temperature", "get_conditions", "say_hello"]


def parse(tag: str, text: str, step: int | None = None, names: list[str] = NAMES) -> tuple[list[tuple], str]:
    """Feed `text` in pieces of `step` characters (whole when None); (name, arguments, index) and content."""
    parser = ToolCallParser(names, tag)
    calls, content = [], ""
    step = step or max(len(text), 1)
    for i in range(0, len(text), step):
        new, text_out = parser.add(text[i:i + step])
        calls += new
        content += text_out
    new, text_out = parser.finish()
    calls += new
    content += text_out
    for call in calls:
        assert re.fullmatch(r"call_[a-z0-9]{8}", call["id"])
    return [(c["function"]["name"], c["function"]["arguments"], c["function"]["index"]) for c in calls], content


def everywhere(tag: str, text: str) -> tuple[list[tuple], str]:
    """The same answer whatever the split, which is then returned."""
    whole = parse(tag, text)
    for step in (1, 2, 3, 7):
        assert parse(tag, text, step) == whole, f"split every {step}"
    return whole


HERMES = [
    ('<tool_call>\n{"name": "get_conditions", "arguments": {"location": "San Francisco"}}\n</tool_call>',
     [("get_conditions", {"location": "San Francisco"}, 0)], ""),
    ('Let me check the weather. <tool_call>{"name": "get_temperature", "arguments": {"city": "New York"}}</tool_call>',
     [("get_temperature", {"city": "New York"}, 0)], "Let me check the weather. "),
    ('Okay, both! <tool_call>{"name": "get_temperature", "arguments": {"city": "London", "format": "fahrenheit"}}</tool_call>'
     '<tool_call>{"name": "get_conditions", "arguments": {"location": "Tokyo"}}</tool_call>',
     [("get_temperature", {"city": "London", "format": "fahrenheit"}, 0), ("get_conditions", {"location": "Tokyo"}, 1)],
     "Okay, both! "),
    ('<tool_call>{"name": "say_hello", "arguments": {}}</tool_call>', [("say_hello", {}, 0)], ""),
    ("Hello, how can I help you today?", [], "Hello, how can I help you today?"),
    ("I'll use the say_hello tool. ", [], "I'll use the say_hello tool. "),
    # A call of a tool the request did not offer is no call: the text comes back.
    ('<tool_call>{"name": "search", "arguments": {}}</tool_call>', [], '<tool_call>{"name": "search", "arguments": {}}</tool_call>'),
]


@pytest.mark.parametrize(("text", "calls", "content"), HERMES)
def test_qwen_hermes(text: str, calls: list, content: str) -> None:
    assert everywhere("<tool_call>", text) == (calls, content)


LLAMA3 = [
    ('{"name": "get_temperature", "parameters": {"city": "Paris"}}', [("get_temperature", {"city": "Paris"}, 0)], ""),
    ('<|python_tag|>{"name": "get_temperature", "parameters": {"city": "Paris"}}', [("get_temperature", {"city": "Paris"}, 0)], ""),
    ('{"name": "get_temperature", "parameters": {"city": "Paris"}}; {"name": "get_conditions", "parameters": {"location": "Oslo"}}',
     [("get_temperature", {"city": "Paris"}, 0), ("get_conditions", {"location": "Oslo"}, 1)], ""),
    ('\n\n{"type": "function", "name": "say_hello", "parameters": {}}', [("say_hello", {}, 0)], "\n\n"),
    ("The capital of France is Paris.", [], "The capital of France is Paris."),
    ('Sure: {"name": "get_temperature", "parameters": {}}', [], 'Sure: {"name": "get_temperature", "parameters": {}}'),
]


@pytest.mark.parametrize(("text", "calls", "content"), LLAMA3)
def test_llama3_json(text: str, calls: list, content: str) -> None:
    assert everywhere("{", text) == (calls, content)


MISTRAL = [
    ('[TOOL_CALLS] [{"name": "get_temperature", "arguments": {"city": "London", "format": "fahrenheit"}}, '
     '{"name": "get_conditions", "arguments": {"location": "Tokyo"}}][/TOOL_CALLS]',
     [("get_temperature", {"city": "London", "format": "fahrenheit"}, 0), ("get_conditions", {"location": "Tokyo"}, 1)], ""),
    ('[TOOL_CALLS]get_temperature[ARGS]{"city": "Rome"}', [("get_temperature", {"city": "Rome"}, 0)], ""),
    ('[TOOL_CALLS]say_hello[ARGS]{}[TOOL_CALLS]get_conditions[ARGS]{"location": "Lima"}',
     [("say_hello", {}, 0), ("get_conditions", {"location": "Lima"}, 1)], ""),
    ("Bonjour [TOOL_CALLS]", [], "Bonjour [TOOL_CALLS]"),
]


@pytest.mark.parametrize(("text", "calls", "content"), MISTRAL)
def test_mistral(text: str, calls: list, content: str) -> None:
    assert everywhere("[TOOL_CALLS]", text) == (calls, content)


GENERIC = [
    ('{"name": "get_temperature", "arguments": "{\\"city\\": \\"Oslo\\"}"}', [("get_temperature", {"city": "Oslo"}, 0)], ""),
    ('{"function": {"name": "get_conditions", "arguments": {"location": "Rio"}}}', [("get_conditions", {"location": "Rio"}, 0)], ""),
    ('{"get_temperature": {"city": "Cairo"}}', [("get_temperature", {"city": "Cairo"}, 0)], ""),
    ('[{"name": "say_hello", "arguments": {}}, {"name": "get_conditions", "arguments": {"location": "Rome"}}]',
     [("say_hello", {}, 0), ("get_conditions", {"location": "Rome"}, 1)], ""),
    ('{"name": "jeff"}{"name": "get_conditions", "arguments": {"location": "SF"}}', [],
     '{"name": "jeff"}{"name": "get_conditions", "arguments": {"location": "SF"}}'),
    ('{"name": "say_hello", "arguments": {}} That was it.', [("say_hello", {}, 0)], "That was it."),
    ('for { fmt.Println("hello") }', [], 'for { fmt.Println("hello") }'),
    ('{"answer": "a } inside a string"}', [], '{"answer": "a } inside a string"}'),
    ('{"name": "get_temperature", "arguments": {"city": "Tok', [], '{"name": "get_temperature", "arguments": {"city": "Tok'),
]


@pytest.mark.parametrize(("text", "calls", "content"), GENERIC)
def test_generic_json(text: str, calls: list, content: str) -> None:
    assert everywhere("{", text) == (calls, content)


def test_ids_are_fresh_and_key_order_is_kept() -> None:
    parser = ToolCallParser(["f"], "{")
    calls, _ = parser.add('[{"name": "f", "arguments": {"b": 1, "a": 2}}, {"name": "f", "arguments": {}}]')
    assert len({c["id"] for c in calls}) == 2
    assert list(calls[0]["function"]["arguments"]) == ["b", "a"]
    assert list(calls[0]) == ["id", "function"] and list(calls[0]["function"]) == ["index", "name", "arguments"]


# ---------------------------------------------------------------- tags from templates

LLAMA3_GO = ('{{- range .Messages }}{{- if eq .Role "assistant" }}{{ if .ToolCalls }}{{ range .ToolCalls }}'
             '{"name": "{{ .Function.Name }}", "parameters": {{ .Function.Arguments }}}{{ end }}{{ end }}{{ end }}{{ end }}')
MISTRAL_GO = ('{{- range .Messages }}{{- if .ToolCalls }}[TOOL_CALLS] [{{ range .ToolCalls }}{"name": "{{ .Function.Name }}"}'
              '{{ end }}]{{ end }}{{ end }}')
QWEN_GO = ('{{ range .Messages }}{{ if .Content }}{{ .Content }}{{- else if .ToolCalls }}<tool_call>\n'
           '{{ range .ToolCalls }}{"name": "{{ .Function.Name }}"}{{ end }}</tool_call>{{ end }}{{ end }}')


@pytest.mark.parametrize(("template", "tag"), [
    (LLAMA3_GO, "{"), (MISTRAL_GO, "[TOOL_CALLS]"), (QWEN_GO, "<tool_call>"), ("{{ .Prompt }}", "{"),
])
def test_tag_from_go_template(template: str, tag: str) -> None:
    assert go_tool_tag(template) == tag
    assert tool_tag(template, "<tool_call> in the jinja is ignored") == tag


@pytest.mark.parametrize(("template", "tag"), [
    ("{% for tool_call in message.tool_calls %}<tool_call>\n{{ tool_call | tojson }}{% endfor %}", "<tool_call>"),
    ("{{- '[TOOL_CALLS]' + message.tool_calls | tojson }}", "[TOOL_CALLS]"),
    ("{{- '<|python_tag|>' + tool_call.name }}", "{"),
    ("{% for m in messages %}{{ m.content }}{% endfor %}", "{"),
])
def test_tag_from_jinja_template(template: str, tag: str) -> None:
    assert jinja_tool_tag(template) == tag == tool_tag(None, template)


# ---------------------------------------------------------------- thinking

def think(text: str, step: int, prefilled: bool = False) -> tuple[str, str]:
    parser = ThinkingParser("<think>", "</think>", prefilled=prefilled)
    parts = [parser.add(text[i:i + step]) for i in range(0, len(text), step)] + [parser.finish()]
    return "".join(p[0] for p in parts), "".join(p[1] for p in parts)


@pytest.mark.parametrize(("text", "prefilled", "expected"), [
    ("<think>\nThe user greets me.\n</think>\n\nHello!", False, ("The user greets me.\n", "Hello!")),
    ("  <think>a</think>b", False, ("a", "b")),
    ("No thinking here.", False, ("", "No thinking here.")),
    ("Still thinking when the output ends", True, ("Still thinking when the output ends", "")),
    ("Okay, 2+2 is 4.</think>\n\nIt is 4.", True, ("Okay, 2+2 is 4.", "It is 4.")),
    ("<think></think>Answer", False, ("", "Answer")),
])
def test_thinking(text: str, prefilled: bool, expected: tuple[str, str]) -> None:
    for step in (1, 2, 5, 100):
        assert think(text, step, prefilled) == expected


def test_thinking_then_tool_call() -> None:
    # Qwen 3: think first, then call.
    parser = OutputParser(ThinkingParser(), ToolCallParser(["get_temperature"], "<tool_call>"))
    text = '<think>I need the weather.</think>\n<tool_call>\n{"name": "get_temperature", "arguments": {"city": "Oslo"}}\n</tool_call>'
    parts = [parser.add(text[i:i + 4]) for i in range(0, len(text), 4)] + [parser.finish()]
    assert "".join(p.thinking for p in parts) == "I need the weather."
    assert "".join(p.content for p in parts) == ""
    assert [c["function"]["arguments"] for p in parts for c in p.tool_calls] == [{"city": "Oslo"}]


# ---------------------------------------------------------------- tool definitions and forced calls

WEATHER = {"type": "function", "function": {"name": "get_temperature", "description": "Temperature in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
HELLO = {"type": "function", "function": {"name": "say_hello"}}


@pytest.mark.parametrize("tools", [
    "get_temperature", [1], [{"type": "function"}], [{"function": {"name": ""}}],
    [{"function": {"name": 3}}], [{"function": {"name": "f", "parameters": []}}],
])
def test_malformed_tools(tools: object) -> None:
    with pytest.raises(BadRequest, match="invalid tools"):
        check_tools(tools)


def test_forced_call_schema_builds_a_grammar() -> None:
    tools = [WEATHER, HELLO]
    assert forced_call_schema(tools, "auto") is None and forced_call_schema(tools, "none") is None
    schema = forced_call_schema(tools, {"type": "function", "function": {"name": "get_temperature"}})
    assert schema["properties"]["name"] == {"const": "get_temperature"}
    assert schema["properties"]["arguments"] == WEATHER["function"]["parameters"]
    grammar = json_schema_to_gbnf(json.dumps(schema))
    assert '"\\"get_temperature\\""' in grammar
    both = forced_call_schema(tools, "required")
    assert [s["properties"]["name"]["const"] for s in both["anyOf"]] == ["get_temperature", "say_hello"]
    json_schema_to_gbnf(json.dumps(both))
    with pytest.raises(BadRequest, match="unknown function"):
        forced_call_schema(tools, {"type": "function", "function": {"name": "nope"}})
    with pytest.raises(BadRequest):
        forced_call_schema(tools, "sometimes")
