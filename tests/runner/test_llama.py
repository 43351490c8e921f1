"""Which of llama.cpp's log lines show at each OLLAMA_DEBUG level."""

from __future__ import annotations

import pytest

from jupyter_ollama.runner.llama import shown

DEBUG, INFO, WARN, ERROR = 1, 2, 3, 4  # ggml.h's levels


@pytest.mark.parametrize("debug, levels", [
    (0, {ERROR}),  # errors only: they are the reasons for refusing a model
    (1, {INFO, WARN, ERROR}),  # llama.cpp's own log
    (2, {DEBUG, INFO, WARN, ERROR}),  # and its debug lines (every tensor at load)
])
def test_each_level_shows_more(debug, levels):
    assert {level for level in (DEBUG, INFO, WARN, ERROR) if shown(level, debug)} == levels
