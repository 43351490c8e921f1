"""The OpenAI to native translation on its own: what Ollama's middleware makes of a request."""

from __future__ import annotations

import base64

import pytest

from jupyter_ollama.api.openai_wire import ChatCompletionRequest, chat_request
from jupyter_ollama.errors import BadRequest

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()


def test_content_parts_become_one_message_each_with_tool_fields_on_the_last():
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "Look:"},
                {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                {"type": "text", "text": "What is it?"},
            ]},
            {"role": "assistant", "content": [{"type": "text", "text": "Checking."}], "reasoning": "hmm",
             "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "look", "arguments": "{}"}}]},
        ],
    }
    messages = chat_request(ChatCompletionRequest.from_json(body)).messages
    assert messages[:3] == [
        {"role": "user", "content": "Look:"},
        {"role": "user", "content": "", "images": [PNG]},
        {"role": "user", "content": "What is it?"},
    ]
    assert messages[3] == {"role": "assistant", "content": "Checking.", "thinking": "hmm",
                           "tool_calls": [{"id": "c1", "function": {"name": "look", "arguments": {}}}]}


def test_top_p_zero_is_kept_and_absent_or_null_sampling_means_openais_one():
    ask = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    assert chat_request(ChatCompletionRequest.from_json({**ask, "top_p": 0})).options["top_p"] == 0
    options = chat_request(ChatCompletionRequest.from_json({**ask, "temperature": None})).options
    assert options["temperature"] == 1.0 and options["top_p"] == 1.0


@pytest.mark.parametrize("body", [{"reasoning": {"effort": []}}, {"reasoning": "high"}, {"reasoning_effort": {"a": 1}}])
def test_a_reasoning_effort_of_the_wrong_type_is_a_clear_400(body):
    with pytest.raises(BadRequest) as info:
        chat_request(ChatCompletionRequest.from_json({"model": "m", "messages": [{"role": "user", "content": "x"}], **body}))
    assert info.value.status == 400
