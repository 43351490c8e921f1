"""The `jupyter-ollama` command: Ollama's CLI (`main`), its interactive `run` and pull/push progress (`transfer`)."""

from .main import main

__all__ = ["main"]
