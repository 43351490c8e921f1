"""POST /api/embed and the legacy /api/embeddings."""

from __future__ import annotations

import math

import httpx


def norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=False)) / (norm(a) * norm(b))


def test_embed_normalized_vectors(client, smollm2):
    reply = client.embed(model="smollm2", input=["The cat sat on the mat.", "A kitten rests on a rug.", "Stock markets fell sharply."])
    assert len(reply.embeddings) == 3 and all(len(v) == 576 for v in reply.embeddings)
    assert all(abs(norm(v) - 1) < 1e-4 for v in reply.embeddings)
    cat, kitten, stocks = reply.embeddings
    assert cosine(cat, kitten) > cosine(cat, stocks)


def test_embed_single_string_and_dimensions(client, smollm2):
    reply = client.embed(model="smollm2", input="hello", dimensions=64)
    assert len(reply.embeddings) == 1 and len(reply.embeddings[0]) == 64
    assert abs(norm(reply.embeddings[0]) - 1) < 1e-4
    assert reply.prompt_eval_count > 0


def test_embed_empty_input_loads(server, smollm2):
    reply = httpx.post(server.url + "/api/embed", json={"model": "smollm2"}, timeout=60).json()
    assert reply["embeddings"] == []


def test_embed_invalid_input_type(server, smollm2):
    response = httpx.post(server.url + "/api/embed", json={"model": "smollm2", "input": ["ok", 5]}, timeout=60)
    assert response.status_code == 400 and response.json()["error"] == "invalid input type"


def test_embed_too_long_without_truncate_is_400(server, client, smollm2):
    client.generate(model=smollm2, keep_alive=0)  # loaded afresh at num_ctx 64: a loaded model never shrinks
    body = {"model": "smollm2", "input": "word " * 200, "truncate": False, "options": {"num_ctx": 64}}
    response = httpx.post(server.url + "/api/embed", json=body, timeout=120)
    assert response.status_code == 400 and "context length" in response.json()["error"]
    body["truncate"] = True
    assert len(httpx.post(server.url + "/api/embed", json=body, timeout=120).json()["embeddings"]) == 1


def test_legacy_embeddings_are_unnormalized(client, smollm2):
    vector = client.embeddings(model="smollm2", prompt="hello").embedding
    assert len(vector) == 576 and abs(norm(vector) - 1) > 1e-3
