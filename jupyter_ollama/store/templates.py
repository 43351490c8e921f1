"""Structural check of a Go `text/template`, so that `create` refuses a broken TEMPLATE.

Ollama answers `template error: <parser message>` (400) for a template Go cannot
parse. This checks what breaks a parse in practice: unclosed actions, unclosed
comments, and `if`/`range`/`with`/`define`/`block` ... `end` nesting (with `else`
only inside a block that takes one). Rendering lives with the runner.
"""

from __future__ import annotations

import re

from ..errors import BadRequest

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
_OPENERS = ("if", "range", "with", "define", "block")


def _fail(text: str, offset: int, message: str) -> BadRequest:
    line = text.count("\n", 0, offset) + 1
    return BadRequest(f"template error: template: :{line}: {message}")


def check_template(text: str) -> None:
    stack: list[tuple[str, int]] = []
    position = 0
    while (start := text.find("{{", position)) != -1:
        match = _ACTION.match(text, start)
        if match is None:
            raise _fail(text, start, "unclosed action")
        body = match.group(2).strip()
        position = match.end()
        if body.startswith("/*"):
            if not body.endswith("*/"):
                raise _fail(text, start, "unclosed comment")
            continue
        if not body:
            raise _fail(text, start, "missing value for command")
        if body.count('"') % 2 or body.count("`") % 2:
            raise _fail(text, start, "unterminated quoted string")
        if body.count("(") != body.count(")"):
            raise _fail(text, start, "unclosed left paren" if body.count("(") > body.count(")") else "unexpected right paren")
        keyword = body.split(None, 1)[0]
        if keyword in _OPENERS:
            stack.append((keyword, start))
        elif keyword == "else":
            if not stack or stack[-1][0] not in ("if", "range", "with"):
                raise _fail(text, start, "unexpected {{else}}")
        elif keyword == "end":
            if not stack:
                raise _fail(text, start, "unexpected {{end}}")
            stack.pop()
    if stack:
        keyword, start = stack[-1]
        raise _fail(text, len(text), f"unexpected EOF (unclosed {{{{{keyword}}}}})")
