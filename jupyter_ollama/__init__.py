"""jupyter-ollama: Ollama, rebuilt in Python for Jupyter."""

from ._version import __version__

__all__ = ["__version__"]
