"""A draft model through the API (Ollama's `draft_files`): greedy text exactly as without it, the draft in /api/ps."""

from __future__ import annotations

import httpx

# One thread: two on this test machine's two busy cores decode many times slower (see scheduler/cpus.py).
GREEDY = {"temperature": 0, "num_predict": 30, "num_thread": 1}
PROMPT = "Write a short story about a cat."


def create(server, body: dict) -> httpx.Response:  # type: ignore[no-untyped-def]
    return httpx.post(server.url + "/api/create", json={**body, "stream": False}, timeout=60)


def test_a_draft_model_answers_greedy_requests_exactly_as_the_model_alone(server, client, smollm2, smollm2_gguf):
    digest = client.create_blob(smollm2_gguf)  # already there: SmolLM2 drafts for itself
    created = create(server, {"model": "smol-draft", "from": smollm2, "draft_files": {"draft.gguf": digest}})
    assert created.status_code == 200 and created.json()["status"] == "success", created.text
    shown = client.show("smol-draft")
    assert "\nDRAFT " in shown.modelfile and shown.capabilities == client.show(smollm2).capabilities

    # Both loaded at the defaults: a loaded model keeps the largest context an earlier test asked for, and greedy
    # text at another context size may part at a near tie (the attention sums over a longer cache).
    client.generate(model=smollm2, keep_alive=0)
    plain = client.generate(model=smollm2, prompt=PROMPT, options=GREEDY)
    drafted = client.generate(model="smol-draft", prompt=PROMPT, options=GREEDY)
    assert drafted.response == plain.response and drafted.eval_count == plain.eval_count

    [entry] = [m for m in httpx.get(server.url + "/api/ps").json()["models"] if m["name"] == "smol-draft:latest"]
    draft = entry["draft"]
    assert draft["digest"] == digest and draft["size"] > 90_000_000 and "error" not in draft
    assert 0 < draft["tokens_accepted"] <= draft["tokens_drafted"]
    for name in ("smol-draft", smollm2):  # unloaded: the next tests load the models they need as they need them
        client.generate(model=name, keep_alive=0)


def test_a_draft_with_a_remote_model_is_a_400(server, smollm2):
    refused = create(server, {"model": "far-draft", "from": "smollm2", "remote_host": "http://127.0.0.1:9",
                              "draft_files": {"draft.gguf": "sha256:" + "0" * 64}})
    assert (refused.status_code, refused.json()) == (400, {"error": "DRAFT cannot be used with remote models"})
