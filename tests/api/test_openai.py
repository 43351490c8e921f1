"""The OpenAI-compatible API (/v1) through the official `openai` client, against the real engine."""

from __future__ import annotations

import base64
import json
import re
import struct

import httpx
import openai
import pytest

from .templates import THINKING, THINKING_TOOLS, TOOLS, create_variant

GREEDY = {"temperature": 0, "max_tokens": 24}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
FORCE = {"type": "function", "function": {"name": "get_weather"}}
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()


@pytest.fixture(scope="module")
def oai(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="ollama", max_retries=0)


@pytest.fixture(scope="module")
def models(client, smollm2) -> dict[str, str]:
    return {"tools": create_variant(client, smollm2, "smollm2-tools", TOOLS),
            "think": create_variant(client, smollm2, "smollm2-think", THINKING),
            "thinktools": create_variant(client, smollm2, "smollm2-thinktools", THINKING_TOOLS)}


def test_chat_completion(oai, smollm2):
    reply = oai.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "What is 2+2?"}], **GREEDY)
    assert re.fullmatch(r"chatcmpl-\d{1,3}", reply.id) and reply.object == "chat.completion"
    assert reply.model == "smollm2" and reply.system_fingerprint == "fp_ollama" and reply.created > 0
    (choice,) = reply.choices
    assert choice.message.role == "assistant" and "4" in choice.message.content and choice.finish_reason == "stop"
    usage = reply.usage
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_chat_stream_with_usage(oai, smollm2):
    chunks = list(oai.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Name a color."}],
                                              stream=True, stream_options={"include_usage": True}, **GREEDY))
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    assert len({c.created for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.choices[0].delta.role is None for c in chunks[1:] if c.choices)
    finish = chunks[-2]
    assert finish.choices[0].finish_reason in ("stop", "length") and finish.choices[0].delta.content is None
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).strip()


def test_sse_wire_format(server, smollm2):
    with httpx.stream("POST", server.url + "/v1/chat/completions", timeout=60, json={
            "model": "smollm2", "messages": [{"role": "user", "content": "Hi"}], "stream": True, **GREEDY}) as reply:
        assert reply.headers["content-type"] == "text/event-stream"
        body = reply.read().decode()
    events = body.split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""] and all(e.startswith("data: ") for e in events[:-1])
    assert "usage" not in json.loads(events[-3][6:])  # no include_usage: no usage chunk


def test_max_tokens_stop_seed_penalties(oai, smollm2):
    short = oai.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Tell me a story."}],
                                        temperature=0, max_tokens=3)
    assert short.choices[0].finish_reason == "length" and short.usage.completion_tokens == 3
    stopped = oai.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Count from 1 to 9."}],
                                          temperature=0, max_tokens=40, stop=["4"])
    assert "4" not in stopped.choices[0].message.content and stopped.choices[0].finish_reason == "stop"
    # temperature and top_p default to 1.0 (sampling): a seed makes it repeatable.
    seeded = [oai.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Say something."}],
                                          seed=42, max_tokens=12, frequency_penalty=0.5, presence_penalty=0.5)
              for _ in range(2)]
    assert seeded[0].choices[0].message.content == seeded[1].choices[0].message.content


def test_top_p_zero_keeps_only_the_likeliest_token(oai, smollm2):
    ask = [{"role": "user", "content": "Say something."}]
    greedy = oai.chat.completions.create(model="smollm2", messages=ask, temperature=0, max_tokens=12).choices[0].message.content
    for seed in (1, 2):  # at temperature 1, with different seeds: top_p 0 leaves no choice to draw
        reply = oai.chat.completions.create(model="smollm2", messages=ask, top_p=0, seed=seed, max_tokens=12)
        assert reply.choices[0].message.content == greedy


def test_response_format(oai, smollm2):
    obj = oai.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Return JSON with keys city and country for Paris."}],
                                      response_format={"type": "json_object"}, temperature=0, max_tokens=40)
    assert isinstance(json.loads(obj.choices[0].message.content), dict)
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
              "required": ["name", "age"]}
    person = oai.chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": "Describe a person."}], temperature=0, max_tokens=60,
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema}})
    data = json.loads(person.choices[0].message.content)
    assert isinstance(data["name"], str) and isinstance(data["age"], int)


def test_forced_tool_choice(oai, models):
    reply = oai.chat.completions.create(model=models["tools"], messages=ASK, tools=[WEATHER], tool_choice=FORCE,
                                        temperature=0, max_tokens=40)
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls" and not choice.message.content
    (call,) = choice.message.tool_calls
    assert re.fullmatch(r"call_[a-z0-9]{8}", call.id) and call.type == "function" and call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments)["city"], str)
    # Streaming: the call in a delta of its own chunk (index, id, name, arguments), then finish_reason tool_calls.
    chunks = list(oai.chat.completions.create(model=models["tools"], messages=ASK, tools=[WEATHER], tool_choice="required",
                                              temperature=0, max_tokens=40, stream=True))
    (at,) = [i for i, c in enumerate(chunks) if c.choices[0].delta.tool_calls]
    (delta,) = chunks[at].choices[0].delta.tool_calls
    assert delta.index == 0 and re.fullmatch(r"call_[a-z0-9]{8}", delta.id) and delta.type == "function"
    assert delta.function.name == "get_weather" and json.loads(delta.function.arguments) == json.loads(call.function.arguments)
    assert chunks[at].choices[0].finish_reason is None and at < len(chunks) - 1
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    # The result goes back as a tool message (its name found from the call id).
    follow = oai.chat.completions.create(model=models["tools"], temperature=0, max_tokens=20, tools=[WEATHER], messages=ASK + [
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21 C"}])
    assert follow.choices[0].finish_reason in ("stop", "length", "tool_calls")


def test_reasoning(oai, models, smollm2):
    reply = httpx.post(oai.base_url.join("chat/completions").__str__(), timeout=60, json={
        "model": models["think"], "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8, "temperature": 0}).json()
    assert reply["choices"][0]["message"]["reasoning"]
    plain = oai.chat.completions.create(model=models["think"], messages=[{"role": "user", "content": "Hi"}],
                                        reasoning_effort="none", temperature=0, max_tokens=8)
    assert plain.choices[0].message.content
    with pytest.raises(openai.BadRequestError, match="does not support thinking"):
        oai.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Hi"}], reasoning_effort="high")


def test_completions(oai, smollm2):
    reply = oai.completions.create(model="smollm2", prompt="The capital of France is", temperature=0, max_tokens=6)
    assert re.fullmatch(r"cmpl-\d{1,3}", reply.id) and reply.object == "text_completion"
    assert reply.choices[0].text and reply.choices[0].finish_reason in ("stop", "length") and reply.usage.total_tokens > 0
    chunks = list(oai.completions.create(model="smollm2", prompt="Once upon a time", temperature=0, max_tokens=5,
                                         stream=True, stream_options={"include_usage": True}))
    assert "".join(c.choices[0].text for c in chunks if c.choices)
    assert chunks[-2].choices[0].finish_reason == "length" and chunks[-1].usage.completion_tokens == 5
    with pytest.raises(openai.BadRequestError, match="does not support insert"):
        oai.completions.create(model="smollm2", prompt="def f(", suffix="return 1", max_tokens=4)


def test_an_empty_prompt_loads_the_model_and_answers_an_empty_completion(server, smollm2):
    """As on /api/generate (Ollama's done_reason "load"), in OpenAI's shape, whole or streamed."""
    url = server.url + "/v1/completions"
    reply = httpx.post(url, json={"model": "smollm2", "prompt": ""}, timeout=60).json()
    assert reply["object"] == "text_completion" and reply["model"] == "smollm2"
    assert reply["choices"] == [{"text": "", "index": 0, "finish_reason": "load"}]
    assert reply["usage"] == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    loaded = [m["name"] for m in httpx.get(server.url + "/api/ps", timeout=60).json()["models"]]
    assert "smollm2:latest" in loaded
    with httpx.stream("POST", url, json={"model": "smollm2", "stream": True}, timeout=60) as streamed:
        events = streamed.read().decode().split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""] and len(events) == 3
    assert json.loads(events[0][6:])["choices"] == [{"text": "", "index": 0, "finish_reason": "load"}]
    missing = httpx.post(url, json={"model": "nothing-here", "prompt": ""}, timeout=60)
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "not_found_error"


def test_embeddings(oai, smollm2):
    floats = oai.embeddings.create(model="smollm2", input=["hello", "world"])
    assert [d.index for d in floats.data] == [0, 1] and floats.usage.prompt_tokens > 0
    vector = floats.data[0].embedding
    assert abs(sum(x * x for x in vector) - 1) < 1e-3
    packed = httpx.post(str(oai.base_url.join("embeddings")), timeout=60, json={
        "model": "smollm2", "input": "hello", "encoding_format": "base64"}).json()
    raw = base64.b64decode(packed["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert len(decoded) == len(vector) and max(abs(a - b) for a, b in zip(decoded, vector, strict=False)) < 1e-6
    # The openai client asks for base64 and decodes it itself.
    assert len(oai.embeddings.create(model="smollm2", input="hello", encoding_format="base64").data[0].embedding) > 0
    short = oai.embeddings.create(model="smollm2", input="hello", dimensions=8)
    assert len(short.data[0].embedding) == 8


def test_models(oai, smollm2):
    listed = {m.id: m for m in oai.models.list()}
    assert listed["smollm2:latest"].owned_by == "library" and listed["smollm2:latest"].object == "model"
    one = oai.models.retrieve("smollm2:latest")
    assert one.id == "smollm2:latest" and one.created == listed["smollm2:latest"].created
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("no-such-model")


def error(reply: httpx.Response, status: int) -> str:
    assert reply.status_code == status
    body = reply.json()["error"]
    assert body["param"] is None and body["code"] is None
    assert body["type"] == {400: "invalid_request_error", 404: "not_found_error"}[status]
    return body["message"]


@pytest.mark.parametrize(("path", "body", "status", "message"), [
    ("chat/completions", {"model": "nope", "messages": ASK}, 404, "model 'nope' not found"),
    ("chat/completions", {"model": "smollm2", "messages": []}, 400, "[] is too short - 'messages'"),
    ("chat/completions", {"model": "smollm2", "messages": "hi"}, 400, "cannot unmarshal string"),
    ("chat/completions", {"model": "smollm2", "messages": ASK, "temperature": "hot"}, 400, "cannot unmarshal string"),
    ("chat/completions", {"model": "smollm2", "messages": ASK, "tools": [{"type": "function"}]}, 400, "invalid tools"),
    ("chat/completions", {"model": "smollm2", "messages": ASK, "tools": [WEATHER]}, 400,
     "registry.ollama.ai/library/smollm2:latest does not support tools"),
    ("chat/completions", {"model": "smollm2", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": PNG}}]}]},
     400, '"smollm2:latest" does not support images'),
    ("chat/completions", {"model": "smollm2", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}]},
     400, "image URLs are not currently supported"),
    ("chat/completions", {"model": "smollm2", "messages": ASK, "response_format": {"type": "xml"}}, 400, "invalid response_format"),
    ("completions", {"model": "smollm2", "prompt": "x", "stop": [1]}, 400, "invalid type for 'stop' field"),
    ("embeddings", {"model": "smollm2", "input": []}, 400, "invalid input"),
    ("embeddings", {"model": "smollm2", "input": "x", "encoding_format": "hex"}, 400, "Invalid value for 'encoding_format'"),
    ("embeddings", {"model": "nope", "input": "x"}, 404, "not found"),
])
def test_errors_are_openai_shaped(server, smollm2, path, body, status, message):
    assert message in error(httpx.post(f"{server.url}/v1/{path}", json=body, timeout=60), status)


def test_a_forced_call_comes_after_the_thinking(oai, client, models):
    # An earlier turn that thought: the tiny model thinks one sentence and closes </think>; then the call is forced.
    history = [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4", "reasoning": "2+2 is 4."},
               *ASK]
    try:
        reply = oai.chat.completions.create(model=models["thinktools"], messages=history, tools=[WEATHER],
                                            tool_choice=FORCE, temperature=0, max_tokens=40)
    finally:
        client.generate(model=models["thinktools"], keep_alive=0)  # unloaded: the models the next tests use stay
    message = reply.choices[0].message
    assert message.reasoning and "{" not in message.reasoning  # free text, unconstrained
    (call,) = message.tool_calls
    assert call.function.name == "get_weather" and isinstance(json.loads(call.function.arguments)["city"], str)


def test_forced_tool_choice_errors(server, models):
    reply = httpx.post(server.url + "/v1/chat/completions", json={
        "model": models["tools"], "messages": ASK, "tools": [WEATHER],
        "tool_choice": {"type": "function", "function": {"name": "other"}}})
    assert "unknown function" in error(reply, 400)
    assert error(httpx.get(server.url + "/v1/models/nope:1"), 404) == "model 'nope:1' not found"
