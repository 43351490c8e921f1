"""logprobs / top_logprobs on /api/generate and /api/chat, and `shift: false`, through the official client."""

from __future__ import annotations

import math

import httpx
import pytest

GREEDY = {"temperature": 0, "num_predict": 8}


def test_generate_logprobs_agree_with_the_greedy_choice(client, smollm2):
    reply = client.generate(model=smollm2, prompt="Name a color.", logprobs=True, top_logprobs=3, options=GREEDY)
    entries = reply.logprobs
    assert entries and len(entries) == reply.eval_count
    assert "".join(e.token for e in entries) == reply.response  # every token's text, in order
    for entry in entries:
        assert entry.logprob <= 0 and math.isfinite(entry.logprob)
        top = entry.top_logprobs
        assert top is not None and len(top) == 3
        assert [t.logprob for t in top] == sorted((t.logprob for t in top), reverse=True)
        assert top[0].token == entry.token and top[0].logprob == pytest.approx(entry.logprob)  # greedy took the likeliest


def test_each_entry_carries_its_tokens_bytes(server, smollm2):
    body = {"model": smollm2, "prompt": "Say café.", "logprobs": True, "top_logprobs": 1, "options": GREEDY, "stream": False}
    entries = httpx.post(server.url + "/api/generate", json=body, timeout=120).json()["logprobs"]
    for entry in entries:
        assert bytes(entry["bytes"]).decode("utf-8", "replace") == entry["token"]
        assert set(entry["top_logprobs"][0]) == {"token", "logprob", "bytes"}


def test_chat_streams_logprobs_with_the_text_they_belong_to(client, smollm2):
    parts = list(client.chat(model=smollm2, messages=[{"role": "user", "content": "Hi"}], logprobs=True, stream=True, options=GREEDY))
    counted = sum(len(p.logprobs or []) for p in parts)
    assert counted == parts[-1].eval_count
    for part in parts[:-1]:
        assert part.message.content and part.logprobs  # each piece of text comes with its tokens' logprobs
        assert "".join(e.token for e in part.logprobs) == part.message.content
    assert all(e.top_logprobs is None for p in parts for e in p.logprobs or [])  # none were asked for


def test_no_logprobs_unless_asked(client, smollm2):
    reply = client.chat(model=smollm2, messages=[{"role": "user", "content": "Hi"}], options=GREEDY)
    assert reply.logprobs is None


@pytest.mark.parametrize("top", [21, -1])
def test_top_logprobs_out_of_range_is_400(server, smollm2, top):
    response = httpx.post(server.url + "/api/generate", json={"model": smollm2, "prompt": "x", "top_logprobs": top})
    assert response.status_code == 400
    assert response.json() == {"error": "top_logprobs must be between 0 and 20"}


def generate(server, **body) -> httpx.Response:  # type: ignore[no-untyped-def]
    # ollama-python has no `shift` argument yet: the raw API, as Ollama documents it.
    return httpx.post(server.url + "/api/generate", json={"stream": False, **body}, timeout=300)


def test_shift_false_stops_at_the_context_instead_of_shifting(server, client, smollm2):
    client.generate(model=smollm2, keep_alive=0)  # loaded afresh at num_ctx 128: a loaded model never shrinks
    prompt, options = "1, 2, 3, 4, 5, 6, 7, 8,", {"temperature": 0, "num_ctx": 128, "num_predict": 400}  # it counts on
    reply = generate(server, model=smollm2, prompt=prompt, raw=True, options=options, shift=False).json()
    assert reply["done_reason"] == "length"
    assert reply["prompt_eval_count"] + reply["eval_count"] == 128 + 1  # the context full, and the token sampled at its end
    shifted = generate(server, model=smollm2, prompt=prompt, raw=True, options={**options, "num_predict": 160}).json()
    assert shifted["eval_count"] == 160  # with shifting (the default) it goes past the context


def test_shift_false_refuses_a_prompt_longer_than_the_context(server, client, smollm2):
    client.generate(model=smollm2, keep_alive=0)
    response = generate(server, model=smollm2, prompt="word " * 300, options={"num_ctx": 128}, shift=False)
    assert response.status_code == 400
    assert response.json()["error"].startswith("the prompt is longer than the context length currently available")
