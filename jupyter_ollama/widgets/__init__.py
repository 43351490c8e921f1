"""Notebook widgets (anywidget): `ChatWidget`, `PullWidget`, `GpuMonitor`.

    from jupyter_ollama.widgets import ChatWidget
    ChatWidget(model="smollm2")

Imported on first use, so `import jupyter_ollama` stays light in a kernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .chat import ChatWidget
    from .gpu import GpuMonitor
    from .pull import PullWidget

__all__ = ["ChatWidget", "GpuMonitor", "PullWidget"]

_WHERE = {"ChatWidget": ".chat", "PullWidget": ".pull", "GpuMonitor": ".gpu"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        from importlib import import_module

        return getattr(import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
