"""Numbers as Ollama's CLI prints them (format.py)."""

from __future__ import annotations

import pytest

from jupyter_ollama.format import human_number


@pytest.mark.parametrize(
    ("n", "text"),
    [(999, "999"), (1_500, "2K"), (134_515_008, "134.52M"), (7_000_000, "7M"), (8_030_261_248, "8.0B"),
     (3_000_000_000, "3B"), (3_212_749_888, "3.2B")],
)  # fmt: skip
def test_human_number(n: int, text: str) -> None:
    assert human_number(n) == text
