"""The lexer: template text into Go's items, and Go's number and string literals.

Text outside actions, the `{{-`/`-}}` trim markers (which eat the adjoining white
space), `{{/* */}}` comments, and inside actions the tokens Go's lexer emits. Errors
(`syntax_error`) read like Go's parse errors: `template: NAME:LINE: message`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .values import TemplateError, go_quote

_SPACE = " \t\r\n"
_KEYWORDS = {"block", "break", "continue", "define", "else", "end", "if", "range", "template", "with"}


@dataclass
class Item:
    """One token: its kind, its source text and its offset."""

    kind: str  # text {{ }} space ( ) | := = char string raw number charconst bool nil dot field variable ident keyword eof
    val: str
    pos: int

    def __str__(self) -> str:  # as Go's parse errors quote items
        if self.kind == "eof":
            return "EOF"
        if self.kind == "keyword":
            return f"<{self.val}>"
        return go_quote(self.val[:10]) + "..." if len(self.val) > 10 else go_quote(self.val)


def syntax_error(src: str, name: str, pos: int, message: str) -> TemplateError:
    """A parse error as Go words it: `template: NAME:LINE: message`."""
    return TemplateError(f"template: {name}:{src.count(chr(10), 0, pos) + 1}: {message}")


def _alnum(c: str) -> bool:
    return c == "_" or c.isalnum()


def lex(src: str, name: str) -> list[Item]:
    """The whole text as items, ending with an "eof" item."""
    items: list[Item] = []
    pos, n = 0, len(src)
    while True:
        start = src.find("{{", pos)
        end = n if start < 0 else start
        trim = start >= 0 and src[start + 2 : start + 3] == "-" and src[start + 3 : start + 4] in tuple(_SPACE)
        text = src[pos:end].rstrip(_SPACE) if trim else src[pos:end]
        if text:  # Go drops text a trim marker has emptied
            items.append(Item("text", text, pos))
        if start < 0:
            items.append(Item("eof", "", n))
            return items
        pos = _lex_action(src, name, start, trim, items)


def _right_delim(src: str, i: int) -> tuple[bool, bool]:
    """Whether `}}` (or ` -}}`, which trims the following text) starts at i."""
    if src[i : i + 1] in tuple(_SPACE) and src.startswith("-}}", i + 1):
        return True, True
    return src.startswith("}}", i), False


def _lex_action(src: str, name: str, start: int, trim: bool, items: list[Item]) -> int:
    n = len(src)
    i = start + 2 + (2 if trim else 0)
    if src.startswith("/*", i):  # a comment must open right after the delimiter
        close = src.find("*/", i + 2)
        if close < 0:
            raise syntax_error(src, name, start, "unclosed comment")
        delim, rtrim = _right_delim(src, close + 2)
        if not delim:
            raise syntax_error(src, name, close, "comment ends before closing delimiter")
        return _after_delim(src, close + 2 + (2 if rtrim else 0), rtrim)
    items.append(Item("{{", "{{", start))
    depth = 0
    while True:
        delim, rtrim = _right_delim(src, i)
        if delim:
            if depth:
                raise syntax_error(src, name, i, "unclosed left paren")
            i += 2 if rtrim else 0
            items.append(Item("}}", "}}", i))
            return _after_delim(src, i, rtrim)
        if i >= n:
            raise syntax_error(src, name, i, "unclosed action")
        c, j = src[i], i + 1
        if c in _SPACE:
            while j < n and src[j] in _SPACE:
                j += 1
            if src.startswith("-}}", j):  # the last space belongs to the trim marker
                j -= 1
            kind = "space"
        elif c in "=|(),":
            kind = {"=": "=", "|": "|", "(": "(", ")": ")", ",": "char"}[c]
            depth += {"(": 1, ")": -1}.get(c, 0)
            if depth < 0:
                raise syntax_error(src, name, i, "unexpected right paren")
        elif c == ":":
            if not src.startswith(":=", i):
                raise syntax_error(src, name, i, "expected :=")
            kind, j = ":=", i + 2
        elif c in "\"'":
            while j < n and src[j] != c and src[j] != "\n":
                j += 2 if src[j] == "\\" else 1
            if j >= n or src[j] != c:
                what = "quoted string" if c == '"' else "character constant"
                raise syntax_error(src, name, i, f"unterminated {what}")
            kind, j = ("string" if c == '"' else "charconst"), j + 1
        elif c == "`":
            j = src.find("`", j)
            if j < 0:
                raise syntax_error(src, name, i, "unterminated raw quoted string")
            kind, j = "raw", j + 1
        elif c in "$." and not (c == "." and src[j : j + 1].isdigit()):
            while j < n and _alnum(src[j]):
                j += 1
            kind = "variable" if c == "$" else ("field" if j > i + 1 else "dot")
            _check_terminator(src, name, j)
        elif c in "+-." or c.isdigit():
            j = _scan_number(src, i)
            if j < n and _alnum(src[j]):
                raise syntax_error(src, name, i, f"bad number syntax: {go_quote(src[i : j + 1])}")
            kind = "number"
        elif _alnum(c):
            while j < n and _alnum(src[j]):
                j += 1
            word = src[i:j]
            kind = "keyword" if word in _KEYWORDS else "bool" if word in ("true", "false") else "nil" if word == "nil" else "ident"
            _check_terminator(src, name, j)
        elif c.isascii() and c.isprintable():
            kind = "char"
        else:
            raise syntax_error(src, name, i, f"unrecognized character in action: U+{ord(c):04X}")
        if j > i:
            items.append(Item(kind, src[i:j], i))
        i = j


def _after_delim(src: str, i: int, rtrim: bool) -> int:
    i += 2
    while rtrim and i < len(src) and src[i] in _SPACE:
        i += 1
    return i


def _check_terminator(src: str, name: str, j: int) -> None:
    if j < len(src) and not (src[j] in _SPACE or src[j] in ".,|:)(" or src.startswith("}}", j)):
        raise syntax_error(src, name, j, f"bad character U+{ord(src[j]):04X} {go_quote(src[j])}")


_NUMBER = re.compile(
    r"[+-]?(0[xX][0-9a-fA-F_]*(\.[0-9a-fA-F_]*)?([pP][+-]?[0-9_]+)?|0[oO][0-7_]*|0[bB][01_]*"
    r"|[0-9_]*(\.[0-9_]*)?([eE][+-]?[0-9_]+)?)i?"
)


def _scan_number(src: str, i: int) -> int:
    m = _NUMBER.match(src, i)
    return m.end() if m and m.end() > i else i + 1


def parse_number(text: str) -> int | float:
    """A Go number literal's value (decimal, hex, octal, binary, `_` separators, floats)."""
    t = text.replace("_", "")
    body = t.lstrip("+-")
    if body.endswith("i"):
        raise ValueError("complex numbers are not supported")
    hexa = body[:2].lower() == "0x"
    if hexa and ("." in body or "p" in body.lower()):
        return float.fromhex(t)
    if not hexa and any(ch in body for ch in ".eE"):
        return float(t)
    if len(body) > 1 and body[0] == "0" and body[1].isdigit():
        return int(t[: len(t) - len(body)] + "0o" + body[1:], 0)
    return int(t, 0)


_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"'}


def unquote_literal(text: str) -> str:
    """Go's strconv.Unquote for "..." , `...` and '.' literals."""
    quote, body = text[0], text[1:-1]
    if quote == "`":
        return body.replace("\r", "")
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1 : i + 2]
        if e in _ESCAPES and (e not in "'\"" or e == quote):
            out.append(_ESCAPES[e])
            i += 2
        elif e in ("x", "u", "U") or (e and e in "01234567"):
            size, base, skip = {"x": (2, 16, 2), "u": (4, 16, 2), "U": (8, 16, 2)}.get(e, (3, 8, 1))
            digits = body[i + skip : i + skip + size]
            if len(digits) != size:
                raise ValueError("invalid syntax")
            out.append(chr(int(digits, base)))
            i += skip + size
        else:
            raise ValueError("invalid syntax")
    return "".join(out)
