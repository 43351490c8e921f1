"""The OpenAI Responses API (/v1/responses) through the official `openai` client, against the real engine."""

from __future__ import annotations

import base64
import copy
import gzip
import json
import zlib

import httpx
import openai
import pytest
import zstandard

from .templates import THINKING, TOOLS, create_variant
from .test_agent_wire import recorded

GREEDY = {"temperature": 0, "max_output_tokens": 24}
WEATHER = {"type": "function", "name": "get_weather", "description": "Get the current weather in a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
FORCE = {"type": "function", "name": "get_weather"}
PNG = "data:image/png;base64," + base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
TEXT_EVENTS = ["response.created", "response.in_progress", "response.output_item.added", "response.content_part.added"]
TEXT_END = ["response.output_text.done", "response.content_part.done", "response.output_item.done"]


@pytest.fixture(scope="module")
def oai(server):
    with openai.OpenAI(base_url=server.url + "/v1", api_key="ollama", max_retries=0) as client:
        yield client


@pytest.fixture(scope="module")
def models(client, smollm2) -> dict[str, str]:
    return {"tools": create_variant(client, smollm2, "smollm2-tools", TOOLS),
            "think": create_variant(client, smollm2, "smollm2-think", THINKING)}


def native_chat(server, model: str, messages: list[dict], num_predict: int = 24) -> dict:
    return httpx.post(server.url + "/api/chat", timeout=120, json={
        "model": model, "messages": messages, "stream": False, "options": {"temperature": 0, "num_predict": num_predict}}).json()


def test_text_reply(oai, smollm2):
    reply = oai.responses.create(model="smollm2", input="What is 2+2?", **GREEDY)
    assert reply.id.startswith("resp_") and reply.object == "response" and reply.model == "smollm2"
    assert reply.status in ("completed", "incomplete") and reply.error is None
    (item,) = reply.output
    assert item.type == "message" and item.role == "assistant" and item.status == "completed" and item.id.startswith("msg_")
    assert item.content[0].type == "output_text" and reply.output_text == item.content[0].text and "4" in reply.output_text
    usage = reply.usage
    assert usage.input_tokens > 0 and 0 < usage.output_tokens <= 24
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert reply.temperature == 0 and reply.max_output_tokens == 24 and reply.instructions is None


def test_max_output_tokens_makes_it_incomplete(oai, smollm2):
    reply = oai.responses.create(model="smollm2", input="Tell me a long story.", temperature=0, max_output_tokens=3)
    assert reply.status == "incomplete" and reply.incomplete_details.reason == "max_output_tokens"
    assert reply.usage.output_tokens == 3 and reply.output_text
    # Streamed, the last event is response.completed (what clients wait for, as from Ollama) with the same status.
    final = list(oai.responses.create(model="smollm2", input="Tell me a long story.", temperature=0, max_output_tokens=3,
                                      stream=True))[-1]
    assert final.type == "response.completed" and final.response.status == "incomplete"
    assert final.response.incomplete_details.reason == "max_output_tokens"


def test_stream_events_in_order(oai, smollm2):
    events = list(oai.responses.create(model="smollm2", input="Name a color.", stream=True, **GREEDY))
    kinds = [e.type for e in events]
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert kinds[:4] == TEXT_EVENTS and deltas and kinds[4:4 + len(deltas)] == ["response.output_text.delta"] * len(deltas)
    final = events[-1].response
    assert kinds[4 + len(deltas):] == [*TEXT_END, "response.completed"]  # also when incomplete, as Ollama does
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(d.delta for d in deltas)
    assert text.strip() and events[-4].text == text and final.output_text == text
    assert final.id == events[0].response.id and final.usage.output_tokens > 0
    assert {e.item_id for e in deltas} == {final.output[0].id}
    # The SDK's own accumulator, which checks the items' identities, agrees.
    with oai.responses.stream(model="smollm2", input="Name a color.", **GREEDY) as stream:
        streamed = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        assert stream.get_final_response().output_text == streamed == text


def test_sse_wire_format(server, smollm2):
    with httpx.stream("POST", server.url + "/v1/responses", timeout=60, json={
            "model": "smollm2", "input": "Hi", "stream": True, **GREEDY}) as reply:
        assert reply.headers["content-type"] == "text/event-stream"
        frames = reply.read().decode().split("\n\n")
    assert frames[-1] == "" and "[DONE]" not in frames[-2]
    for frame in frames[:-1]:
        event, data = frame.split("\n")
        assert event == "event: " + json.loads(data.removeprefix("data: "))["type"]


def test_instructions_and_items_reach_the_prompt(server, oai, smollm2):
    """Instructions, earlier turns and content parts read as the same messages on /api/chat: the same greedy answer."""
    items = [
        {"role": "user", "content": "My name is Ada."},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello Ada!"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "What is my name?"}]},
    ]
    reply = oai.responses.create(model="smollm2", instructions="You answer in one short sentence.", input=items, **GREEDY)
    native = native_chat(server, "smollm2", [
        {"role": "system", "content": "You answer in one short sentence."}, {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Hello Ada!"}, {"role": "user", "content": "What is my name?"}])
    assert reply.output_text == native["message"]["content"]
    assert reply.instructions == "You answer in one short sentence."
    assert reply.usage.input_tokens == native["prompt_eval_count"]


def test_json_schema_format(oai, smollm2):
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
              "required": ["name", "age"]}
    reply = oai.responses.create(model="smollm2", input="Describe a person.", temperature=0, max_output_tokens=60,
                                 text={"format": {"type": "json_schema", "name": "person", "schema": schema}})
    data = json.loads(reply.output_text)
    assert isinstance(data["name"], str) and isinstance(data["age"], int)
    assert reply.text.format.type == "json_schema"


def test_function_call_and_its_output(oai, models):
    ask = "What is the weather in Paris?"
    reply = oai.responses.create(model=models["tools"], input=ask, tools=[WEATHER], tool_choice=FORCE, **GREEDY)
    (call,) = reply.output
    assert call.type == "function_call" and call.name == "get_weather" and call.status == "completed"
    assert call.call_id.startswith("call_") and isinstance(json.loads(call.arguments)["city"], str)
    # Streamed: a function_call item whose arguments come whole.
    events = list(oai.responses.create(model=models["tools"], input=ask, tools=[WEATHER], tool_choice="required",
                                       stream=True, **GREEDY))
    kinds = [e.type for e in events]
    assert kinds[2:] == ["response.output_item.added", "response.function_call_arguments.delta",
                         "response.function_call_arguments.done", "response.output_item.done", "response.completed"]
    assert events[2].item.type == "function_call" and events[2].item.arguments == ""
    assert events[-1].response.output[0].arguments == events[3].delta == events[4].arguments
    # The reply's items go back as input, with a function_call_output answering the call: the prompt is the
    # one /api/chat renders for the same turns (as many tokens), and it is answered.
    follow = oai.responses.create(model=models["tools"], tools=[WEATHER], **GREEDY, input=[
        {"role": "user", "content": ask}, *reply.output,
        {"type": "function_call_output", "call_id": call.call_id, "output": "Sunny, 21 C"}])
    assert follow.status in ("completed", "incomplete") and follow.output
    native = httpx.post(str(oai.base_url).removesuffix("v1/") + "api/chat", timeout=60, json={
        "model": models["tools"], "stream": False, "tools": [{"type": "function", "function": {
            k: WEATHER[k] for k in ("name", "description", "parameters")}}],
        "options": {"temperature": 0, "num_predict": 24}, "messages": [
            {"role": "user", "content": ask},
            {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather",
                                                                              "arguments": json.loads(call.arguments)}}]},
            {"role": "tool", "content": "Sunny, 21 C", "tool_name": "get_weather"}]}).json()
    assert follow.usage.input_tokens == native["prompt_eval_count"]
    assert follow.output_text == native["message"]["content"]
    # tool_choice "none" leaves the tools out: a plain answer.
    plain = oai.responses.create(model=models["tools"], input=ask, tools=[WEATHER], tool_choice="none", **GREEDY)
    assert [o.type for o in plain.output] == ["message"]


def test_reasoning(oai, models, smollm2):
    reply = oai.responses.create(model=models["think"], input="Hi", temperature=0, max_output_tokens=8)
    reasoning = reply.output[0]
    assert reasoning.type == "reasoning" and reasoning.id.startswith("rs_") and reasoning.summary[0].text
    events = list(oai.responses.create(model=models["think"], input="Hi", temperature=0, max_output_tokens=8,
                                       reasoning={"effort": "low"}, stream=True))
    kinds = [e.type for e in events]
    assert kinds[2:4] == ["response.output_item.added", "response.reasoning_summary_part.added"]
    thought = "".join(e.delta for e in events if e.type == "response.reasoning_summary_text.delta")
    assert thought and events[-1].response.output[0].summary[0].text == thought
    assert events[-1].response.reasoning.effort == "low"
    # Cut short while thinking: the same items whole and streamed (no empty message after the reasoning).
    cut = {"model": models["think"], "input": "Hi", "temperature": 0, "max_output_tokens": 5}
    whole = [o.type for o in oai.responses.create(**cut).output]
    streamed = [o.type for o in list(oai.responses.create(**cut, stream=True))[-1].response.output]
    assert whole == streamed == ["reasoning"]
    plain = oai.responses.create(model=models["think"], input="Hi", reasoning={"effort": "none"}, temperature=0,
                                 max_output_tokens=8)
    assert [o.type for o in plain.output] == ["message"]
    with pytest.raises(openai.BadRequestError, match="does not support thinking"):
        oai.responses.create(model="smollm2", input="Hi", reasoning={"effort": "high"})


@pytest.mark.parametrize(("body", "status", "message"), [
    ({"input": "Hi"}, 400, "model is required"),
    ({"model": "nope", "input": "Hi"}, 404, "not found"),
    ({"model": "smollm2", "input": 5}, 400, "input must be a string or an array"),
    ({"model": "smollm2", "input": "Hi", "temperature": "hot"}, 400, "ResponsesRequest.temperature"),
    ({"model": "smollm2", "input": "Hi", "max_output_tokens": 0}, 400, "max_output_tokens must be"),
    ({"model": "smollm2", "input": [{"type": "no_such_item"}]}, 400, "unknown input item type"),
    ({"model": "smollm2", "input": [{"content": "Hi"}]}, 400, "is missing its 'type'"),
    ({"model": "smollm2", "input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}, 400, "file inputs"),
    ({"model": "smollm2", "input": "Hi", "previous_response_id": "resp_1"}, 400, "previous_response_id is not supported"),
    ({"model": "smollm2", "input": "Hi", "tools": [{"type": "namespace", "name": "ns"}]}, 400, "a namespace tool needs"),
    ({"model": "smollm2", "input": "Hi", "tools": [{"type": "custom"}]}, 400, "a custom tool needs a name"),
    ({"model": "smollm2", "input": [{"type": "custom_tool_call", "call_id": "c", "name": "f", "input": {}}]}, 400,
     "its input (a string)"),
    ({"model": "smollm2", "input": ""}, 400, "input is required"),
    ({"model": "nope", "input": "Hi", "stream": True}, 404, "not found"),
    ({"model": "smollm2", "input": [{"role": "user", "content": [{"type": "input_image", "image_url": PNG}]}]}, 400,
     "does not support images"),
    ({"model": "smollm2", "input": "Hi", "reasoning": {"effort": ["high"]}}, 400, "reasoning.effort must be a string"),
    ({"model": "smollm2", "input": "Hi", "reasoning": {"effort": "huge"}}, 400, "invalid reasoning value"),
    ({"model": "smollm2", "input": "Hi", "text": {"format": {"type": "json_schema"}}}, 400, "needs a `schema` object"),
    ({"model": "smollm2", "input": "Hi", "tools": [WEATHER], "tool_choice": {"type": "function", "name": "other"}}, 400,
     "unknown function"),
    ({"model": "smollm2", "input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{oops"}]}, 400,
     "invalid tool call arguments"),
])
def test_errors_in_openai_shape(server, smollm2, body, status, message):
    reply = httpx.post(server.url + "/v1/responses", json=body, timeout=60)
    error = reply.json()["error"]
    assert reply.status_code == status and message in error["message"]
    assert error["type"] == ("not_found_error" if status == 404 else "invalid_request_error")
    assert error["param"] is None and error["code"] is None


def test_errors_through_the_client(oai, smollm2):
    with pytest.raises(openai.NotFoundError, match="not found"):
        oai.responses.create(model="nope", input="Hi")
    with pytest.raises(openai.BadRequestError, match="unknown content type"):
        oai.responses.create(model="smollm2", input=[{"role": "user", "content": [{"type": "bogus"}]}])
    assert httpx.get(str(oai.base_url.join("responses")), timeout=10).json()["error"]["message"] == "method not allowed"


# -- what Codex sends --------------------------------------------------------------------


def codex_turn(name: str, model: str, whole: bool = False) -> dict:
    """A recorded Codex request for `model`; unless `whole`, its long developer instructions shortened (the recorded
    prompt does not fit SmolLM2's 4,096-token slot) and its tool descriptions dropped, every tool kept."""
    body = copy.deepcopy(recorded(name)["body"])
    body.update(model=model, max_output_tokens=8, temperature=0)
    if not whole:
        for item in body["input"]:
            if item.get("role") == "developer":
                item["content"] = [{"type": "input_text", "text": "You are a coding agent."}]
            elif item.get("role") == "user" and "environment_context" in item["content"][0]["text"]:
                item["content"] = [{"type": "input_text", "text": "<cwd>/tmp</cwd>"}]
        for tool in body["tools"]:
            for member in [tool, *tool.get("tools", [])]:
                member.pop("description", None)
    return body


def sse(reply: httpx.Response) -> list[dict]:
    return [json.loads(frame.split("data: ", 1)[1]) for frame in reply.text.split("\n\n") if "data: " in frame]


def test_codex_turns_are_answered(server, models):
    """The recorded turns (developer messages, a namespace tool, a hosted web_search tool, a function_call and its
    output) stream an answer, ending in response.completed."""
    for name in ("codex_first_turn", "codex_tool_turn"):
        reply = httpx.post(server.url + "/v1/responses", json=codex_turn(name, models["tools"]), timeout=120)
        assert reply.status_code == 200, reply.text
        events = sse(reply)
        assert events[0]["type"] == "response.created" and events[-1]["type"] == "response.completed"
        assert events[-1]["response"]["usage"]["input_tokens"] > 100


def test_codex_whole_prompt_is_too_long_for_the_slot(server, models):
    reply = httpx.post(server.url + "/v1/responses", json=codex_turn("codex_first_turn", models["tools"], whole=True), timeout=120)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["code"] == "context_length_exceeded" and error["type"] == "invalid_request_error"
    assert "maximum context length is 4096 tokens" in error["message"]


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "zstd"])
def test_compressed_request_bodies(server, models, encoding):
    body = json.dumps(codex_turn("codex_tool_turn", models["tools"])).encode()
    packed = {"gzip": gzip.compress, "deflate": zlib.compress, "zstd": zstandard.ZstdCompressor().compress}[encoding](body)
    reply = httpx.post(server.url + "/v1/responses", content=packed, timeout=120,
                       headers={"Content-Type": "application/json", "Content-Encoding": encoding})
    assert reply.status_code == 200 and sse(reply)[-1]["type"] == "response.completed"


def test_a_compressed_bomb_is_413(server, smollm2):
    bomb = gzip.compress(b" " * (80 << 20))  # 80 MiB of spaces: past the 64 MiB cap once decoded
    reply = httpx.post(server.url + "/v1/responses", content=bomb, timeout=60,
                       headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert reply.status_code == 413 and "request body too large" in reply.json()["error"]["message"]
    damaged = httpx.post(server.url + "/v1/responses", content=gzip.compress(b'{"model": "smollm2"}')[:-8], timeout=60,
                         headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert damaged.status_code == 400 and "not valid gzip data" in damaged.json()["error"]["message"]
