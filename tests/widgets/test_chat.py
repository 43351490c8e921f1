"""ChatWidget against the real engine on the tiny model, with a recording comm instead of a browser."""

from __future__ import annotations

import threading

import httpx
import pytest

from jupyter_ollama.widgets import ChatWidget
from jupyter_ollama.widgets.chat import parse_options

from ..api.templates import THINKING
from ..conftest import wait_for
from .conftest import browser_sets, custom, from_browser, updates

LONG = "Write a very long story about a dragon, with ten chapters."  # greedy SmolLM2 goes on for 1000+ tokens


def deltas(widget: ChatWidget) -> list[dict]:
    return [m for m in custom(widget) if m["type"] == "delta"]


def busy_slots(server, model: str) -> int:  # type: ignore[no-untyped-def]
    models = httpx.get(server.url + "/api/ps", timeout=30).json()["models"]
    return sum(m["slots_busy"] for m in models if m["name"] == model)


def test_reply_streams_as_deltas_then_lands_in_messages(server, smollm2):
    chat = ChatWidget(smollm2, endpoint=server.url, options={"temperature": 0, "num_predict": 24})
    assert chat.send_message("Tell me about the sea.")
    reply = chat.wait(120)
    assert reply and chat.error == "" and not chat.streaming

    pieces = deltas(chat)
    assert len(pieces) >= 2 and {p["id"] for p in pieces} == {1}  # index the reply has in `messages`
    assert "".join(p["text"] for p in pieces) == reply  # deltas only, which add up to the reply
    user, assistant = chat.messages
    assert user == {"role": "user", "content": "Tell me about the sea."}
    assert assistant["role"] == "assistant" and assistant["content"] == reply
    stats = assistant["stats"]
    assert stats["eval_count"] == 24 and stats["done_reason"] == "length" and stats["tokens_per_second"] > 0

    # The whole text went over the comm once, in the final state; never per token.
    sent_messages = [u["messages"] for u in updates(chat) if "messages" in u]
    assert len(sent_messages) == 2
    assert sent_messages[0] == [user] and sent_messages[1][-1]["content"] == reply
    assert [u["streaming"] for u in updates(chat) if "streaming" in u] == [True, False]


def test_conversation_goes_on_with_history_and_system_prompt(server, smollm2):
    chat = ChatWidget(smollm2, endpoint=server.url, system="You answer in one short sentence.",
                      options="temperature=0, num_predict=12")
    chat.send_message("My name is Ada.")
    assert chat.wait(120)
    chat.send_message("What is my name?")
    second = chat.wait(120)
    assert second and len(chat.messages) == 4 and [m["role"] for m in chat.messages] == ["user", "assistant"] * 2
    assert {p["id"] for p in deltas(chat)} == {1, 3}
    chat.clear()
    assert chat.messages == []


def test_stop_mid_stream_ends_the_reply_and_frees_the_slot(server, smollm2):
    chat = ChatWidget(smollm2, endpoint=server.url, options={"temperature": 0, "num_predict": 1000})
    chat.send_message(LONG)
    wait_for(lambda: deltas(chat), timeout=120)  # tokens are arriving
    assert chat.streaming and busy_slots(server, smollm2) == 1
    from_browser(chat, {"type": "stop"})  # the Stop button
    assert not chat.streaming  # at once, without waiting for the server
    reply = chat.messages[-1]
    assert reply["role"] == "assistant" and reply["stats"]["stopped"] is True
    streamed = "".join(p["text"] for p in deltas(chat))
    assert reply["content"].startswith(streamed) and 0 < reply["stats"]["eval_count"] < 1000
    assert chat.error == ""
    wait_for(lambda: busy_slots(server, smollm2) == 0)  # the server saw the client go
    before = len(deltas(chat))
    chat.send_message("Hi")  # and the widget takes the next message
    assert chat.wait(120) is not None and len(chat.messages) == 4
    assert all(p["id"] == 3 for p in deltas(chat)[before:])


def test_send_and_settings_from_the_browser(server, smollm2):
    chat = ChatWidget(endpoint=server.url)
    wait_for(lambda: chat.model)  # the picker is filled from /api/tags, the first model chosen
    assert smollm2 in chat.models and chat.model == chat.models[0]
    browser_sets(chat, model=smollm2, system="Answer with one word.", options='{"num_predict": 3, "temperature": 0}')
    from_browser(chat, {"type": "send", "text": "Hello"})
    assert chat.wait(120) is not None
    assert chat.messages[-1]["stats"]["eval_count"] == 3


def test_unknown_model_shows_the_error(server):
    chat = ChatWidget("no-such-model", endpoint=server.url)
    assert chat.send_message("hi")
    assert chat.wait(60) is None
    assert chat.error == "model 'no-such-model' not found"
    assert chat.messages == [{"role": "user", "content": "hi"}] and not chat.streaming


@pytest.mark.parametrize("text, options, expected", [
    ("", "", "type a message first"),
    ("   ", "", "type a message first"),
    ("hi", "temperature=hot", "options: invalid float value [hot]"),
    ("hi", "warmth=1", "options: unknown parameter 'warmth'"),
    ("hi", "temperature", "options: expected key=value, got 'temperature'"),
    ("hi", "{not json", "options: invalid JSON"),
    ("hi", "[1, 2]", "options: expected key=value, got '[1, 2]'"),
])
def test_bad_input_is_a_message_not_a_traceback(server, smollm2, text, options, expected):
    chat = ChatWidget(smollm2, endpoint=server.url, options=options)
    assert chat.send_message(text) is False
    assert chat.error.startswith(expected) and chat.messages == [] and not chat.streaming


def test_no_model_and_no_server():
    chat = ChatWidget(endpoint="http://127.0.0.1:9")  # nothing listens there
    wait_for(lambda: chat.error)
    assert chat.error.startswith("could not list the server's models: could not connect to the server at http://127.0.0.1:9")
    assert chat.send_message("hi") is False and chat.error == "choose a model first"
    chat.model = "m"
    assert chat.send_message("hi") is True
    chat.wait(30)
    assert chat.error.startswith("could not connect to the server")


def test_a_second_message_while_streaming_is_refused(server, smollm2):
    chat = ChatWidget(smollm2, endpoint=server.url, options={"temperature": 0, "num_predict": 1000})
    chat.send_message(LONG)
    assert chat.send_message("and another") is False and chat.error == "a reply is still streaming: stop it first"
    chat.stop()
    assert [m["role"] for m in chat.messages][:1] == ["user"] and not chat.streaming


def test_stop_before_the_first_token_hangs_up_when_the_reply_opens(server, smollm2):
    chat = ChatWidget(smollm2, endpoint=server.url, options={"temperature": 0, "num_predict": 1000})
    chat.send_message(LONG)
    chat.stop()
    assert not chat.streaming and chat.messages == [{"role": "user", "content": LONG}]  # nothing arrived: no reply
    wait_for(lambda: not [t for t in threading.enumerate() if t.name == "ollama-chat"])
    wait_for(lambda: busy_slots(server, smollm2) == 0)


def test_parse_options():
    assert parse_options("") == {}
    assert parse_options("temperature=0.5, num_predict=10\nstop=<end>\nstop=, ") == {
        "temperature": 0.5, "num_predict": 10, "stop": ["<end>", ","]}
    assert parse_options(' {"top_k": 5} ') == {"top_k": 5}
    assert parse_options("temperature=0.2 num_predict=200") == {"temperature": 0.2, "num_predict": 200}
    assert parse_options("stop=User: \nseed=1") == {"stop": ["User:"], "seed": 1}


@pytest.fixture(scope="module")
def thinker(client, smollm2) -> str:
    """SmolLM2 behind a template that opens <think> for it: what it writes is its thinking."""
    client.create(model="widget-thinker", from_=smollm2, template=THINKING, parameters={"temperature": 0, "num_predict": 12})
    return "widget-thinker:latest"


def test_a_thinking_models_thoughts_stream_and_stay_with_the_reply(server, thinker):
    chat = ChatWidget(thinker, endpoint=server.url)
    assert chat.send_message("What is 2+2?")
    assert chat.wait(120) == "" and chat.error == ""  # it only thought: the answer is empty
    reply = chat.messages[-1]
    assert reply["role"] == "assistant" and reply["content"] == "" and reply["thinking"].strip()
    pieces = deltas(chat)
    assert all("text" in p for p in pieces) and "".join(p.get("thinking", "") for p in pieces) == reply["thinking"]
    assert reply["stats"]["eval_count"] == 12
    # The conversation goes on from a reply that only thought.
    chat.send_message("And 3+3?")
    assert chat.wait(120) is not None and [m["role"] for m in chat.messages] == ["user", "assistant"] * 2
    assert chat.messages[-1]["thinking"]
