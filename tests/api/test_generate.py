"""POST /api/generate through the official `ollama` client and raw HTTP, on the real tiny model."""

from __future__ import annotations

import json

import httpx
import ollama
import pytest

GREEDY = {"temperature": 0, "num_predict": 40}
PROMPT = "Why is the sky blue? Be brief."


def test_generate_returns_text_and_ollama_timings(client, smollm2):
    reply = client.generate(model="smollm2", prompt=PROMPT, options=GREEDY)
    assert reply.model == "smollm2"  # echoed as the request spelled it
    assert reply.done and reply.done_reason in ("stop", "length")
    assert any(w in reply.response.lower() for w in ("scatter", "atmosphere", "light", "wavelength"))
    for field in ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration"):
        assert isinstance(getattr(reply, field), int) and getattr(reply, field) > 0, field
    assert reply.prompt_eval_count > 5 and reply.eval_count > 0
    assert reply.total_duration >= reply.eval_duration
    assert reply.context and all(isinstance(t, int) for t in reply.context)


def test_generate_streams_chunks(client, smollm2):
    chunks = list(client.generate(model="smollm2", prompt=PROMPT, options=GREEDY, stream=True))
    assert len(chunks) > 3
    assert all(c.model == "smollm2" and c.created_at for c in chunks)
    assert not any(c.done for c in chunks[:-1]) and chunks[-1].done
    assert chunks[-1].done_reason in ("stop", "length") and chunks[-1].eval_count > 0
    whole = client.generate(model="smollm2", prompt=PROMPT, options=GREEDY).response
    assert "".join(c.response for c in chunks) == whole  # greedy: streamed equals non-streamed


def test_num_predict_gives_exactly_that_many_tokens(client, smollm2):
    reply = client.generate(model="smollm2", prompt="Write a long story about a dragon.", options={"temperature": 0, "num_predict": 10})
    assert reply.eval_count == 10 and reply.done_reason == "length"


def test_seed_makes_sampling_repeatable(client, smollm2):
    options = {"temperature": 0.9, "seed": 1234, "num_predict": 20}
    first = client.generate(model="smollm2", prompt="Tell me a joke.", options=options).response
    assert client.generate(model="smollm2", prompt="Tell me a joke.", options=options).response == first


def test_stop_strings_end_the_reply(client, smollm2):
    reply = client.generate(model="smollm2", prompt="List five animals, one per line.", options={"temperature": 0, "stop": ["\n"], "num_predict": 60})
    assert "\n" not in reply.response and reply.done_reason == "stop"


def test_format_json(client, smollm2):
    prompt = 'Reply with a JSON object whose key "color" holds the color of the sky.'
    reply = client.generate(model="smollm2", prompt=prompt, format="json", options={"temperature": 0, "num_predict": 200})
    assert reply.done_reason == "stop"  # the grammar closed the object; it was not cut off
    assert isinstance(json.loads(reply.response), dict)


def test_format_json_schema(client, smollm2):
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}, "required": ["name", "age"]}
    reply = client.generate(model="smollm2", prompt="Invent a person.", format=schema, options={"temperature": 0, "num_predict": 60})
    person = json.loads(reply.response)
    assert isinstance(person["name"], str) and isinstance(person["age"], int)


def test_context_continues_a_conversation(client, smollm2):
    first = client.generate(model="smollm2", prompt="My name is Ada.", options=GREEDY)
    second = client.generate(model="smollm2", prompt="What is my name?", context=first.context, options=GREEDY)
    assert second.prompt_eval_count > first.prompt_eval_count
    assert len(second.context) > len(first.context)


def test_raw_prompt(client, smollm2):
    reply = client.generate(model="smollm2", prompt="<|im_start|>user\nSay hi<|im_end|>\n<|im_start|>assistant\n", raw=True, options=GREEDY)
    assert reply.response and not reply.context


def test_empty_prompt_loads_and_keep_alive_zero_unloads(client, smollm2):
    assert client.generate(model="smollm2", prompt="").done_reason == "load"
    assert "smollm2:latest" in [m.model for m in client.ps().models]
    assert client.generate(model="smollm2", prompt="", keep_alive=0).done_reason == "unload"
    assert "smollm2:latest" not in [m.model for m in client.ps().models]


def test_ps_reports_the_loaded_model(client, server, smollm2):
    client.generate(model="smollm2", prompt="hi", options={"num_predict": 1}, keep_alive="10m")
    entry = [m for m in httpx.get(server.url + "/api/ps").json()["models"] if m["model"] == "smollm2:latest"][0]
    assert entry["size"] > 98_000_000 and entry["size_vram"] == 0
    assert entry["context_length"] > 0 and len(entry["digest"]) == 64
    assert entry["details"]["family"] == "llama"
    assert entry["slots_total"] >= 1 and entry["slots_busy"] == 0


@pytest.mark.parametrize(
    "body,message",
    [
        ({"model": "smollm2", "prompt": "x", "raw": True, "system": "s"}, "raw mode does not support template, system, or context"),
        ({"model": "smollm2", "prompt": "x", "images": ["aGVsbG8="]}, '"smollm2:latest" does not support images'),
        ({"model": "smollm2", "prompt": "x", "think": True}, '"smollm2:latest" does not support thinking'),
        ({"model": "smollm2", "prompt": "x", "format": "yaml"}, "invalid format"),
        ({"model": "smollm2", "prompt": "x", "keep_alive": "300"}, "invalid duration"),
        ({"model": "smollm2", "prompt": "x", "options": {"temperature": "hot"}}, "temperature"),
        ({"prompt": "x"}, "model is required"),
        ({"model": "smollm2", "prompt": "def f(", "suffix": "return 1"}, '"smollm2:latest" does not support insert'),
    ],
)
def test_bad_requests_are_400(server, smollm2, body, message):
    response = httpx.post(server.url + "/api/generate", json=body, timeout=60)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_unknown_model_is_404(client):
    with pytest.raises(ollama.ResponseError) as err:
        client.generate(model="nope", prompt="hi")
    assert err.value.status_code == 404
    assert err.value.error == "model 'nope' not found"


def test_suffix_with_a_fill_in_the_middle_template(client, server, smollm2):
    client.create(model="fim", from_=smollm2, template="{{ if .Suffix }}<PRE>{{ .Prompt }}<SUF>{{ .Suffix }}<MID>{{ else }}{{ .Prompt }}{{ end }}")
    body = {"model": "fim", "prompt": "def add(a, b):", "suffix": "    return c", "_debug_render_only": True}
    reply = httpx.post(server.url + "/api/generate", json=body, timeout=60).json()
    assert reply["_debug_info"]["rendered_template"] == "<PRE>def add(a, b):<SUF>    return c<MID>"
    assert ollama.GenerateResponse(**reply).response == ""  # the official client's type parses it
    assert client.generate(model="fim", prompt="def add(a, b):", suffix="    return c", options=GREEDY).done
