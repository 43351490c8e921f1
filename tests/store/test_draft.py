"""A model's draft model at create: stored as Ollama's draft layer, shown as DRAFT, refused when it cannot guess."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from jupyter_ollama.digests import sha256_file
from jupyter_ollama.errors import BadRequest
from jupyter_ollama.store.create import ModelCreator
from jupyter_ollama.store.draft import REMOTE_DRAFT, vocabulary_difference
from jupyter_ollama.store.gguf import GGUFInfo
from jupyter_ollama.store.manifests import MEDIA_DRAFT
from jupyter_ollama.store.store import ModelStore


def put(store: ModelStore, path: Path) -> str:
    """A GGUF file as a blob of the store (linked where it can be), by its digest."""
    digest = sha256_file(path)
    try:
        os.link(path, store.blobs.path(digest))
    except OSError:
        shutil.copyfile(path, store.blobs.path(digest))
    return digest


def create(store: ModelStore, request: dict[str, Any]) -> None:
    ModelCreator(store, progress=lambda event: None).create(request)


@pytest.fixture
def store(tmp_path, smollm2_gguf) -> ModelStore:
    models = ModelStore(tmp_path / "models")
    create(models, {"model": "smol", "files": {"m.gguf": put(models, smollm2_gguf)}})
    return models


def test_a_draft_is_a_draft_layer_shown_as_draft_and_kept_by_a_model_made_from_it(store):
    digest = store.get("smol").model_layer.digest
    create(store, {"model": "drafted", "from": "smol", "draft_files": {"d.gguf": digest}})
    drafted = store.get("drafted")
    assert [(x.media_type, x.digest) for x in drafted.stored.manifest.layers_of(MEDIA_DRAFT)] == [(MEDIA_DRAFT, digest)]
    shown, plain = store.show("drafted"), store.show("smol")
    assert f"\nDRAFT {store.blobs.path(digest)}\n" in shown["modelfile"]
    assert "DRAFT" not in plain["modelfile"]
    assert shown["details"] == {**plain["details"], "parent_model": "smol:latest"}
    assert shown["capabilities"] == plain["capabilities"]
    # A model made FROM it keeps its draft, as in Ollama; a new DRAFT replaces it, never adds a second.
    create(store, {"model": "child", "from": "drafted", "system": "Be brief."})
    assert store.get("child").draft_path == drafted.draft_path
    create(store, {"model": "child", "from": "drafted", "draft_files": {"other.gguf": digest}})
    assert len(store.get("child").stored.manifest.layers_of(MEDIA_DRAFT)) == 1


def test_a_draft_with_another_vocabulary_is_refused(store, gemma_gguf):
    with pytest.raises(BadRequest) as refused:
        create(store, {"model": "mixed", "from": "smol", "draft_files": {"gemma.gguf": put(store, gemma_gguf)}})
    assert refused.value.status == 400
    assert refused.value.message == ("the draft model's vocabulary differs from the model's: its tokenizer is 'llama', "
                                     "the model's is 'gpt2'; a draft model must use the same tokenizer")
    assert store.find("mixed") is None


def test_a_draft_with_a_remote_model_is_refused(store):
    digest = store.get("smol").model_layer.digest
    remote = {"model": "far", "from": "smol", "remote_host": "http://127.0.0.1:9"}
    with pytest.raises(BadRequest, match=f"^{REMOTE_DRAFT}$"):
        create(store, {**remote, "draft_files": {"d.gguf": digest}})
    ModelCreator(store, progress=lambda event: None).create(remote, declared=True)  # an admin's: no allowlist
    with pytest.raises(BadRequest, match=f"^{REMOTE_DRAFT}$"):  # FROM a remote model: remote too
        create(store, {"model": "near", "from": "far", "draft_files": {"d.gguf": digest}})


def vocab(tokens: list[str], kind: str = "gpt2", bos: int = 1) -> GGUFInfo:
    kv = {"tokenizer.ggml.model": kind, "tokenizer.ggml.tokens": tokens, "tokenizer.ggml.bos_token_id": bos}
    return GGUFInfo(3, kv, [], 0, 0)


def test_vocabularies_match_as_llama_cpp_checks_them():
    words = [f"w{i}" for i in range(300)]
    assert vocabulary_difference(vocab(words), vocab(words)) is None
    assert vocabulary_difference(vocab(words), vocab(words + ["<pad>"] * 100)) is None  # padding, as llama.cpp allows
    assert vocabulary_difference(vocab(words[:100]), vocab(words)) == "it has 300 tokens, the model 100"
    assert vocabulary_difference(vocab(words), vocab(words[:7] + ["x"] + words[8:])) == "token 7 is 'x' in it, 'w7' in the model"
    assert vocabulary_difference(vocab(words), vocab(words, bos=2)) == "its BOS token is 2, the model's is 1"
    assert vocabulary_difference(vocab(words), vocab(words, kind="llama")) == "its tokenizer is 'llama', the model's is 'gpt2'"
