"""Models the API tests of several modules share."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def seeing(server, client, gemma_gguf, projector_gguf) -> str:
    """Gemma 3 270M with a projector, made as Ollama's create makes one from a GGUF and its projector: both in `files`."""
    files = {"gemma.gguf": client.create_blob(gemma_gguf), "mmproj.gguf": client.create_blob(projector_gguf)}
    client.create(model="gemma-vision", files=files)
    yield "gemma-vision:latest"
    client.generate(model="gemma-vision", keep_alive=0)
