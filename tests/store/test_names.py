"""Model names: Ollama's parsing, defaults, display and validation."""

from __future__ import annotations

import pytest

from jupyter_ollama.errors import BadRequest
from jupyter_ollama.store.names import ModelName


@pytest.mark.parametrize(
    "text,full,display",
    [
        ("llama3.2", "registry.ollama.ai/library/llama3.2:latest", "llama3.2:latest"),
        ("llama3.2:1b", "registry.ollama.ai/library/llama3.2:1b", "llama3.2:1b"),
        ("user/model", "registry.ollama.ai/user/model:latest", "user/model:latest"),
        ("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M",
         "hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M"),
        ("localhost:5000/ns/m:v1", "localhost:5000/ns/m:v1", "localhost:5000/ns/m:v1"),
        ("http://localhost:5000/ns/m", "localhost:5000/ns/m:latest", "localhost:5000/ns/m:latest"),
        ("_under_score", "registry.ollama.ai/library/_under_score:latest", "_under_score:latest"),
    ],
)
def test_parse_and_display(text, full, display):
    name = ModelName.parse(text)
    assert str(name) == full
    assert name.display() == display


def test_scheme_is_kept_for_pulls():
    assert ModelName.parse("http://localhost:5000/ns/m").scheme == "http"
    assert ModelName.parse("m").scheme == "https"


@pytest.mark.parametrize(
    "text",
    ["", "../x", "a/../b", "x/../../etc", "x:", ":tag", "/x", "a//b", "ns.dot/model", "bad name", "m:t/a",
     "-leading", "m:" + "t" * 81, "a" * 81, "émoji", "model:tag:extra/x", "a/b/c/d", "x\n"],
)
def test_invalid_names(text):
    with pytest.raises(BadRequest, match="^invalid model name$"):
        ModelName.parse(text)


def test_long_host_is_allowed_up_to_350():
    assert ModelName.parse("h" * 350 + "/ns/m").is_valid()
    assert not ModelName.parse_lenient("h" * 351 + "/ns/m").is_valid()


def test_valid_names_stay_inside_the_store(tmp_path):
    name = ModelName.parse("host.example:8080/ns/model.v2:tag.1")
    path = (tmp_path / name.relpath()).resolve()
    assert tmp_path.resolve() in path.parents
    assert name.relpath().parts == ("host.example:8080", "ns", "model.v2", "tag.1")


def test_case_insensitive_equality():
    assert ModelName.parse("SmolLM2:Latest").same_as(ModelName.parse("smollm2"))
    assert not ModelName.parse("smollm2:a").same_as(ModelName.parse("smollm2:b"))
