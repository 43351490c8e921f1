"""The client's chat session (client/chat.py) against a real `serve` with SmolLM2: typed deltas, final stats,
the conversation continued, tool calls, and cancel freeing the slot."""

from __future__ import annotations

import threading

import httpx
import pytest

from jupyter_ollama.client import Client, ClientError
from jupyter_ollama.client.chat import Chat, ChatRequest, Content, Message, Stats, Thinking, ToolCall, ToolCalls

from ..api.templates import JSON_TOOLS, THINKING, create_variant
from ..conftest import wait_for

GREEDY = {"temperature": 0, "num_predict": 40}
LONG = "Write a very long story about a dragon, with ten chapters."  # greedy SmolLM2 goes on for 1000+ tokens
# An earlier turn that thought: with it, the tiny model thinks one sentence and closes </think> itself (tests/api/test_tools.py).
THOUGHT = [Message("user", "What is 2+2?"), Message("assistant", "4", thinking="2+2 is 4.")]
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
CALL = {"type": "object", "properties": {"name": {"const": "get_weather"}, "arguments": WEATHER["function"]["parameters"]},
        "required": ["name", "arguments"]}


@pytest.fixture(scope="module")
def models(client, smollm2) -> dict[str, str]:
    return {"think": create_variant(client, smollm2, "smollm2-think", THINKING),
            "json": create_variant(client, smollm2, "smollm2-jsontools", JSON_TOOLS)}


@pytest.fixture
def http(server):  # type: ignore[no-untyped-def]
    with Client(server.url) as client:
        yield client


def busy_slots(server, model: str) -> int:  # type: ignore[no-untyped-def]
    models = httpx.get(server.url + "/api/ps", timeout=30).json()["models"]
    return sum(m["slots_busy"] for m in models if m["name"] == model)


def rendered(http: Client, request: ChatRequest) -> str:
    """The prompt the model would read for `request` (the server's `_debug_render_only`)."""
    body = {**request.body(), "stream": False, "_debug_render_only": True}
    return http.request("POST", "/api/chat", body)["_debug_info"]["rendered_template"]


def test_a_turn_streams_thinking_then_content_and_ends_with_stats(http, models):
    chat = Chat(models["think"], messages=list(THOUGHT), options=GREEDY)
    turn = chat.turn(http, "What is the capital of France?")
    deltas = list(turn)
    kinds = [type(d) for d in deltas]
    assert Thinking in kinds and Content in kinds
    assert Thinking not in kinds[kinds.index(Content):]  # all the thinking, then the answer
    thought = "".join(d.text for d in deltas if isinstance(d, Thinking))
    answer = "".join(d.text for d in deltas if isinstance(d, Content))
    assert thought == turn.thinking == "The capital of France is Paris." and answer == turn.content == "4"
    assert turn.done and not turn.cancelled and turn.error is None
    stats = turn.stats
    assert isinstance(stats, Stats) and stats.done_reason == "stop"
    assert stats.eval_count > 0 and stats.eval_duration > 0 and stats.prompt_eval_count > 0 and stats.total_duration > 0
    assert stats.tokens_per_second and "eval rate:" in stats.summary()
    # The exchange joined the conversation, the thinking in its own field as Ollama's messages carry it.
    assert chat.messages[2:] == [Message("user", "What is the capital of France?"),
                                 Message("assistant", "4", thinking="The capital of France is Paris.")]


def test_the_next_turn_continues_the_conversation(http, models):
    chat = Chat(models["think"], system="Answer briefly.", messages=list(THOUGHT), options=GREEDY)
    first = chat.turn(http, "What is the capital of France?").result()
    assert first.thinking
    nxt = chat.request(Message("user", "And of Spain?"))
    assert [m.role for m in nxt.messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    prompt = rendered(http, nxt)
    assert prompt.startswith("<|im_start|>system\nAnswer briefly.<|im_end|>")
    # Earlier thinking reaches the template, which decides what to do with it (this one writes it back).
    assert "<think>2+2 is 4.</think>4<|im_end|>" in prompt
    assert f"What is the capital of France?<|im_end|>\n<|im_start|>assistant\n<think>{first.thinking}</think>{first.content}<|im_end|>" in prompt
    assert prompt.endswith("<|im_start|>user\nAnd of Spain?<|im_end|>\n<|im_start|>assistant\n<think>")
    reply = chat.turn(http, "And of Spain?").result()
    assert reply.role == "assistant" and (reply.content or reply.thinking)
    assert len(chat.messages) == 6 and chat.messages[-1] == reply
    chat.clear()
    assert chat.messages == [] and chat.system == "Answer briefly."


def test_tool_calls_arrive_as_a_delta_and_stay_in_the_conversation(http, models):
    chat = Chat(models["json"], options=GREEDY, format=CALL, tools=[WEATHER])
    turn = chat.turn(http, "What is the weather in Paris?")
    deltas = list(turn)
    [calls] = [d for d in deltas if isinstance(d, ToolCalls)]
    [call] = calls.calls
    assert call.name == "get_weather" and isinstance(call.arguments["city"], str) and call.id.startswith("call_")
    assert call.index == 0 and deltas[-1] is calls  # no content after the call: the answer is the call
    assert turn.done and turn.content == "" and turn.tool_calls == [call]
    assert chat.messages[-1].tool_calls == [call]
    sent = chat.request(Message("tool", "Sunny, 21 C", tool_name="get_weather")).body()["messages"]
    assert sent[1] == {"role": "assistant", "content": "", "tool_calls": [call.to_wire()]}
    assert sent[2] == {"role": "tool", "content": "Sunny, 21 C", "tool_name": "get_weather"}


def test_cancel_from_another_thread_frees_the_slot_and_keeps_the_text(server, http, smollm2):
    chat = Chat(smollm2, options={"temperature": 0, "num_predict": 3000})
    turn = chat.turn(http, LONG)
    seen: list[object] = []
    failed: list[BaseException] = []

    def read() -> None:
        try:
            for delta in turn:
                seen.append(delta)
        except BaseException as err:  # reported to the test
            failed.append(err)

    reader = threading.Thread(target=read)
    reader.start()
    wait_for(lambda: len(seen) >= 3, timeout=120)  # tokens are arriving
    assert busy_slots(server, smollm2) == 1
    turn.cancel()
    reader.join(timeout=30)
    assert not reader.is_alive() and failed == []  # the reader woke up at once, and a hang-up is no error
    assert turn.cancelled and not turn.done and turn.stats is None and turn.error is None
    wait_for(lambda: busy_slots(server, smollm2) == 0, timeout=30)  # the server saw the client go
    # What arrived is kept, so the next turn continues from it.
    assert turn.content and chat.messages == [Message("user", LONG), Message("assistant", turn.content)]


def test_a_turn_closed_early_hangs_up_and_one_cancelled_before_it_starts_sends_nothing(server, http, smollm2):
    chat = Chat(smollm2, options={"temperature": 0, "num_predict": 3000})
    with chat.turn(http, LONG) as turn:
        for delta in turn:
            if isinstance(delta, Content) and len(turn.content) > 20:
                break  # the reader stops; leaving `with` closes the turn
    assert turn.cancelled and turn.ended
    wait_for(lambda: busy_slots(server, smollm2) == 0, timeout=30)
    assert len(chat.messages) == 2
    early = chat.turn(http, "Hi")
    early.cancel()
    assert list(early) == [] and early.cancelled and len(chat.messages) == 2  # nothing sent, nothing kept


def test_a_failed_turn_raises_and_is_not_kept(http):
    chat = Chat("no-such-model")
    turn = chat.turn(http, "Hi")
    with pytest.raises(ClientError, match="model 'no-such-model' not found"):
        list(turn)
    assert isinstance(turn.error, ClientError) and not turn.cancelled and chat.messages == []


def test_wire_shapes():
    call = ToolCall("f", {"x": 1}, "call_1", 0)
    message = Message("assistant", "", thinking="hm", tool_calls=[call])
    assert message.to_wire() == {"role": "assistant", "content": "", "thinking": "hm",
                                 "tool_calls": [{"id": "call_1", "function": {"name": "f", "arguments": {"x": 1}, "index": 0}}]}
    assert Message.from_wire({**message.to_wire(), "stats": {"eval_count": 3}}) == message  # a widget's extra keys are left out
    assert Message("user", "hi").to_wire() == {"role": "user", "content": "hi"}  # Go's omitempty
    body = ChatRequest("m", [Message("user", "hi")]).body()
    assert body == {"model": "m", "messages": [{"role": "user", "content": "hi"}], "options": {}, "stream": True}
    full = ChatRequest("m", [], {"seed": 1}, "json", False, "5m", [WEATHER]).body()
    assert (full["format"], full["think"], full["keep_alive"], full["tools"]) == ("json", False, "5m", [WEATHER])
    assert Stats.from_chunk({"eval_count": "7", "eval_duration": True, "done_reason": None}) == Stats()
