"""Ollama's Modelfile: parsing, the CLI's create request, and `ollama show --modelfile`.

`parse_modelfile` is a port of the rune-by-rune state machine in Ollama's
parser/parser.go, so odd inputs behave as they do there: values run to the end of
the line, a quoted value may span lines until its closing quote, characters Go does
not consider printable are dropped, and errors carry Ollama's text.
"""

from __future__ import annotations

import os
import pwd
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BadRequest
from .options import OptionValue, go_value, parameters_from_modelfile

COMMANDS = ("from", "license", "template", "system", "adapter", "draft", "renderer",
            "parser", "parameter", "message", "requires")
ROLES = ("system", "user", "assistant")
ERR_INVALID_COMMAND = "command must be one of " + ", ".join(
    f'"{c}"' for c in COMMANDS[:-1]) + f', or "{COMMANDS[-1]}"'
ERR_INVALID_ROLE = 'message role must be one of "system", "user", or "assistant"'
ERR_MISSING_FROM = "no FROM line"
ERR_EOF = "unexpected EOF"


class ModelfileError(BadRequest):
    """A Modelfile Ollama would refuse; `line` is set for errors Ollama numbers."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"(line {line}): {message}" if line else message)
        self.line = line


@dataclass(frozen=True)
class Command:
    """One instruction as Ollama keeps it: FROM is `model`, PARAMETER is its name,
    MESSAGE args are `role: content`."""

    name: str
    args: str

    def __str__(self) -> str:
        if self.name == "model":
            return f"FROM {self.args}"
        if self.name in ("license", "template", "system", "adapter", "renderer", "parser",
                         "requires", "draft"):
            return f"{self.name.upper()} {quote(self.args)}"
        if self.name == "message":
            role, _, content = self.args.partition(": ")
            return f"MESSAGE {role} {quote(content)}"
        return f"PARAMETER {self.name} {quote(self.args)}"


def quote(text: str) -> str:
    """Quote a value for a Modelfile the way Ollama does (only when it must)."""
    if "\n" in text or text.startswith(" ") or text.endswith(" "):
        return f'"""{text}"""' if '"' in text else f'"{text}"'
    return text


def _unquote(text: str) -> tuple[str, bool]:
    """Strip `"""..."""` or `"..."`; False while the closing quote is still missing."""
    if text.startswith('"""'):
        if len(text) >= 6 and text.endswith('"""'):
            return text[3:-3], True
        return "", False
    if text.startswith('"'):
        if len(text) >= 2 and text.endswith('"'):
            return text[1:-1], True
        return "", False
    return text, True


def _decode(data: str | bytes) -> str:
    """UTF-8, or UTF-16 when a BOM says so; a leading BOM is dropped."""
    if isinstance(data, bytes):
        if data.startswith(b"\xff\xfe"):
            return data[2:].decode("utf-16-le", errors="replace")
        if data.startswith(b"\xfe\xff"):
            return data[2:].decode("utf-16-be", errors="replace")
        data = data.decode("utf-8", errors="replace")
    return data[1:] if data.startswith("\ufeff") else data


# Parser states, as in parser.go.
_NIL, _NAME, _VALUE, _PARAMETER, _MESSAGE, _COMMENT = range(6)


class _Eof(Exception):
    pass


def _step(ch: str, state: int) -> tuple[int, str]:
    """Next state for one character, and the character to keep ("" for none)."""
    space, newline = ch in " \t", ch in "\r\n"
    alpha = ch.isascii() and ch.isalpha()
    if state == _NIL:
        if ch == "#":
            return _COMMENT, ""
        return (_NIL, "") if space or newline else (_NAME, ch)
    if state == _NAME:
        if alpha:
            return _NAME, ch
        if space:
            return _VALUE, ""
        raise ModelfileError(ERR_INVALID_COMMAND)  # line number added by the caller
    if state == _VALUE:
        return (_NIL, ch) if space or newline else (_VALUE, ch)
    if state in (_PARAMETER, _MESSAGE):
        if alpha or (state == _PARAMETER and (ch.isascii() and ch.isdigit() or ch == "_")):
            return state, ch
        if space:
            return _VALUE, ""
        raise _Eof
    return (_NIL, "") if newline else (_COMMENT, "")  # _COMMENT


def parse_commands(text: str | bytes) -> list[Command]:
    """The instructions of a Modelfile, in order, untyped (Ollama's ParseFile)."""
    commands: list[Command] = []
    state, line, buf = _NIL, 1, []
    name = role = ""
    for ch in _decode(text):
        if ch in "\r\n":
            line += 1  # Go counts \r and \n alike, so CRLF counts twice
        try:
            nxt, keep = _step(ch, state)
        except _Eof:
            raise ModelfileError(f"{ERR_EOF}: {''.join(buf)}") from None
        except ModelfileError as e:
            raise ModelfileError(e.message, line) from None
        if nxt != state:
            word = "".join(buf)
            if state == _NAME:
                lower = word.lower()
                if lower not in COMMANDS:
                    raise ModelfileError(ERR_INVALID_COMMAND, line)
                if lower == "parameter":
                    nxt = _PARAMETER
                else:
                    name = "model" if lower == "from" else lower
                    if lower == "message":
                        nxt = _MESSAGE
            elif state == _PARAMETER:
                name = word
            elif state == _MESSAGE:
                if word not in ROLES:
                    raise ModelfileError(ERR_INVALID_ROLE, line)
                role = word
            elif state == _VALUE:
                value, closed = _unquote(word.strip())
                if not closed or ch in " \t":
                    buf.append(ch)  # still inside the value (spaces, quoted newlines)
                    continue
                commands.append(Command(name, f"{role}: {value}" if role else value))
                role = ""
            buf.clear()
            state = nxt
        if keep and keep.isprintable():  # Go keeps only strconv.IsPrint runes
            buf.append(keep)

    if state == _VALUE:
        value, closed = _unquote("".join(buf).strip())
        if not closed:
            raise ModelfileError(ERR_EOF)
        commands.append(Command(name, f"{role}: {value}" if role else value))
    elif state not in (_NIL, _COMMENT):
        raise ModelfileError(ERR_EOF)
    if not any(c.name == "model" for c in commands):
        raise ModelfileError(ERR_MISSING_FROM)
    return commands
