"""A model's raw output split into thinking, content and tool calls, as it streams."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .parser import ToolCallParser
from .thinking import ThinkingParser


@dataclass
class Parsed:
    thinking: str = ""
    content: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.thinking or self.content or self.tool_calls)


class OutputParser:
    """Thinking first (when the request thinks), then tool calls in what is left."""

    def __init__(self, thinking: ThinkingParser | None = None, tools: ToolCallParser | None = None) -> None:
        self.thinking = thinking
        self.tools = tools

    def add(self, text: str) -> Parsed:
        thinking = ""
        if self.thinking is not None:
            thinking, text = self.thinking.add(text)
        return self._tools(thinking, text, final=False)

    def finish(self) -> Parsed:
        thinking, text = self.thinking.finish() if self.thinking is not None else ("", "")
        return self._tools(thinking, text, final=True)

    def _tools(self, thinking: str, text: str, final: bool) -> Parsed:
        if self.tools is None:
            return Parsed(thinking, text)
        calls, content = self.tools.add(text) if text else ([], "")
        if final:
            more, rest = self.tools.finish()
            calls, content = calls + more, content + rest
        return Parsed(thinking, content, calls)
