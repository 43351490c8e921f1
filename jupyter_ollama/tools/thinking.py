"""Thinking in a model's output: the text between the opening and closing tags.

A port of Ollama's `thinking.Parser`: the output may start with the opening tag
(whitespace before it and right after either tag is eaten); everything up to
the closing tag is thinking, the rest is content. Output that does not open with
the tag has no thinking. When the prompt itself ends with the opening tag (a
template that prefills `<think>`), the parser starts inside the thinking part.
Text that could still be the start of a tag is held back until it is decided.
"""

from __future__ import annotations

from enum import Enum


class _State(Enum):
    LOOKING_FOR_OPENING = 0
    STARTED_EATING_WHITESPACE = 1
    THINKING = 2
    DONE_EATING_WHITESPACE = 3
    DONE = 4


def _overlap(text: str, tag: str) -> int:
    """The length of the longest suffix of `text` that is a prefix of `tag`."""
    for n in range(min(len(text), len(tag)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0


class ThinkingParser:
    """Feed output pieces with `add`; each call returns (thinking, content) ready to send."""

    def __init__(self, opening: str = "<think>", closing: str = "</think>", prefilled: bool = False) -> None:
        self.opening = opening
        self.closing = closing
        self.state = _State.LOOKING_FOR_OPENING
        self.acc = ""
        if prefilled:
            self.add(opening)

    def add(self, text: str) -> tuple[str, str]:
        self.acc += text
        thinking: list[str] = []
        content: list[str] = []
        more = True
        while more:
            think, rest, more = self._eat()
            thinking.append(think)
            content.append(rest)
        return "".join(thinking), "".join(content)

    def finish(self) -> tuple[str, str]:
        """What is still held back when the output ends."""
        held, self.acc = self.acc, ""
        if self.state in (_State.THINKING, _State.STARTED_EATING_WHITESPACE):
            return held, ""
        return "", held.lstrip() if self.state == _State.LOOKING_FOR_OPENING else held

    def _eat(self) -> tuple[str, str, bool]:
        """One step of the state machine: (thinking, content, keep going)."""
        state, acc = self.state, self.acc
        if state == _State.LOOKING_FOR_OPENING:
            trimmed = acc.lstrip()
            if trimmed.startswith(self.opening):
                after = trimmed[len(self.opening):].lstrip()
                self.acc = after
                self.state = _State.THINKING if after else _State.STARTED_EATING_WHITESPACE
                return "", "", True
            if self.opening.startswith(trimmed):  # a partial tag, or only whitespace so far
                return "", "", False
            self.state, self.acc = _State.DONE, ""
            return "", acc, False  # no thinking: the content keeps its whitespace
        if state == _State.STARTED_EATING_WHITESPACE:
            trimmed, self.acc = acc.lstrip(), ""
            if not trimmed:
                return "", "", False
            self.state, self.acc = _State.THINKING, trimmed
            return "", "", True
        if state == _State.THINKING:
            if self.closing in acc:
                thinking, _, remaining = acc.partition(self.closing)
                remaining = remaining.lstrip()
                self.acc = ""
                self.state = _State.DONE if remaining else _State.DONE_EATING_WHITESPACE
                return thinking, remaining, False
            held = _overlap(acc, self.closing)
            self.acc = acc[len(acc) - held:] if held else ""
            return acc[: len(acc) - held], "", False
        if state == _State.DONE_EATING_WHITESPACE:
            trimmed, self.acc = acc.lstrip(), ""
            if trimmed:
                self.state = _State.DONE
            return "", trimmed, False
        self.acc = ""
        return "", acc, False
