"""Tool calling and thinking through /api/chat and /api/generate, on SmolLM2 with tool and thinking templates."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from .templates import JSON_TOOLS, THINKING, TOOLS, create_variant

GREEDY = {"temperature": 0, "num_predict": 40}
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
# Constrains the answer to a call of get_weather (what a forced tool_choice does on /v1).
CALL = {"type": "object", "properties": {"name": {"const": "get_weather"}, "arguments": WEATHER["function"]["parameters"]},
        "required": ["name", "arguments"]}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


@pytest.fixture(scope="module")
def models(client, smollm2) -> dict[str, str]:
    return {
        "hermes": create_variant(client, smollm2, "smollm2-tools", TOOLS),
        "json": create_variant(client, smollm2, "smollm2-jsontools", JSON_TOOLS),
        "think": create_variant(client, smollm2, "smollm2-think", THINKING),
    }


def chat(server, **body) -> httpx.Response:
    return httpx.post(server.url + "/api/chat", json={"stream": False, "options": GREEDY, **body}, timeout=120)


def test_tools_are_rendered_and_results_go_back(server, models):
    history = ASK + [
        {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": "Sunny, 21 C", "tool_name": "get_weather"},
    ]
    reply = chat(server, model=models["hermes"], messages=history, tools=[WEATHER], _debug_render_only=True).json()
    prompt = reply["_debug_info"]["rendered_template"]
    assert '"name":"get_weather","description":"Get the current weather in a city"' in prompt
    assert '<tool_call>\n{"name": "get_weather", "arguments": {"city":"Paris"}}\n</tool_call>' in prompt
    assert prompt.endswith("<tool_response>\nSunny, 21 C\n</tool_response><|im_end|>\n<|im_start|>assistant\n")
    answer = chat(server, model=models["hermes"], messages=history, tools=[WEATHER])
    assert answer.status_code == 200 and answer.json()["message"]["content"]


def test_tool_call_parsed_from_the_output(server, client, models):
    reply = chat(server, model=models["json"], messages=ASK, tools=[WEATHER], format=CALL).json()
    assert reply["done_reason"] == "stop" and reply["message"]["content"] == ""
    (call,) = reply["message"]["tool_calls"]
    assert re.fullmatch(r"call_[a-z0-9]{8}", call["id"])
    assert call["function"]["index"] == 0 and call["function"]["name"] == "get_weather"
    assert isinstance(call["function"]["arguments"], dict) and isinstance(call["function"]["arguments"]["city"], str)
    # The official client, streaming: the call comes in the chunk where it was parsed, before the final one.
    chunks = list(client.chat(model=models["json"], messages=ASK, tools=[WEATHER], format=CALL, options=GREEDY, stream=True))
    with_calls = [i for i, c in enumerate(chunks) if c.message.tool_calls]
    assert len(with_calls) == 1 and with_calls[0] < len(chunks) - 1, chunks
    (streamed,) = chunks[with_calls[0]].message.tool_calls
    assert not chunks[with_calls[0]].done and streamed.function.name == "get_weather" and streamed.function.arguments == call["function"]["arguments"]
    assert chunks[-1].done and not chunks[-1].message.tool_calls
    assert all(not c.message.content for c in chunks)


def test_a_plain_answer_stays_content(client, models):
    reply = client.chat(model=models["json"], messages=[{"role": "user", "content": "Say hello."}], tools=[WEATHER], options=GREEDY)
    assert reply.message.content and not reply.message.tool_calls


@pytest.mark.parametrize(("tools", "message"), [
    ("get_weather", "cannot unmarshal string"),
    ([{"type": "function"}], "invalid tools: tools[0].function must be an object"),
    ([{"type": "function", "function": {"description": "no name"}}], "function.name must be a non-empty string"),
])
def test_malformed_tools(server, models, tools, message):
    reply = chat(server, model=models["hermes"], messages=ASK, tools=tools)
    assert reply.status_code == 400 and message in reply.json()["error"]


def test_malformed_tool_calls_in_history(server, models):
    bad = ASK + [{"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": "x"}}]}]
    reply = chat(server, model=models["hermes"], messages=bad, tools=[WEATHER])
    assert reply.status_code == 400 and "arguments must be an object" in reply.json()["error"]


def test_thinking_goes_to_its_own_field(server, client, models):
    # The template opens <think> when the model thinks (the default for a thinking model).
    reply = client.chat(model=models["think"], messages=[{"role": "user", "content": "What is 2+2?"}],
                        options={"temperature": 0, "num_predict": 12})
    assert reply.message.thinking and "<think>" not in reply.message.thinking and reply.message.content == ""
    plain = client.chat(model=models["think"], messages=[{"role": "user", "content": "What is 2+2?"}],
                        think=False, options={"temperature": 0, "num_predict": 12})
    assert plain.message.content and not plain.message.thinking
    chunks = list(client.chat(model=models["think"], messages=[{"role": "user", "content": "Hi"}], stream=True,
                              options={"temperature": 0, "num_predict": 8}))
    assert "".join(c.message.thinking or "" for c in chunks) and chunks[-1].done
    generated = httpx.post(server.url + "/api/generate", json={"model": models["think"], "prompt": "Hi", "stream": False,
                                                                "options": {"temperature": 0, "num_predict": 8}}, timeout=60).json()
    assert generated["thinking"] and generated["response"] == ""


def test_think_values(server, models):
    bad = chat(server, model=models["think"], messages=ASK, think="very")
    assert bad.status_code == 400 and "invalid think value" in bad.json()["error"]
    level = chat(server, model=models["think"], messages=ASK, think="low", options={"temperature": 0, "num_predict": 4})
    assert level.status_code == 200 and json.loads(level.text)["message"]["thinking"]


# An earlier turn that thought: the tiny model then thinks one sentence and closes </think> itself.
THOUGHT = [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4", "thinking": "2+2 is 4."},
           {"role": "user", "content": "What is the capital of France?"}]
PLACE = {"type": "object", "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
         "required": ["city", "country"]}


def test_a_format_applies_after_the_thinking(server, client, models):
    free = chat(server, model=models["think"], messages=THOUGHT).json()["message"]
    assert free["thinking"] == "The capital of France is Paris." and free["content"] == "4"
    # As in Ollama: the model thinks unconstrained, then its answer follows the schema.
    reply = chat(server, model=models["think"], messages=THOUGHT, format=PLACE).json()
    assert reply["message"]["thinking"] == free["thinking"] and reply["done_reason"] == "stop"
    assert json.loads(reply["message"]["content"])["city"] == "Paris"
    streamed = list(client.chat(model=models["think"], messages=THOUGHT, format="json", options=GREEDY, stream=True))
    assert "".join(c.message.thinking or "" for c in streamed) == free["thinking"]
    assert isinstance(json.loads("".join(c.message.content for c in streamed)), dict)
    # Not thinking: the grammar from the first token, as before.
    plain = chat(server, model=models["think"], messages=THOUGHT, format=PLACE, think=False).json()["message"]
    assert "thinking" not in plain and json.loads(plain["content"])["country"]


def test_generate_with_a_format_thinks_first_too(server, models):
    prompt = "<think>2+2 is 4.</think>4\n\nWhat is the capital of France?"
    body = {"model": models["think"], "prompt": prompt, "format": PLACE, "stream": False, "options": GREEDY}
    reply = httpx.post(server.url + "/api/generate", json=body, timeout=60).json()
    assert reply["thinking"] and json.loads(reply["response"])["city"]
