"""The transfers' tests pull from and push to a loopback Ollama-style registry of their own, one per test."""

from __future__ import annotations

import pytest

from ..registry_server import Registry


@pytest.fixture
def registry(tmp_path):
    reg = Registry(tmp_path / "registry")
    yield reg
    reg.close()
