"""OpenAI's logprobs on /v1/chat/completions and /v1/completions, through the official `openai` client."""

from __future__ import annotations

import math

import httpx
import openai
import pytest

GREEDY = {"temperature": 0, "max_tokens": 8}
HI = [{"role": "user", "content": "Name a color."}]


@pytest.fixture(scope="module")
def oai(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key="ollama", max_retries=0)


def check_entry(entry, top: int) -> None:  # type: ignore[no-untyped-def]
    assert entry.logprob <= 0 and math.isfinite(entry.logprob)
    assert bytes(entry.bytes).decode("utf-8", "replace") == entry.token
    assert len(entry.top_logprobs) == top
    if top:
        ranked = [t.logprob for t in entry.top_logprobs]
        assert ranked == sorted(ranked, reverse=True) and all(r <= 0 for r in ranked)
        # Greedy sampling took the likeliest token.
        assert entry.top_logprobs[0].token == entry.token and entry.top_logprobs[0].logprob == pytest.approx(entry.logprob)


def test_chat_logprobs_agree_with_the_greedy_choice(oai, smollm2):
    reply = oai.chat.completions.create(model=smollm2, messages=HI, logprobs=True, top_logprobs=3, **GREEDY)
    (choice,) = reply.choices
    entries = choice.logprobs.content
    assert len(entries) == reply.usage.completion_tokens
    assert "".join(e.token for e in entries) == choice.message.content
    for entry in entries:
        check_entry(entry, 3)
    plain = oai.chat.completions.create(model=smollm2, messages=HI, **GREEDY)
    assert plain.choices[0].logprobs is None  # none unless asked
    alone = oai.chat.completions.create(model=smollm2, messages=HI, top_logprobs=2, **GREEDY)
    assert alone.choices[0].logprobs is None  # top_logprobs without logprobs asks for nothing


def test_chat_stream_carries_logprobs_in_each_chunk(oai, smollm2):
    chunks = list(oai.chat.completions.create(model=smollm2, messages=HI, logprobs=True, stream=True,
                                              stream_options={"include_usage": True}, **GREEDY))
    entries = []
    for chunk in chunks[:-2]:  # the finish chunk and the usage chunk carry none
        (choice,) = chunk.choices
        assert choice.delta.content and choice.logprobs.content
        assert "".join(e.token for e in choice.logprobs.content) == choice.delta.content
        entries += choice.logprobs.content
    assert len(entries) == chunks[-1].usage.completion_tokens
    for entry in entries:
        check_entry(entry, 0)


def test_completion_logprobs_in_openais_legacy_shape(oai, smollm2):
    reply = oai.completions.create(model=smollm2, prompt="The sky is", logprobs=2, **GREEDY)
    (choice,) = reply.choices
    lp = choice.logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == reply.usage.completion_tokens
    assert "".join(lp.tokens) == choice.text
    offsets = [0]
    for token in lp.tokens[:-1]:
        offsets.append(offsets[-1] + len(token))
    assert lp.text_offset == offsets
    for token, logprob, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs, strict=True):
        assert logprob <= 0 and 1 <= len(top) <= 2  # two alternatives, fewer when their texts coincide
        assert max(top, key=top.get) == token and top[token] == pytest.approx(logprob)


def test_completion_stream_offsets_run_on_across_chunks(oai, smollm2):
    chunks = list(oai.completions.create(model=smollm2, prompt="The sky is", logprobs=0, stream=True, **GREEDY))
    tokens, offsets, text = [], [], ""
    for chunk in chunks:
        lp = chunk.choices[0].logprobs
        if lp is not None:
            tokens += lp.tokens
            offsets += lp.text_offset
            assert lp.top_logprobs == [{}] * len(lp.tokens)  # logprobs 0: the sampled tokens only
        text += chunk.choices[0].text
    assert "".join(tokens) == text and offsets[0] == 0
    assert all(b - a == len(t) for a, b, t in zip(offsets[:-1], offsets[1:], tokens[:-1], strict=True))


@pytest.mark.parametrize(("path", "body", "message"), [
    ("chat/completions", {"messages": HI, "logprobs": True, "top_logprobs": 21}, "top_logprobs must be between 0 and 20"),
    ("completions", {"prompt": "x", "logprobs": 6}, "logprobs must be between 0 and 5"),
    ("completions", {"prompt": "x", "logprobs": -1}, "logprobs must be between 0 and 5"),
])
def test_out_of_range_is_an_openai_400(server, smollm2, path, body, message):
    reply = httpx.post(f"{server.url}/v1/{path}", json={"model": smollm2, **body}, timeout=60)
    assert reply.status_code == 400
    assert reply.json()["error"]["message"] == message and reply.json()["error"]["type"] == "invalid_request_error"
