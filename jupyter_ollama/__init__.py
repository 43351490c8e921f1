"""jupyter-ollama: Ollama, rebuilt in Python for Jupyter."""

from __future__ import annotations

import logging
from typing import Any

from ._version import __version__

# A library logs to whatever the application configured; in a kernel that is nothing,
# so a refused request does not also print a server-side warning into the cell.
logging.getLogger("jupyter_ollama").addHandler(logging.NullHandler())

__all__ = ["__version__", "endpoint"]


def endpoint() -> Any:
    """The server this kernel talks to (`.url`, `.token`, `.headers`), found as `%ollama` finds it.

    For other clients in a notebook: `ollama.Client(host=e.url, headers=e.headers)`,
    `openai.OpenAI(base_url=e.url + "/v1", api_key=e.token or "ollama")`.
    """
    from .discovery import find_server

    return find_server()


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .extension import JupyterOllama

    return [{"module": "jupyter_ollama", "app": JupyterOllama}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The sidebar's built files (`make setup` builds them; `jupyter labextension develop` links them)."""
    return [{"src": "labextension", "dest": "jupyter-ollama"}]


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext jupyter_ollama`: the `%ollama` and `%%ollama` magics."""
    from .kernel.magics import OllamaMagics

    ipython.register_magics(OllamaMagics)


def unload_ipython_extension(ipython: Any) -> None:
    from .discovery import stop_embedded

    stop_embedded()
