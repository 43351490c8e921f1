"""The Anthropic Messages API (/v1/messages) through the official `anthropic` SDK, against the real engine."""

from __future__ import annotations

import base64
import copy
import gzip
import json

import anthropic
import httpx
import pytest

from .templates import THINKING, TOOLS, create_variant
from .test_agent_wire import recorded

# The newest SDK no longer takes sampling settings (Claude's newest models refuse them); older clients send them.
T0 = {"extra_body": {"temperature": 0}}
GREEDY = {"max_tokens": 24, **T0}
WEATHER = {"name": "get_weather", "description": "Get the current weather in a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
FORCE = {"type": "tool", "name": "get_weather"}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()


@pytest.fixture(scope="module")
def claude(server):
    with anthropic.Anthropic(base_url=server.url, api_key="ollama", max_retries=0) as client:
        yield client


@pytest.fixture(scope="module")
def models(client, smollm2) -> dict[str, str]:
    return {"tools": create_variant(client, smollm2, "smollm2-tools", TOOLS),
            "think": create_variant(client, smollm2, "smollm2-think", THINKING)}


def post(server, body: dict) -> httpx.Response:
    return httpx.post(server.url + "/v1/messages", json=body, timeout=60)


def test_message(claude, smollm2):
    reply = claude.messages.create(model="smollm2", messages=[{"role": "user", "content": "What is 2+2?"}], **GREEDY)
    assert reply.id.startswith("msg_") and reply.type == "message" and reply.role == "assistant" and reply.model == "smollm2"
    (block,) = reply.content
    assert block.type == "text" and "4" in block.text
    assert reply.stop_reason in ("end_turn", "max_tokens") and reply.stop_sequence is None
    assert reply.usage.input_tokens > 0 and 0 < reply.usage.output_tokens <= 24
    short = claude.messages.create(model="smollm2", messages=[{"role": "user", "content": "Tell me a story."}],
                                   **T0, max_tokens=3)
    assert short.stop_reason == "max_tokens" and short.usage.output_tokens == 3


def test_stream_events_in_order(claude, smollm2):
    events = list(claude.messages.create(model="smollm2", messages=[{"role": "user", "content": "Name a color."}],
                                         stream=True, **GREEDY))
    kinds = [e.type for e in events]
    deltas = [e.delta.text for e in events if e.type == "content_block_delta"]
    assert kinds == ["message_start", "content_block_start", *["content_block_delta"] * len(deltas),
                     "content_block_stop", "message_delta", "message_stop"]
    assert events[0].message.id.startswith("msg_") and events[1].content_block.type == "text"
    assert all(e.index == 0 for e in events[1:-2]) and all(e.delta.type == "text_delta" for e in events[2:-3])
    assert events[-2].delta.stop_reason in ("end_turn", "max_tokens")
    assert events[-2].usage.input_tokens > 0 and events[-2].usage.output_tokens > 0
    assert events[0].message.usage.input_tokens == events[-2].usage.input_tokens  # known when the stream starts
    text = "".join(deltas)
    # The SDK's stream helper accumulates the same message.
    with claude.messages.stream(model="smollm2", messages=[{"role": "user", "content": "Name a color."}], **GREEDY) as stream:
        assert "".join(stream.text_stream) == text
        final = stream.get_final_message()
    assert final.content[0].text == text and final.usage.output_tokens == events[-2].usage.output_tokens
    assert final.usage.input_tokens == events[-2].usage.input_tokens > 0


def test_sse_wire_format(server, smollm2):
    with httpx.stream("POST", server.url + "/v1/messages", timeout=60, json={
            "model": "smollm2", "messages": [{"role": "user", "content": "Hi"}], "stream": True, **GREEDY}) as reply:
        assert reply.headers["content-type"] == "text/event-stream"
        frames = reply.read().decode().split("\n\n")
    assert frames[-1] == "" and frames[-2] == 'event: message_stop\ndata: {"type": "message_stop"}'
    for frame in frames[:-1]:
        event, data = frame.split("\n")
        assert event == "event: " + json.loads(data.removeprefix("data: "))["type"]


def test_system_and_blocks_reach_the_prompt(server, claude, smollm2):
    """A system prompt (string or blocks) and earlier turns read as the same messages on /api/chat: the same answer."""
    turns = [{"role": "user", "content": "My name is Ada."},
             {"role": "assistant", "content": [{"type": "text", "text": "Hello Ada!"}]},
             {"role": "user", "content": [{"type": "text", "text": "What is my name?"}]}]
    native = httpx.post(server.url + "/api/chat", timeout=60, json={"model": "smollm2", "stream": False, "options": {
        "temperature": 0, "num_predict": 24}, "messages": [{"role": "system", "content": "Be brief."}, *[
            {"role": t["role"], "content": t["content"] if isinstance(t["content"], str) else t["content"][0]["text"]}
            for t in turns]]}).json()
    for system in ("Be brief.", [{"type": "text", "text": "Be "}, {"type": "text", "text": "brief."}]):
        reply = claude.messages.create(model="smollm2", system=system, messages=turns, **GREEDY)
        assert reply.content[0].text == native["message"]["content"]
        assert reply.usage.input_tokens == native["prompt_eval_count"]


def test_stop_sequences(claude, smollm2):
    reply = claude.messages.create(model="smollm2", messages=[{"role": "user", "content": "Count from 1 to 9."}],
                                   **T0, max_tokens=40, stop_sequences=["4"])
    assert "4" not in reply.content[0].text and reply.stop_reason == "end_turn"
    # Stopped before its first word: an empty text block still opens and closes, as in the whole reply.
    first = claude.messages.create(model="smollm2", messages=ASK, max_tokens=1, **T0).content[0].text
    events = list(claude.messages.create(model="smollm2", messages=ASK, max_tokens=8, stop_sequences=[first], stream=True, **T0))
    assert [e.type for e in events] == ["message_start", "content_block_start", "content_block_stop", "message_delta", "message_stop"]
    assert events[1].content_block.text == "" and events[3].delta.stop_reason == "end_turn"
    ask = [{"role": "user", "content": "Say something."}]
    greedy = claude.messages.create(model="smollm2", messages=ask, max_tokens=12, **T0).content[0].text
    sampled = claude.messages.create(model="smollm2", messages=ask, max_tokens=12,
                                     extra_body={"temperature": 1.5, "top_p": 0.95, "top_k": 1}).content[0].text
    assert sampled == greedy  # top_k 1 is greedy whatever the temperature: it reached the sampler


def test_tool_use_and_its_result(claude, models):
    reply = claude.messages.create(model=models["tools"], messages=ASK, tools=[WEATHER], tool_choice=FORCE, **GREEDY)
    assert reply.stop_reason == "tool_use"
    (call,) = reply.content
    assert call.type == "tool_use" and call.name == "get_weather" and call.id and isinstance(call.input["city"], str)
    # Streamed: a tool_use block whose input comes as JSON, which the SDK parses back.
    with claude.messages.stream(model=models["tools"], messages=ASK, tools=[WEATHER], tool_choice={"type": "any"},
                                **GREEDY) as stream:
        events = list(stream)
        final = stream.get_final_message()
    raw = [e for e in events if e.type in ("content_block_start", "content_block_delta", "content_block_stop")]
    assert [e.type for e in raw] == ["content_block_start", "content_block_delta", "content_block_stop"]
    assert raw[0].content_block.type == "tool_use" and raw[1].delta.type == "input_json_delta"
    assert final.stop_reason == "tool_use" and final.content[0].input == json.loads(raw[1].delta.partial_json)
    # The result goes back in a tool_result block answering the call.
    follow = claude.messages.create(model=models["tools"], tools=[WEATHER], **GREEDY, messages=[*ASK,
        {"role": "assistant", "content": [call.model_dump()]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "Sunny, 21 C"}]}])
    assert follow.stop_reason in ("end_turn", "max_tokens", "tool_use") and follow.content
    native = httpx.post(str(claude.base_url) + "/api/chat", timeout=60, json={
        "model": models["tools"], "stream": False, "options": {"temperature": 0, "num_predict": 24},
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": WEATHER["description"],
                                                    "parameters": WEATHER["input_schema"]}}],
        "messages": [*ASK, {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather",
                                                                                         "arguments": call.input}}]},
                     {"role": "tool", "content": "Sunny, 21 C", "tool_name": "get_weather"}]}).json()
    assert follow.usage.input_tokens == native["prompt_eval_count"]  # the same prompt as /api/chat renders
    assert follow.content[0].text == native["message"]["content"]
    # tool_choice none: the tools stay out, a plain answer.
    plain = claude.messages.create(model=models["tools"], messages=ASK, tools=[WEATHER], tool_choice={"type": "none"}, **GREEDY)
    assert [b.type for b in plain.content] == ["text"]


def test_thinking(claude, models, smollm2):
    thinking = {"type": "enabled", "budget_tokens": 1024}
    reply = claude.messages.create(model=models["think"], messages=[{"role": "user", "content": "Hi"}], thinking=thinking,
                                   **T0, max_tokens=8)
    assert reply.content[0].type == "thinking" and reply.content[0].thinking
    events = list(claude.messages.create(model=models["think"], messages=[{"role": "user", "content": "Hi"}],
                                         thinking=thinking, **T0, max_tokens=8, stream=True))
    assert events[1].type == "content_block_start" and events[1].content_block.type == "thinking"
    streamed = "".join(e.delta.thinking for e in events if e.type == "content_block_delta" and e.delta.type == "thinking_delta")
    assert streamed == reply.content[0].thinking
    # Cut short while thinking: the same blocks whole and streamed (no empty text block after the thinking).
    cut = {"model": models["think"], "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5, **T0}
    whole = [b.type for b in claude.messages.create(**cut).content]
    streamed = [e.content_block.type for e in claude.messages.create(**cut, stream=True) if e.type == "content_block_start"]
    assert whole == streamed == ["thinking"]
    effort = claude.messages.create(model=models["think"], messages=[{"role": "user", "content": "Hi"}],
                                    output_config={"effort": "low"}, **T0, max_tokens=8)
    assert effort.content[0].type == "thinking"
    plain = claude.messages.create(model=models["think"], messages=[{"role": "user", "content": "Hi"}],
                                   thinking={"type": "disabled"}, **T0, max_tokens=8)
    assert [b.type for b in plain.content] == ["text"]
    # A model that cannot think is not refused (Ollama relaxes it for Claude Code): it answers without thinking.
    relaxed = claude.messages.create(model="smollm2", messages=[{"role": "user", "content": "Hi"}], thinking=thinking,
                                     **T0, max_tokens=8)
    assert [b.type for b in relaxed.content] == ["text"]


@pytest.mark.parametrize(("body", "status", "kind", "message"), [
    ({"max_tokens": 8, "messages": ASK}, 400, "invalid_request_error", "model is required"),
    ({"model": "nope", "max_tokens": 8, "messages": ASK}, 404, "not_found_error", "not found"),
    ({"model": "nope", "max_tokens": 8, "messages": ASK, "stream": True}, 404, "not_found_error", "not found"),
    ({"model": "smollm2", "messages": ASK}, 400, "invalid_request_error", "max_tokens is required"),
    ({"model": "smollm2", "max_tokens": 0, "messages": ASK}, 400, "invalid_request_error", "max_tokens is required"),
    ({"model": "smollm2", "max_tokens": 8}, 400, "invalid_request_error", "messages is required"),
    ({"model": "smollm2", "max_tokens": "8", "messages": ASK}, 400, "invalid_request_error", "MessagesRequest.max_tokens"),
    ({"model": "smollm2", "max_tokens": 8, "messages": [{"role": "tool", "content": "x"}]}, 400, "invalid_request_error",
     'role must be "user", "assistant" or "system"'),
    ({"model": "smollm2", "max_tokens": 8, "messages": [{"role": "user", "content": [{"type": "document"}]}]}, 400,
     "invalid_request_error", "a document is read from a text source"),
    ({"model": "smollm2", "max_tokens": 8, "messages": [{"role": "user", "content": [{"type": "document", "source": {
        "type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}}]}]}, 400, "invalid_request_error", "PDFs"),
    ({"model": "smollm2", "max_tokens": 8, "messages": [{"role": "user", "content": [{"text": "x"}]}]}, 400,
     "invalid_request_error", "a content block needs a type"),
    ({"model": "smollm2", "max_tokens": 8, "messages": ASK, "output_config": {"format": {"type": "json"}}}, 400,
     "invalid_request_error", "output_config.format"),
    ({"model": "gpt-nope", "max_tokens": 8, "messages": ASK}, 404, "not_found_error", "OLLAMA_MODEL_ALIASES"),
    ({"model": "smollm2", "max_tokens": 8, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]}]}, 400, "invalid_request_error",
     "Only base64 images are supported"),
    ({"model": "smollm2", "max_tokens": 8, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}}]}]}, 400,
     "invalid_request_error", "does not support images"),
    ({"model": "smollm2", "max_tokens": 8, "messages": ASK, "tools": [{"type": "custom"}]}, 400, "invalid_request_error",
     "tools.0.name: Field required"),
    ({"model": "smollm2", "max_tokens": 8, "messages": ASK, "thinking": {"type": "sometimes"}}, 400,
     "invalid_request_error", "thinking.type"),
])
def test_errors_in_anthropic_shape(server, smollm2, body, status, kind, message):
    reply = post(server, body)
    data = reply.json()
    assert reply.status_code == status and data["type"] == "error"
    assert data["error"]["type"] == kind and message in data["error"]["message"]


def test_errors_through_the_sdk(server, claude, smollm2):
    with pytest.raises(anthropic.NotFoundError) as missing:
        claude.messages.create(model="no-such-model", max_tokens=8, messages=ASK)
    assert missing.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.BadRequestError, match="tool_use block needs an id and a name"):
        claude.messages.create(model="smollm2", max_tokens=8, messages=[{"role": "assistant", "content": [
            {"type": "tool_use", "id": "", "name": "x", "input": {}}]}])
    wrong = httpx.get(server.url + "/v1/messages", timeout=10)
    assert wrong.status_code == 405 and wrong.json()["error"]["message"] == "method not allowed"


# -- what Claude Code sends ------------------------------------------------------------


def claude_code_turn(name: str, model: str, keep_tools: tuple[str, ...] | None = None) -> tuple[dict, dict]:
    """A recorded Claude Code request for `model`; with `keep_tools`, only those tools and the inline system message
    (the recorded prompt is 27k tokens: this keeps it inside SmolLM2's 4,096-token slot)."""
    request = recorded(name)
    body = copy.deepcopy(request["body"])
    body.update(model=model, max_tokens=8, temperature=0)
    if keep_tools is not None:
        body["tools"] = [t for t in body["tools"] if t["name"] in keep_tools]
        body["system"] = body["system"][:2]
        for message in body["messages"]:
            if message["role"] == "system":
                message["content"] = [{"type": "text", "text": "Primary working directory: /tmp"}]
            elif isinstance(message["content"], list):
                message["content"] = [b for b in message["content"] if not str(b.get("text", "")).startswith("<system-reminder>")]
    headers = {k: v for k, v in request["headers"].items() if k.startswith("anthropic-")}
    return body, headers


def stream_events(server, path: str, body: dict, headers: dict) -> list[dict]:
    with httpx.stream("POST", server.url + path, json=body, headers=headers, timeout=120) as reply:
        assert reply.status_code == 200, reply.read()
        text = reply.read().decode()
    return [json.loads(frame.split("data: ", 1)[1]) for frame in text.split("\n\n") if "data: " in frame]


def test_claude_code_turns_are_answered(server, models):
    """The recorded first turn (a system-role message inside `messages`, tools with a deferred one, adaptive thinking,
    `?beta=true`), and the turn after a tool call, reach the model and stream an answer."""
    for name in ("claude_code_first_turn", "claude_code_tool_turn"):
        body, headers = claude_code_turn(name, models["tools"], keep_tools=("Bash", "Read", "DeferredToolPlaceholder"))
        events = stream_events(server, "/v1/messages?beta=true", body, headers)
        assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"
        assert events[-2]["delta"]["stop_reason"] in ("end_turn", "max_tokens", "tool_use")
        assert events[-2]["usage"]["input_tokens"] > 100  # the system prompt and the tools were read
        assert events[0]["message"]["usage"]["input_tokens"] == events[-2]["usage"]["input_tokens"]


def test_claude_code_whole_prompt_is_too_long_for_the_slot(server, claude, smollm2, models):
    """The whole recorded prompt (11.6k tokens for SmolLM2) in a 4,096-token slot: Anthropic's "prompt is too long", never a cut,
    whether asked by the model's name or by a Claude name an alias maps to it (OLLAMA_MODEL_ALIASES, conftest)."""
    for model in (models["tools"], "claude-sonnet-4-5"):
        body, headers = claude_code_turn("claude_code_first_turn", model)
        reply = httpx.post(server.url + "/v1/messages?beta=true", json=body, headers=headers, timeout=120)
        assert reply.status_code == 400, reply.text
        error = reply.json()["error"]
        assert error["type"] == "invalid_request_error"
        tokens, limit = (int(x) for x in error["message"].removeprefix("prompt is too long: ").removesuffix(" maximum").split(" tokens > "))
        counted = httpx.post(server.url + "/v1/messages/count_tokens?beta=true", json=body, headers=headers, timeout=120)
        assert limit == 4096 and tokens == counted.json()["input_tokens"] > 10_000


def test_count_tokens_is_what_the_model_reads(server, claude, models):
    ask = {"model": models["tools"], "system": "Be brief.", "messages": [{"role": "user", "content": "What is 2+2?"}],
           "tools": [WEATHER]}
    counted = claude.messages.count_tokens(**ask)
    reply = claude.messages.create(**ask, **GREEDY)
    assert counted.input_tokens == reply.usage.input_tokens > 0
    # The same through x-api-key and `?beta=true`, as Claude Code sends it; a Claude name through its alias.
    raw = httpx.post(server.url + "/v1/messages/count_tokens?beta=true", headers={"x-api-key": "ollama"}, timeout=60,
                     json={**ask, "model": "claude-haiku-4-5"})
    assert raw.status_code == 200 and raw.json() == {"input_tokens": counted.input_tokens}
    missing = httpx.post(server.url + "/v1/messages/count_tokens", json={"model": "smollm2"}, timeout=60)
    assert missing.status_code == 400 and missing.json()["error"]["message"] == "messages is required"


def test_a_conversation_with_nothing_to_read_loads_the_model_and_answers_in_anthropics_shape(server, smollm2):
    """An empty turn becomes no native message: the model is loaded, as /api/chat does for an empty conversation, and
    the answer is an empty message (streamed: its events), nothing to count."""
    empty = {"model": "smollm2", "max_tokens": 8, "messages": [{"role": "user", "content": []}]}
    reply = post(server, empty)
    assert reply.status_code == 200, reply.text
    message = reply.json()
    assert message["type"] == "message" and message["model"] == "smollm2" and message["content"] == [{"type": "text", "text": ""}]
    assert message["stop_reason"] == "end_turn" and message["usage"] == {"input_tokens": 0, "output_tokens": 0}
    with httpx.stream("POST", server.url + "/v1/messages", json={**empty, "stream": True}, timeout=60) as streamed:
        kinds = [line.removeprefix("event: ") for line in streamed.iter_lines() if line.startswith("event: ")]
    assert kinds == ["message_start", "content_block_start", "content_block_stop", "message_delta", "message_stop"]
    counted = httpx.post(server.url + "/v1/messages/count_tokens", json=empty, timeout=60)
    assert counted.status_code == 200 and counted.json() == {"input_tokens": 0}


def test_structured_output_and_compressed_bodies(server, claude, smollm2):
    schema = {"type": "object", "properties": {"color": {"type": "string"}}, "required": ["color"]}
    body = {"model": "smollm2", "max_tokens": 40, "temperature": 0, "messages": [{"role": "user", "content": "Name a color."}],
            "output_config": {"format": {"type": "json_schema", "schema": schema}}}
    reply = httpx.post(server.url + "/v1/messages", content=gzip.compress(json.dumps(body).encode()), timeout=60,
                       headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert reply.status_code == 200, reply.text
    assert isinstance(json.loads(reply.json()["content"][0]["text"])["color"], str)
