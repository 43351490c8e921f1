"""Chat prompts: the GGUF's Jinja template, Ollama's default template without one, truncation, BOS handling."""

from __future__ import annotations

import pytest

from jupyter_ollama.runner.llama import LlamaModel
from jupyter_ollama.runner.prompt import prompt_tokens, render, tokenize
from jupyter_ollama.runners.protocol import Prompt


def tokens_of(model, spec: dict, n_ctx: int, truncate: bool = True) -> list[int]:  # type: ignore[no-untyped-def]
    """The tokens the runner would give the engine for a prompt spec."""
    return prompt_tokens(model, Prompt.of(spec), n_ctx, truncate)[1]


@pytest.fixture(scope="module")
def smol(smollm2_gguf) -> LlamaModel:
    model = LlamaModel(str(smollm2_gguf))
    yield model
    model.close()



def test_smollm2_jinja_chatml(smol):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert render(smol, {"messages": messages}) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    )


def test_smollm2_template_adds_its_default_system_prompt(smol):
    text = render(smol, {"messages": [{"role": "user", "content": "Hi"}]})
    assert text == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_gemma_without_template_reads_the_prompt_alone(gemma):
    """No TEMPLATE and no chat template in the GGUF (a base model): Ollama's default `{{ .Prompt }}`.

    Wrapped in Gemma's turn format, which this pretrained model never learned, it echoed the
    prompt and made up the next turn: "Hello Ada! ... mendatanguser\n大家好!".
    """
    assert gemma.chat_template() is None and gemma.meta("general.finetune") is None
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "How are you?"},
    ]
    assert render(gemma, {"messages": messages}) == "How are you?"


def test_special_tokens_are_parsed(smol):
    tokens = tokens_of(smol, {"messages": [{"role": "user", "content": "Hi"}]}, 512)
    im_start = smol.tokenize("<|im_start|>", special=True, add_bos=False)
    assert len(im_start) == 1 and tokens[0] == im_start[0]
    assert tokens.count(im_start[0]) == 3  # system, user, assistant


def test_no_double_bos(gemma, smol):
    assert gemma.adds_bos
    plain = tokenize(gemma, "Hello")
    assert plain[0] == gemma.bos and plain.count(gemma.bos) == 1
    written = tokens_of(gemma, {"raw": "<bos>Hello"}, 512)  # a template that writes BOS itself
    assert written == plain
    chat = tokens_of(gemma, {"messages": [{"role": "user", "content": "Hi"}]}, 512)
    assert chat[0] == gemma.bos and chat[1] != gemma.bos
    # SmolLM2 does not add BOS: the ChatML text starts the prompt as it is.
    assert not smol.adds_bos
    assert tokenize(smol, "Hello") == smol.tokenize("Hello", special=True, add_bos=False)


def _message(role: str, marker: str) -> dict[str, str]:
    return {"role": role, "content": f"{marker} " + "lorem ipsum dolor sit amet " * 8}


def test_truncation_drops_oldest_non_system_messages(smol):
    system = {"role": "system", "content": "You are terse."}
    u1, a1, u2, a2 = _message("user", "U1"), _message("assistant", "A1"), _message("user", "U2"), _message("assistant", "A2")
    last = {"role": "user", "content": "U3 final question?"}
    full = [system, u1, a1, u2, a2, last]
    everything = tokens_of(smol, {"messages": full}, 100_000)
    expected = tokens_of(smol, {"messages": [system, u2, a2, last]}, 100_000)
    without_u1 = tokens_of(smol, {"messages": [system, a1, u2, a2, last]}, 100_000)
    assert len(expected) < len(without_u1) < len(everything)

    # Exactly room for the system prompt and the newest three: U1 goes, then A1.
    assert tokens_of(smol, {"messages": full}, len(expected)) == expected
    text = smol.detokenize(tokens_of(smol, {"messages": full}, len(expected)))
    assert "You are terse." in text and "U3 final question?" in text
    assert "U1" not in text and "A1" not in text and "U2" in text

    # Room for all but the oldest: only U1 goes.
    assert tokens_of(smol, {"messages": full}, len(without_u1)) == without_u1
    # Enough room: nothing goes.
    assert tokens_of(smol, {"messages": full}, len(everything)) == everything


def test_truncation_keeps_system_and_last_even_when_too_long(smol):
    system = {"role": "system", "content": "You are terse."}
    last = _message("user", "LAST")
    minimal = tokens_of(smol, {"messages": [system, last]}, 100_000)
    tokens = tokens_of(smol, {"messages": [system, _message("user", "OLD"), last]}, 10)
    assert tokens == minimal  # left for the engine to cut (num_keep + newest tokens)


def test_truncate_false_keeps_everything(smol):
    full = [_message("user", "U1"), _message("assistant", "A1"), _message("user", "U2")]
    everything = tokens_of(smol, {"messages": full}, 100_000)
    assert tokens_of(smol, {"messages": full}, 10, truncate=False) == everything


def test_raw_prompt_is_not_templated(smol):
    assert tokens_of(smol, {"raw": "Once upon a time"}, 512) == smol.tokenize("Once upon a time", add_bos=False)


# What gpt-oss's and Qwen 3's chat templates read of a request's `think`.
THINK_READER = ("{{ messages[-1].content }}|{{ enable_thinking is defined and enable_thinking }}|"
                "{{ reasoning_effort | default('unset') }}")


@pytest.mark.parametrize(("think", "seen"), [
    (None, "False|unset"), (True, "True|unset"), (False, "False|unset"),
    ("high", "True|high"), ("medium", "True|medium"), ("low", "True|low"),
])
def test_think_reaches_a_jinja_template_as_enable_thinking_and_reasoning_effort(smol, monkeypatch, think, seen):
    monkeypatch.setattr(smol, "chat_template", lambda: THINK_READER)
    assert render(smol, {"messages": [{"role": "user", "content": "Hi"}], "think": think}) == f"Hi|{seen}"
