"""jupyter-ollama: Ollama, rebuilt in Python for Jupyter."""

from __future__ import annotations

import logging
from typing import Any

from ._version import __version__

# A library logs to whatever the application configured; in a kernel that is nothing,
# so a refused request does not also print a server-side warning into the cell.
logging.getLogger("jupyter_ollama").addHandler(logging.NullHandler())

__all__ = ["__version__"]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .extension import JupyterOllama

    return [{"module": "jupyter_ollama", "app": JupyterOllama}]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext jupyter_ollama`: the `%ollama` and `%%ollama` magics."""
    from .kernel.magics import OllamaMagics

    ipython.register_magics(OllamaMagics)


def unload_ipython_extension(ipython: Any) -> None:
    from .kernel.discovery import stop_embedded

    stop_embedded()
