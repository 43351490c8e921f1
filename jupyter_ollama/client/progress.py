"""Ollama's pull, push and create status lines, folded into per-layer progress (api.ProgressResponse).

A line is a status (`{"status": "pulling manifest"}`) or a layer's progress (`{"status":
"pulling 3f8eb4da87fa", "digest": "sha256:…", "total": N, "completed": M}`; a quantizing create
reports the same way). `TransferProgress.add` folds each line in and says what it changed, so
the CLI's bars and spinners, `%ollama pull` in a terminal and the PullWidget all read one state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

SUCCESS = "success"


@dataclass
class Layer:
    """One layer of a transfer: its digest, the status line that names it, and its bytes."""

    digest: str
    status: str = ""
    total: int = 0
    completed: int = 0

    @property
    def done(self) -> bool:
        return self.total > 0 and self.completed >= self.total

    def to_dict(self) -> dict[str, Any]:
        return {"digest": self.digest, "status": self.status, "completed": self.completed, "total": self.total}


@dataclass(frozen=True)
class Step:
    """What one line changed: `layer` (that layer as the line left it) when it was a layer's, `new`
    the first time that layer shows; else the status. `changed`: its status differs from the line before."""

    status: str
    changed: bool
    layer: Layer | None = None
    new: bool = False


@dataclass
class TransferProgress:
    """The state of a pull, push or create so far: the latest status and each layer's progress, in order seen."""

    status: str = ""
    layers: dict[str, Layer] = field(default_factory=dict)

    def add(self, line: Mapping[str, Any]) -> Step:
        status = str(line.get("status") or "")
        changed = status != self.status
        self.status = status
        digest = line.get("digest")
        if not digest:
            return Step(status, changed)
        layer = self.layers.get(digest)
        new = layer is None
        if layer is None:
            layer = self.layers[digest] = Layer(str(digest))
        layer.status = status
        layer.total = _count(line.get("total"), layer.total)
        layer.completed = _count(line.get("completed"), layer.completed)
        return Step(status, changed, replace(layer), new)

    @property
    def completed(self) -> int:
        return sum(layer.completed for layer in self.layers.values())

    @property
    def total(self) -> int:
        return sum(layer.total for layer in self.layers.values())

    @property
    def succeeded(self) -> bool:
        """The server said `success`: the model is complete."""
        return self.status == SUCCESS


def _count(value: Any, before: int) -> int:
    """A byte count from a line; a line that leaves it out keeps the last one."""
    if value is None:
        return before
    try:
        return int(value)
    except (TypeError, ValueError):
        return before
