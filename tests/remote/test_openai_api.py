"""Ollama's request in OpenAI's words, and OpenAI's stream read back as our events."""

from __future__ import annotations

import json

from jupyter_ollama.remote import ollama_api, openai_api
from jupyter_ollama.runners.protocol import CompletionRequest, Done, Piece, Prompt


def sse(data: dict) -> str:
    return "data: " + json.dumps(data)


def test_a_chat_request_becomes_openai_fields() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    messages = [
        {"role": "user", "content": "look", "images": ["aGk="]},
        {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}]},
        {"role": "tool", "content": "2", "tool_name": "f"},
    ]
    job = CompletionRequest(Prompt(messages=messages, think="low"), options={"num_predict": 5, "temperature": 0.2,
                            "repeat_penalty": 1.1, "stop": ["\n"]}, format=schema, logprobs=True, top_logprobs=2)
    path, body = openai_api.completion_body(job, "m")
    assert path == "/v1/chat/completions"
    assert body["max_tokens"] == 5 and body["temperature"] == 0.2 and body["repetition_penalty"] == 1.1
    assert body["stop"] == ["\n"] and body["reasoning_effort"] == "low" and body["top_logprobs"] == 2
    assert body["response_format"] == {"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}
    assert body["messages"][0]["content"][1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,aGk="}}
    assert body["messages"][1]["tool_calls"][0]["function"] == {"name": "f", "arguments": '{"x": 1}'}
    assert body["messages"][2] == {"role": "tool", "content": "2", "tool_call_id": "f"}
    raw_path, raw = openai_api.completion_body(CompletionRequest(Prompt(raw="abc"), format="json"), "m")
    assert raw_path == "/v1/completions" and raw["prompt"] == "abc" and raw["response_format"] == {"type": "json_object"}
    off = openai_api.completion_body(CompletionRequest(Prompt(messages=messages[:1], think=False)), "m")[1]
    assert off["chat_template_kwargs"] == {"enable_thinking": False} and "max_tokens" not in off


def test_streamed_tool_call_fragments_come_out_whole_in_ollamas_shape() -> None:
    reader = openai_api.StreamReader()
    lines = [
        sse({"choices": [{"delta": {"reasoning_content": "hmm"}}]}),
        sse({"choices": [{"delta": {"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "get_", "arguments": '{"ci'}}]}}]}),
        sse({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {"name": "weather", "arguments": 'ty": "Oslo"}'}}]}}]}),
        sse({"choices": [{"delta": {}, "finish_reason": "tool_calls"}]}),
        sse({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 9}}),
        "data: [DONE]",
    ]
    events = [e for line in lines for e in reader.line(line)]  # type: ignore[union-attr]
    assert events[0] == Piece("", None, "hmm", None)
    assert events[1].tool_calls == [{"id": "c1", "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Oslo"}}}]
    done = reader.done()
    assert done.prompt_eval_count == 7 and done.eval_count == 9 and done.done_reason == "stop"
    assert reader.line(sse({"error": {"message": "overloaded"}})) == "overloaded"
    assert "not JSON" in reader.line("data: {oops")  # type: ignore[operator]


def test_an_ollama_stream_is_read_with_its_own_timings() -> None:
    piece = ollama_api.read_line({"message": {"role": "assistant", "content": "hi", "thinking": "t"}, "done": False})
    assert piece == Piece("hi", None, "t", None)
    final = {"message": {"content": ""}, "done": True, "done_reason": "stop", "prompt_eval_count": 3, "eval_count": 4,
             "prompt_eval_duration": 10, "eval_duration": 20}
    assert ollama_api.read_line(final) == Done("stop", 3, 10, 4, 20)
    assert ollama_api.read_line({"error": "model 'x' not found"}) == "model 'x' not found"
    path, body = ollama_api.completion_body(
        CompletionRequest(Prompt(messages=[{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
                                 template="{{ .Prompt }}", suffix="end")), "m")
    assert path == "/api/generate" and body["prompt"] == "u" and body["system"] == "s" and body["suffix"] == "end"


def test_logprobs_without_alternatives_ask_the_engine_for_one_and_drop_it() -> None:
    """llama-server answers `top_logprobs: 0` with no logprobs at all; OpenAI and Ollama give the chosen token's."""
    job = CompletionRequest(Prompt(messages=[{"role": "user", "content": "hi"}]), logprobs=True)
    assert openai_api.completion_body(job, "m")[1]["top_logprobs"] == 1
    alternatives = [{"token": t, "logprob": -i - 1.0} for i, t in enumerate("abc")]
    line = sse({"choices": [{"delta": {"content": "a"}, "logprobs": {"content": [
        {"token": "a", "logprob": -1.0, "bytes": [97], "top_logprobs": alternatives}]}}]})
    [piece] = openai_api.StreamReader(0).line(line)  # type: ignore[misc]
    assert isinstance(piece, Piece) and piece.logprobs == [{"token": "a", "logprob": -1.0, "bytes": [97]}]
    [piece] = openai_api.StreamReader(2).line(line)  # type: ignore[misc]
    assert isinstance(piece, Piece) and piece.logprobs and piece.logprobs[0]["top_logprobs"] == alternatives[:2]
