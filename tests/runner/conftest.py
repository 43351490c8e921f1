"""The runner's tests share the real SmolLM2-135M (and Gemma 3 270M), loaded once per test module."""

from __future__ import annotations

import pytest

from jupyter_ollama.runner.llama import LlamaModel


@pytest.fixture(scope="module")
def model(smollm2_gguf) -> LlamaModel:
    loaded = LlamaModel(str(smollm2_gguf))
    yield loaded
    loaded.close()


@pytest.fixture(scope="module")
def gemma(gemma_gguf) -> LlamaModel:
    loaded = LlamaModel(str(gemma_gguf))
    yield loaded
    loaded.close()
