"""Thinking first, then a grammar: when a slot's `format` grammar starts to apply.

A thinking model asked for structured output thinks unconstrained, and its answer
after the closing tag follows the grammar (Ollama does the same in two requests: it
stops at the end of the thinking and starts again constrained; here the slot's sampler
chain is swapped in place, so nothing is read twice). The gate watches the bytes of
each sampled token:

- before the thinking opens (a prompt that does not end with the opening tag), the
  output must start with that tag, whitespace aside; a token that rules it out is
  sampled again from the grammar, so the answer is constrained from its first token;
- inside the thinking, once the closing tag has appeared (across tokens or not),
  the grammar applies from the next token.

Thinking models write their tags as single special tokens, so a tag never shares a
token with other text. Where one does (plain-text tags in a BPE vocabulary), text that
follows the closing tag in the same token stays unconstrained; whitespace, the usual
case, does no harm, since the reply's content is read with it stripped.
"""

from __future__ import annotations

from enum import Enum


class Verdict(Enum):
    THINK = 0  # go on unconstrained
    CONSTRAIN = 1  # the thinking is over with this token: the grammar applies from the next one
    RESAMPLE = 2  # the output does not think: this token must come from the grammar instead


class ThinkFirst:
    def __init__(self, opening: str, closing: str, opened: bool) -> None:
        """`opened`: the prompt ends with the opening tag, so the output starts inside the thinking."""
        self.opening = b"" if opened else opening.encode()  # still to be seen at the output's start
        self.closing = closing.encode()
        self.head = b""  # the output so far, leading whitespace stripped, while it may still open the thinking
        self.tail = b""  # the newest thinking bytes: a closing tag may span tokens

    def feed(self, data: bytes, end: bool = False) -> Verdict:
        """The verdict on the next sampled token's bytes; `end`: it is end-of-generation."""
        if self.opening:
            head = (self.head + data).lstrip()
            if head.startswith(self.opening):
                rest = head[len(self.opening):]
                self.opening, self.head = b"", b""
                return self._thinking(rest)
            if end or not self.opening.startswith(head):
                return Verdict.RESAMPLE
            self.head = head  # whitespace or part of the tag so far
            return Verdict.THINK
        return Verdict.THINK if end else self._thinking(data)

    def _thinking(self, data: bytes) -> Verdict:
        tail = self.tail + data
        if self.closing in tail:
            return Verdict.CONSTRAIN
        self.tail = tail[len(tail) - len(self.closing) + 1:] if len(tail) >= len(self.closing) else tail
        return Verdict.THINK
