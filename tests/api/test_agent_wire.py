"""What Claude Code and Codex send, recorded from the real CLIs (fixtures/), read into native requests.

The fixtures are the bodies Claude Code 2.1.332 and Codex 0.171.0 sent to a loopback
server: a first turn, and a turn after a tool call. The variants below change one
recorded body the way other set-ups of the same clients do (server tools, custom
tools, documents, compressed bodies); the server-side tests are in test_anthropic.py
and test_responses.py.
"""

from __future__ import annotations

import copy
import gzip
import json
import zlib
from pathlib import Path
from typing import Any

import pytest
import zstandard

from jupyter_ollama.api import anthropic_wire as aw
from jupyter_ollama.api import openai_wire as ow
from jupyter_ollama.api import responses_wire as rw
from jupyter_ollama.api.encoding import decoded
from jupyter_ollama.errors import BadRequest
from jupyter_ollama.store.aliases import ModelAliases

FIXTURES = Path(__file__).parent / "fixtures"


def recorded(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


# -- Claude Code: /v1/messages -------------------------------------------------------


def test_claude_code_first_turn():
    request = recorded("claude_code_first_turn")
    assert request["path"] == "/v1/messages?beta=true" and request["headers"]["authorization"] == "Bearer secret"
    body = request["body"]
    assert [m["role"] for m in body["messages"]] == ["user", "system"]  # what failed with 'role must be "user" or "assistant"'
    native, choice = aw.chat_request(aw.MessagesRequest.from_json(body))
    system, *turns = native.messages
    # The top-level system blocks, then the system-role message, in order, in one system prompt.
    blocks = "".join(b["text"] for b in body["system"])
    inline = body["messages"][1]["content"][0]["text"]
    assert system == {"role": "system", "content": blocks + "\n\n" + inline}
    assert [t["role"] for t in turns] == ["user"] and turns[0]["content"].endswith("Say hi")
    # Every tool but the deferred placeholder, as functions.
    names = [t["function"]["name"] for t in native.tools]
    assert "DeferredToolPlaceholder" not in names and len(names) == len(body["tools"]) - 1 and "Bash" in names
    assert native.options["num_predict"] == 32000 and native.stream is True
    assert native.think == "high" or native.think is None  # adaptive thinking: the effort, or the model decides
    assert choice is None


def test_claude_code_tool_turn():
    native, _ = aw.chat_request(aw.MessagesRequest.from_json(recorded("claude_code_tool_turn")["body"]))
    roles = [m["role"] for m in native.messages]
    assert roles == ["system", "user", "assistant", "tool"]
    call = native.messages[2]["tool_calls"][0]
    assert call == {"id": "toolu_01", "function": {"name": "Bash", "arguments": {"command": "echo hi", "description": "Say hi"}}}
    assert native.messages[3] == {"role": "tool", "content": "hi", "tool_call_id": "toolu_01", "tool_name": "Bash"}


def test_system_messages_join_in_order():
    body = {"model": "m", "max_tokens": 8, "system": "A.", "messages": [
        {"role": "system", "content": "B."}, {"role": "user", "content": "Hi"},
        {"role": "system", "content": [{"type": "text", "text": "C."}]}, {"role": "assistant", "content": "Hello"}]}
    native, _ = aw.chat_request(aw.MessagesRequest.from_json(body))
    assert native.messages == [{"role": "system", "content": "A.\n\nB.\n\nC."}, {"role": "user", "content": "Hi"},
                               {"role": "assistant", "content": "Hello"}]
    with pytest.raises(BadRequest, match="messages.0.content must be a string or an array of text blocks"):
        aw.chat_request(aw.MessagesRequest.from_json({**body, "messages": [{"role": "system", "content": 5}]}))


def test_tools_of_every_type():
    body = copy.deepcopy(recorded("claude_code_first_turn")["body"])
    body["tools"] += [{"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
                      {"type": "code_execution_20250825", "name": "code_execution"},
                      {"type": "bash_20250124", "name": "bash"},
                      {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"}]
    native, _ = aw.chat_request(aw.MessagesRequest.from_json(body))
    functions = {t["function"]["name"]: t["function"] for t in native.tools}
    assert "web_search" not in functions and "code_execution" not in functions  # server tools: left out
    assert functions["bash"]["parameters"]["properties"]["command"] == {"type": "string"}
    assert functions["str_replace_based_edit_tool"]["parameters"]["required"] == ["command", "path"]


def test_documents_and_server_tool_history():
    body = {"model": "m", "max_tokens": 8, "messages": [
        {"role": "user", "content": [
            {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "The sky is green."},
             "title": "Notes"},
            {"type": "text", "text": "What color is the sky?"}]},
        {"role": "assistant", "content": [
            {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "sky color"}},
            {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": [
                {"type": "web_search_result", "title": "Sky", "url": "https://example.org/sky"}]},
            {"type": "text", "text": "Blue."}]},
        {"role": "user", "content": [{"type": "container_upload", "file_id": "f"}, {"type": "text", "text": "Sure?"}]}]}
    native, _ = aw.chat_request(aw.MessagesRequest.from_json(body))
    user, assistant, last = native.messages
    assert user["content"] == "Document: Notes\nThe sky is green.\n\nWhat color is the sky?"
    assert assistant["content"] == '[web_search: {"query": "sky color"}]\n- Sky: https://example.org/sky\nBlue.'
    assert "tool_calls" not in assistant and last["content"] == "Sure?"  # a block of a newer API is not read


def test_output_config_format_is_structured_output():
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    native, _ = aw.chat_request(aw.MessagesRequest.from_json({
        "model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}],
        "output_config": {"effort": "low", "format": {"type": "json_schema", "schema": schema}}}))
    assert native.format == schema and native.think == "low"


def test_count_tokens_request_needs_no_max_tokens():
    native, _ = aw.count_request(aw.CountTokensRequest.from_json({"model": "m", "messages": [{"role": "user", "content": "Hi"}]}))
    assert native.messages == [{"role": "user", "content": "Hi"}]


# -- Codex: /v1/responses --------------------------------------------------------------


def test_codex_first_turn():
    body = recorded("codex_first_turn")["body"]
    kinds = [t["type"] for t in body["tools"]]
    assert "namespace" in kinds and "web_search" in kinds  # what failed with "only function tools are supported"
    table = rw.tool_table(body["tools"])
    native = ow.chat_request(rw.chat_body(rw.ResponsesRequest.from_json(body), table))
    names = [t["function"]["name"] for t in native.tools]
    members = [t["name"] for t in next(t for t in body["tools"] if t["type"] == "namespace")["tools"]]
    assert [n for n in names if n.startswith("multi_agent_v1.")] == [f"multi_agent_v1.{m}" for m in members]
    assert "web_search" not in names and "exec_command" in names
    assert [m["role"] for m in native.messages][:2] == ["system", "system"]  # developer messages
    assert native.messages[-1] == {"role": "user", "content": "Say hi"}


def test_codex_tool_turn():
    body = recorded("codex_tool_turn")["body"]
    native = ow.chat_request(rw.chat_body(rw.ResponsesRequest.from_json(body), rw.tool_table(body["tools"])))
    call_turn, result = native.messages[-2:]
    assert call_turn["role"] == "assistant"
    assert call_turn["tool_calls"] == [{"id": "call_1", "function": {"name": "exec_command", "arguments": {"cmd": "echo hi"}}}]
    assert result["role"] == "tool" and result["tool_call_id"] == "call_1" and result["tool_name"] == "exec_command"
    assert "Process exited with code 0" in result["content"]


def test_namespaced_and_custom_calls_go_back_as_codex_reads_them():
    table = rw.tool_table([
        {"type": "namespace", "name": "mcp__files__", "description": "files", "tools": [
            {"type": "function", "name": "read", "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}]},
        {"type": "custom", "name": "apply_patch", "description": "Apply a patch",
         "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}},
        {"type": "function", "name": "exec_command", "parameters": {"type": "object"}},
        {"type": "file_search", "vector_store_ids": ["vs"]}, {"type": "image_generation"}])
    names = [f["function"]["name"] for f in table.functions]
    assert names == ["mcp__files__.read", "apply_patch", "exec_command"]
    patch = table.functions[1]["function"]["parameters"]
    assert patch["required"] == ["input"] and "start: /.+/" in patch["properties"]["input"]["description"]
    calls = [{"id": "c1", "function": {"name": "mcp__files__.read", "arguments": {"path": "a.txt"}}},
             {"id": "c2", "function": {"name": "apply_patch", "arguments": {"input": "*** Begin Patch"}}},
             {"id": "c3", "function": {"name": "exec_command", "arguments": {"cmd": "ls"}}}]
    items = rw.call_items(calls, table)
    assert {k: items[0][k] for k in ("type", "name", "namespace", "call_id")} == {
        "type": "function_call", "name": "read", "namespace": "mcp__files__", "call_id": "c1"}
    assert {k: items[1][k] for k in ("type", "name", "input", "call_id")} == {
        "type": "custom_tool_call", "name": "apply_patch", "input": "*** Begin Patch", "call_id": "c2"}
    assert items[2]["type"] == "function_call" and "namespace" not in items[2]
    # Streamed: the custom call's input arrives as custom_tool_call_input events.
    stream = rw.ResponseStream("resp_1", rw.ResponsesRequest(model="m"), table)
    events = stream.add({"message": {"content": "", "tool_calls": calls[1:2]}, "done": False})
    assert [e["type"] for e in events] == ["response.output_item.added", "response.custom_tool_call_input.delta",
                                           "response.custom_tool_call_input.done", "response.output_item.done"]
    assert events[2]["input"] == "*** Begin Patch"


def test_custom_and_namespaced_history_reads_back():
    table = rw.tool_table([{"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "fn"}]},
                           {"type": "custom", "name": "apply_patch"}])
    body = {"model": "m", "input": [
        {"role": "developer", "content": "Be careful."},
        {"role": "user", "content": "Patch it."},
        {"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": "*** Begin Patch"},
        {"type": "custom_tool_call_output", "call_id": "c1", "output": "Done!"},
        {"type": "function_call", "call_id": "c2", "name": "fn", "namespace": "ns", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c2", "output": "ok"},
        {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": "x"}},
        {"type": "item_reference", "id": "msg_1"}]}
    native = ow.chat_request(rw.chat_body(rw.ResponsesRequest.from_json(body), table))
    messages = native.messages
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant", "tool"]
    assert messages[2]["tool_calls"][0]["function"] == {"name": "apply_patch", "arguments": {"input": "*** Begin Patch"}}
    assert messages[3]["tool_name"] == "apply_patch" and messages[3]["content"] == "Done!"
    assert messages[4]["tool_calls"][0]["function"]["name"] == "ns.fn"


# -- compressed bodies -----------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "zstd"])
def test_compressed_bodies(encoding):
    body = json.dumps(recorded("codex_first_turn")["body"]).encode()
    packed = {"gzip": gzip.compress, "deflate": zlib.compress, "zstd": zstandard.ZstdCompressor().compress}[encoding](body)
    assert decoded(packed, encoding, 1 << 20) == body
    assert decoded(packed, encoding, len(body) - 1) is None  # the cap holds for the decoded size
    with pytest.raises(BadRequest, match=f"not valid {encoding} data"):
        decoded(packed[: len(packed) // 2], encoding, 1 << 20)


def test_a_bomb_stops_at_the_cap():
    bomb = gzip.compress(b"\0" * (64 << 20))  # 64 MiB of zeros in about 64 KiB
    assert len(bomb) < 100_000 and decoded(bomb, "gzip", 1 << 20) is None
    with pytest.raises(BadRequest, match="unsupported Content-Encoding 'br'"):
        decoded(b"x", "br", 100)
    assert decoded(b"plain", "identity", 100) == b"plain"


# -- aliases ---------------------------------------------------------------------------


def test_aliases():
    aliases = ModelAliases.parse("claude-*=qwen3-coder, gpt-4o = llama3.2")
    assert aliases.target("claude-sonnet-4-5") == "qwen3-coder" and aliases.target("Claude-Haiku-4-5") == "qwen3-coder"
    assert aliases.target("gpt-4o") == "llama3.2" and aliases.target("gpt-4o-mini") is None
    assert ModelAliases.parse('{"claude-*": "a", "*": "b"}').target("x") == "b"
    for bad in ("claude-*", "=x", '{"a": 1}', "{oops"):
        with pytest.raises(ValueError, match="OLLAMA_MODEL_ALIASES"):
            ModelAliases.parse(bad)
