"""Capabilities derived from the GGUF and the template, as /api/show reports them and requests use them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx
import ollama
import pytest

from jupyter_ollama.store.gguf import GGUFInfo, read_gguf
from jupyter_ollama.templates.capabilities import gguf_capabilities, go_capabilities, jinja_capabilities, model_capabilities
from tests.api.templates import THINKING, TOOLS, create_variant

QWEN3_JINJA = (
    "{%- if tools %}{{- '<|im_start|>system\\n# Tools\\n<tools>' }}{%- for tool in tools %}{{ tool | tojson }}{%- endfor %}"
    "{%- endif %}{%- for message in messages %}{%- if message.role == 'assistant' %}"
    "{{- '<think>\\n' + reasoning_content + '\\n</think>\\n\\n' }}{%- endif %}{%- endfor %}"
)


def info(arch: str = "llama", **kv: object) -> GGUFInfo:
    return GGUFInfo(version=3, kv={"general.architecture": arch, **{f"{arch}.{k}": v for k, v in kv.items()}},
                    tensors=[], data_offset=0, file_size=0)


@dataclass
class FakeModel:
    template: str | None = None
    projector_paths: list[Path] = field(default_factory=list)


@pytest.mark.parametrize(("template", "expected"), [
    (None, []),
    ("{% for m in messages %}{{ m.content }}{% endfor %}", []),
    (QWEN3_JINJA, ["tools", "thinking"]),
    ("{{ tool_call.name }}", ["tools"]),
    ("{%- set content = message.content.split('</think>')[-1] %}", ["thinking"]),
    ("{%- set c = message.content.split('</think>')[-1] %}{{ reasoning_content }}", []),
])
def test_jinja_capabilities(template: str | None, expected: list[str]) -> None:
    assert jinja_capabilities(template) == expected


@pytest.mark.parametrize(("template", "expected"), [
    ("{{ .Prompt }}", []),
    (TOOLS, ["tools"]),
    (THINKING, ["thinking"]),
    ("{{ .Prompt }}{{ .Suffix }}", ["insert"]),
    ("{{ .Broken ", []),
])
def test_go_template_capabilities(template: str, expected: list[str]) -> None:
    assert go_capabilities(template) == expected


def test_gguf_capabilities() -> None:
    assert gguf_capabilities(info()) == ["completion"]
    assert gguf_capabilities(info("bert", pooling_type=1)) == ["embedding"]
    assert gguf_capabilities(info("gemma3", **{"vision.block_count": 27})) == ["completion", "vision"]
    assert gguf_capabilities(None) == []


def test_the_go_template_wins_over_the_jinja_one() -> None:
    jinja = info()
    jinja.kv["tokenizer.chat_template"] = QWEN3_JINJA
    assert model_capabilities(FakeModel(), jinja) == ["completion", "tools", "thinking"]
    assert model_capabilities(FakeModel(template="{{ .Prompt }}"), jinja) == ["completion"]
    assert model_capabilities(FakeModel(template=TOOLS), info()) == ["completion", "tools"]
    assert model_capabilities(FakeModel(projector_paths=[Path("p")]), info()) == ["completion", "vision"]


def test_smollm2_gguf(smollm2_gguf: Path) -> None:
    # SmolLM2's Jinja template knows no tools and no thinking.
    assert model_capabilities(FakeModel(), read_gguf(smollm2_gguf, max_array_len=8)) == ["completion"]


# ---------------------------------------------------------------- through the server

@pytest.fixture(scope="module")
def variants(client, smollm2) -> dict[str, str]:
    return {
        "tools": create_variant(client, smollm2, "smollm2-tools", TOOLS),
        "thinking": create_variant(client, smollm2, "smollm2-think", THINKING),
    }


def test_show_reports_capabilities(client, smollm2, variants) -> None:
    assert client.show(smollm2).capabilities == ["completion"]
    assert client.show(variants["tools"]).capabilities == ["completion", "tools"]
    assert client.show(variants["thinking"]).capabilities == ["completion", "thinking"]


def test_capabilities_refuse_what_a_model_cannot_do(server, client, smollm2, variants) -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model=smollm2, messages=[{"role": "user", "content": "hi"}], tools=[tool])
    assert err.value.status_code == 400
    assert err.value.error == "registry.ollama.ai/library/smollm2:latest does not support tools"
    with pytest.raises(ollama.ResponseError) as err:
        client.chat(model=variants["tools"], messages=[{"role": "user", "content": "hi"}], think=True)
    assert err.value.status_code == 400 and err.value.error == '"smollm2-tools:latest" does not support thinking'
    reply = httpx.post(server.url + "/api/generate", json={"model": smollm2, "prompt": "x", "suffix": "y"})
    assert reply.status_code == 400 and "does not support insert" in reply.json()["error"]
