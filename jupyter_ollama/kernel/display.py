"""What the magics show: a reply streaming into the cell, tables, progress; in a notebook or a terminal."""

from __future__ import annotations

import html
import sys
import time
from collections.abc import Sequence
from typing import Any

from ..client.progress import TransferProgress
from ..format import human_bytes, table
from ..views import Transcript, tool_call_lines


def in_notebook() -> bool:
    """True inside a kernel whose front end renders rich output (not terminal IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def quoted_thinking(thinking: str) -> str:
    """A model's thinking as a Markdown quote above its answer, as the CLI shows it dimmed before the answer."""
    lines = thinking.strip("\n").split("\n")
    return "> *Thinking...*\n>\n" + "\n".join(f"> {line}" if line.strip() else ">" for line in lines) + "\n\n"


def reply_markdown(text: str, thinking: str = "", calls: Sequence[str] = (), is_json: bool = False) -> str:
    """A reply as Markdown: its thinking quoted, the answer (a JSON code block when asked for JSON), then any tool calls."""
    answer = f"```json\n{text}\n```" if is_json else text
    said = "".join(f"\n\n*{line.strip()}*" for line in calls)
    return (quoted_thinking(thinking) if thinking.strip() else "") + answer + said


class Reply(str):
    """A model's answer: a str (so `x = %ollama run ...` is just text) that renders as Markdown.

    A reply asked for as JSON (`--format json` or a schema) renders as a JSON code block. The model's
    thinking (`.thinking`, empty with `--hidethinking`) shows quoted above the answer, never in the text.
    """

    is_json = False
    thinking = ""
    calls: tuple[str, ...] = ()  # tool calls the model made, said as the CLI says them

    @classmethod
    def of(cls, text: str, is_json: bool = False, thinking: str = "", calls: Sequence[str] = ()) -> Reply:
        reply = cls(text)
        reply.is_json, reply.thinking, reply.calls = is_json, thinking, tuple(calls)
        return reply

    def _repr_markdown_(self) -> str:
        return reply_markdown(str(self), self.thinking, self.calls, self.is_json)


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
    """A reply that grows as it arrives: a display updated ~10 times a second, or stdout in a terminal.

    In a notebook its thinking shows quoted above the answer; in a terminal, as `ollama run` prints it.
    """

    def __init__(self, hide_thinking: bool = False) -> None:
        self.parts: list[str] = []
        self.thoughts: list[str] = []
        self.calls: list[str] = []
        self.hide_thinking = hide_thinking
        self.notebook = in_notebook()
        self._transcript = Transcript(color=not self.notebook and sys.stdout.isatty(), hide_thinking=hide_thinking)
        self._handle: Any = None
        self._last = 0.0
        if self.notebook:
            from IPython.display import display

            self._handle = display(_markdown(""), raw=True, display_id=True)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def thinking(self) -> str:
        """The thinking as shown (none with `hide_thinking`)."""
        return "" if self.hide_thinking else "".join(self.thoughts)

    def add(self, piece: str) -> None:
        self.parts.append(piece)
        self._show(self._transcript.content(piece))

    def add_thinking(self, piece: str) -> None:
        self.thoughts.append(piece)
        self._show(self._transcript.thinking(piece))

    def add_tool_calls(self, calls: list[tuple[str, Any]]) -> None:
        self.calls += tool_call_lines(calls)
        self._show(self._transcript.tool_calls(calls))

    def _show(self, written: str) -> None:
        if not self.notebook:
            sys.stdout.write(written)
            sys.stdout.flush()
        elif time.monotonic() - self._last > 0.1:
            self._refresh()

    def _refresh(self) -> None:
        self._last = time.monotonic()
        self._handle.update(_markdown(reply_markdown(self.text, self.thinking, self.calls)), raw=True)

    def close(self, keep: bool = False) -> None:
        """End the live view: keep the final text, or clear it because the reply is shown as the cell's value."""
        if self.notebook:
            self._handle.update(_markdown(reply_markdown(self.text, self.thinking, self.calls) if keep else ""), raw=True)
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
    """A pull in a terminal (a notebook shows a PullWidget): one line per layer, redrawn in place until it is done."""

    def __init__(self) -> None:
        self.transfer = TransferProgress()

    def update(self, line: dict[str, Any]) -> None:
        step = self.transfer.add(line)
        layer = step.layer
        if layer is not None and layer.total:
            done = min(layer.completed, layer.total)
            text = f"{step.status}: {100 * done // layer.total}% ({human_bytes(done)}/{human_bytes(layer.total)})"
            finished = layer.done
        elif layer is None and not step.changed:
            return  # said already
        else:
            text, finished = step.status, True
        sys.stdout.write("\r" + text[:100].ljust(100) + ("\n" if finished else ""))
        sys.stdout.flush()
