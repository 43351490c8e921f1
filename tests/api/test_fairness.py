"""Per-requester limits through a real server: a 429 with Retry-After in each route's error shape, what
/api/ps tells each requester, and the per-requester counters of /metrics. Requesters outside a hub are
known by a hash of the token they show (here as bearer tokens, through the official client's headers)."""

from __future__ import annotations

import hashlib
import threading
from typing import Any

import httpx
import ollama
import pytest

from ..conftest import RunningServer, serving, wait_for
from .test_capacity import metrics

COUNTING = {"prompt": "1, 2, 3,", "raw": True}  # counts on, never ends early


def label(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def client(server: RunningServer, token: str) -> ollama.Client:
    return ollama.Client(host=server.url, headers={"Authorization": f"Bearer {token}"})


@pytest.fixture(scope="module")
def limited(tmp_path_factory, smollm2_gguf):
    server = serving(tmp_path_factory.mktemp("fair"), smollm2_gguf, OLLAMA_NUM_PARALLEL="1",
                     OLLAMA_USER_MAX_QUEUE="1", OLLAMA_USER_TOKENS_PER_HOUR="30")
    yield server
    server.stop()


def ps(server: RunningServer, token: str) -> dict[str, Any]:
    [entry] = httpx.get(server.url + "/api/ps", headers={"Authorization": f"Bearer {token}"}).json()["models"]
    return entry


def test_past_the_queue_limit_a_429_with_retry_after_on_every_route(limited):
    ann, bob = client(limited, "ann-token"), client(limited, "bob-token")
    ann.generate(model="smollm2", prompt="")  # loaded: requests waiting for a load count as waiting
    replies: list[Any] = []
    long = threading.Thread(target=lambda: replies.append(ann.generate(model="smollm2", **COUNTING, options={"num_predict": 100})))
    long.start()
    wait_for(lambda: ps(limited, "ann-token")["slots_busy"] == 1)
    queued = threading.Thread(target=lambda: replies.append(ann.generate(model="smollm2", prompt="Hi", options={"num_predict": 2})))
    queued.start()
    wait_for(lambda: ps(limited, "ann-token")["requests_queued"] == 1)
    assert ps(limited, "ann-token")["you"] == {"busy": 1, "queued": 1, "position": 1}
    assert ps(limited, "bob-token")["you"] == {"busy": 0, "queued": 0, "position": None}

    with pytest.raises(ollama.ResponseError) as refused:
        ann.generate(model="smollm2", prompt="Hi")
    assert refused.value.status_code == 429 and "OLLAMA_USER_MAX_QUEUE=1" in refused.value.error
    native = httpx.post(limited.url + "/api/chat", headers={"Authorization": "Bearer ann-token"},
                        json={"model": "smollm2", "messages": [{"role": "user", "content": "Hi"}]})
    assert native.status_code == 429 and int(native.headers["Retry-After"]) >= 1
    assert native.json() == {"error": refused.value.error}
    openai = httpx.post(limited.url + "/v1/chat/completions", headers={"Authorization": "Bearer ann-token"},
                        json={"model": "smollm2", "messages": [{"role": "user", "content": "Hi"}]})
    assert openai.status_code == 429 and int(openai.headers["Retry-After"]) >= 1
    assert openai.json()["error"]["message"].startswith("too many requests waiting")

    other = threading.Thread(target=lambda: replies.append(bob.generate(model="smollm2", prompt="Hi", options={"num_predict": 2})))
    other.start()  # bob's own queue is empty: accepted
    for thread in (long, queued, other):
        thread.join(timeout=300)
    assert len(replies) == 3 and all(r.done for r in replies)
    values = metrics(limited)
    assert values[("ollama_user_requests_refused_total", (("limit", "queue"), ("user", label("ann-token"))))] == 3
    assert values[("ollama_user_requests_total", (("user", label("ann-token")),))] == 3  # the load, the two served
    assert values[("ollama_user_requests_total", (("user", label("bob-token")),))] == 1
    assert values[("ollama_user_generated_tokens_total", (("user", label("ann-token")),))] == 102


def test_past_the_token_limit_a_429_until_the_hour_frees_them(limited):
    carol = client(limited, "carol-token")
    reply = carol.generate(model="smollm2", **COUNTING, options={"num_predict": 40})  # under the limit when it came
    assert reply.eval_count == 40
    with pytest.raises(ollama.ResponseError) as refused:
        carol.generate(model="smollm2", prompt="Hi")
    assert refused.value.status_code == 429
    assert f"{reply.prompt_eval_count + 40} tokens in the last hour (OLLAMA_USER_TOKENS_PER_HOUR=30)" in refused.value.error
    response = httpx.post(limited.url + "/api/generate", headers={"Authorization": "Bearer carol-token"},
                          json={"model": "smollm2", "prompt": "Hi"})
    assert response.status_code == 429 and 1 <= int(response.headers["Retry-After"]) <= 3600
    values = metrics(limited)
    assert values[("ollama_user_requests_refused_total", (("limit", "tokens_per_hour"), ("user", label("carol-token"))))] == 2
    assert values[("ollama_user_prompt_tokens_total", (("user", label("carol-token")),))] == reply.prompt_eval_count
    assert client(limited, "dave-token").generate(model="smollm2", prompt="Hi", options={"num_predict": 2}).done
