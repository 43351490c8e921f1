"""A prompt longer than the context: refused on every route in its own words, cut only when asked (`shift: true`)."""

from __future__ import annotations

import re

import httpx

LONG = "word " * 5000  # about 5,000 tokens, for a slot of 4,096 (the default context)
OLLAMA = "the prompt is longer than the context length currently available to the model"


def post(server, path: str, body: dict) -> httpx.Response:
    return httpx.post(server.url + path, json=body, timeout=120)


def test_a_prompt_too_long_is_refused_on_every_route(server, client, smollm2):
    client.generate(model=smollm2, keep_alive=0)  # loaded afresh at the default context: a loaded model never shrinks
    native = post(server, "/api/generate", {"model": "smollm2", "prompt": LONG, "stream": False})
    assert native.status_code == 400 and native.json()["error"].startswith(OLLAMA)
    tokens, limit = (int(x) for x in re.search(r"\((\d+) tokens > (\d+)\)", native.json()["error"]).groups())
    assert limit == 4096 and tokens > 4096
    chat = post(server, "/api/chat", {"model": "smollm2", "messages": [{"role": "user", "content": LONG}]})
    assert chat.status_code == 400 and chat.json()["error"].startswith(OLLAMA)  # before streaming: a real status
    openai = post(server, "/v1/chat/completions", {"model": "smollm2", "messages": [{"role": "user", "content": LONG}]})
    error = openai.json()["error"]
    assert openai.status_code == 400 and error["code"] == "context_length_exceeded" and error["param"] == "messages"
    assert re.search(r"maximum context length is 4096 tokens\. However, your messages resulted in \d+ tokens", error["message"])
    anthropic = post(server, "/v1/messages", {"model": "smollm2", "max_tokens": 8, "stream": True,
                                              "messages": [{"role": "user", "content": LONG}]})
    assert anthropic.status_code == 400 and anthropic.json()["type"] == "error"
    assert re.fullmatch(r"prompt is too long: \d+ tokens > 4096 maximum", anthropic.json()["error"]["message"])


def test_shift_true_cuts_as_ollama_and_says_so(server, smollm2):
    def cut() -> float:
        metrics = httpx.get(server.url + "/metrics", timeout=30).text
        found = re.search(r'^ollama_prompts_cut_total\{model="smollm2:latest"\} (\S+)$', metrics, re.M)
        return float(found.group(1)) if found else 0.0

    before = cut()
    reply = post(server, "/api/generate", {"model": "smollm2", "prompt": LONG, "stream": False, "shift": True,
                                           "options": {"temperature": 0, "num_predict": 2}}).json()
    # The tokens read: num_keep (4) and the newest, leaving half of the rest of the slot to generate into.
    assert reply["done"] and reply["prompt_eval_count"] == 4096 - (4096 - 4) // 2
    assert cut() == before + 1
