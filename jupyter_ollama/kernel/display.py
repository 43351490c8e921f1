"""What the magics show: a reply streaming into the cell, tables, progress; in a notebook or a terminal."""

from __future__ import annotations

import html
import sys
import time
from typing import Any

from ..format import human_bytes, table


def in_notebook() -> bool:
    """True inside a kernel whose front end renders rich output (not terminal IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class Reply(str):
    """A model's answer: a str (so `x = %ollama run ...` is just text) that renders as Markdown.

    A reply asked for as JSON (`--format json` or a schema) renders as a JSON code block.
    """

    is_json = False

    @classmethod
    def of(cls, text: str, is_json: bool = False) -> Reply:
        reply = cls(text)
        reply.is_json = is_json
        return reply

    def _repr_markdown_(self) -> str:
        return f"```json\n{self}\n```" if self.is_json else str(self)


def _markdown(text: str) -> dict[str, str]:
    # A raw bundle, not IPython's Markdown(text): that reads `text` as a file name where one exists, so a
    # reply that is "." failed and one that is "notes.md" would have shown the file.
    return {"text/markdown": text, "text/plain": text}


class PartialReply(Reply):
    """What arrived before Kernel > Interrupt: still the value (`x = %ollama run ...`), but not shown
    again as the cell's result, because the live view above keeps it in place."""

    def _ipython_display_(self) -> None:
        pass


class LiveText:
    """Text that grows as tokens arrive: a display updated ~10 times a second, or stdout in a terminal."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.notebook = in_notebook()
        self._handle: Any = None
        self._last = 0.0
        if self.notebook:
            from IPython.display import display

            self._handle = display(_markdown(""), raw=True, display_id=True)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def add(self, piece: str) -> None:
        self.parts.append(piece)
        if not self.notebook:
            sys.stdout.write(piece)
            sys.stdout.flush()
        elif time.monotonic() - self._last > 0.1:
            self._refresh()

    def _refresh(self) -> None:
        self._last = time.monotonic()
        self._handle.update(_markdown(self.text), raw=True)

    def close(self, keep: bool = False) -> None:
        """End the live view: keep the final text, or clear it because the reply is shown as the cell's value."""
        if self.notebook:
            self._handle.update(_markdown(self.text if keep else ""), raw=True)
        else:
            sys.stdout.write("\n")
            sys.stdout.flush()


class Table:
    """Rows shown as an HTML table in a notebook and aligned text in a terminal."""

    def __init__(self, header: list[str], rows: list[list[str]], empty: str = "") -> None:
        self.header, self.rows, self.empty = header, rows, empty  # `empty`: said instead of a bare header

    def __repr__(self) -> str:
        return self.empty if self.empty and not self.rows else table(self.header, self.rows)

    def _repr_html_(self) -> str:
        if self.empty and not self.rows:
            return f"<p>{html.escape(self.empty)}</p>"
        head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in self.header)
        body = "".join("<tr>" + "".join(f"<td style='text-align:left'>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class Progress:
    """Pull progress: one line per layer, updated in place."""

    def __init__(self) -> None:
        self.notebook = in_notebook()
        self.lines: dict[str, str] = {}
        self._handle: Any = None
        if self.notebook:
            from IPython.display import HTML, display

            self._handle = display(HTML(""), display_id=True)

    def update(self, event: dict[str, Any]) -> None:
        status = event.get("status", "")
        total, done = event.get("total") or 0, event.get("completed") or 0
        key = event.get("digest") or status
        if total:
            self.lines[key] = f"{status}: {int(100 * done / total)}% ({human_bytes(done)}/{human_bytes(total)})"
        else:
            self.lines[key] = status
        if self.notebook:
            from IPython.display import HTML

            rows = []
            for line in self.lines.values():
                percent = line.split(": ")[1].split("%")[0] if "%" in line else None
                bar = f"<progress value='{percent}' max='100' style='width:200px'></progress> " if percent else ""
                rows.append(f"<div>{bar}{html.escape(line)}</div>")
            self._handle.update(HTML("".join(rows)))
        else:
            sys.stdout.write("\r" + self.lines[key][:100].ljust(100) + ("\n" if not total or done >= total else ""))
            sys.stdout.flush()
