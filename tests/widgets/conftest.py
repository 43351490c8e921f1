"""Widgets without a browser: a comm that records what the kernel would send to the front end."""

from __future__ import annotations

from typing import Any

import comm
import pytest
from comm.base_comm import BaseComm

# The browser tests' JupyterLab and Chromium page, as the sidebar's tests set them up.
from ..labextension.conftest import browser_page, jupyter_lab

__all__ = ["browser_page", "jupyter_lab"]


class RecordingComm(BaseComm):
    """Keeps every message instead of publishing it on IOPub (ipywidgets' own tests do the same)."""

    def __init__(self, **kwargs: Any) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        super().__init__(**kwargs)

    def publish_msg(self, msg_type: str, data: Any = None, metadata: Any = None, buffers: Any = None, **keys: Any) -> None:
        self.sent.append((msg_type, data or {}))


@pytest.fixture(autouse=True)
def recording_comm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(comm, "create_comm", lambda **kwargs: RecordingComm(**kwargs))


def sent(widget: Any) -> list[tuple[str, dict[str, Any]]]:
    return list(widget.comm.sent)


def custom(widget: Any) -> list[dict[str, Any]]:
    """The custom messages (`widget.send`) sent so far."""
    return [data["content"] for kind, data in sent(widget) if kind == "comm_msg" and data.get("method") == "custom"]


def updates(widget: Any) -> list[dict[str, Any]]:
    """The state updates sent so far, each a dict of the traits it carried."""
    return [data["state"] for kind, data in sent(widget) if kind == "comm_msg" and data.get("method") == "update"]


def from_browser(widget: Any, content: dict[str, Any]) -> None:
    """A custom message from the front end (`model.send(content)` in JS)."""
    widget._handle_msg({"content": {"data": {"method": "custom", "content": content}}, "buffers": []})


def browser_sets(widget: Any, **state: Any) -> None:
    """A trait change from the front end (`model.set(...); model.save_changes()`)."""
    widget._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []})
