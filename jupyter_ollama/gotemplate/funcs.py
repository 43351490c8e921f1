"""The functions every template can call: Go's builtins plus Ollama's additions."""

from __future__ import annotations

import datetime
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .printing import go_json, sprint, sprint_value, sprintf, sprintln
from .values import go_type, truth


def and_(*args: Any) -> Any:  # evaluated lazily by the executor; kept for `call`
    for arg in args:
        if not truth(arg):
            return arg
    return args[-1]


def or_(*args: Any) -> Any:
    for arg in args:
        if truth(arg):
            return arg
    return args[-1]


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    return {float: "float", complex: "complex", str: "string"}.get(type(value), "other")


def _eq(arg1: Any, *args: Any) -> bool:
    if not args:
        raise ValueError("missing argument for comparison")
    k1 = _kind(arg1)
    for arg in args:
        k2 = _kind(arg)
        if k1 != k2:
            if arg1 is not None and arg is not None:
                raise ValueError("incompatible types for comparison")
            continue
        if k1 == "other":
            if arg1 is None or arg is None:
                if arg1 is None and arg is None:
                    return True
                continue
            if isinstance(arg1, (list, dict)) or isinstance(arg, (list, dict)):
                raise ValueError(f"non-comparable type {sprint_value(arg1)}: {go_type(arg1)}")
        if arg1 == arg:
            return True
    return False


def _lt(a: Any, b: Any) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka in ("other", "bool", "complex") or kb in ("other", "bool", "complex"):
        raise ValueError("invalid type for comparison")
    if ka != kb:
        raise ValueError("incompatible types for comparison")
    return bool(a < b)


def _length(item: Any) -> int:
    if isinstance(item, str):
        return len(item.encode())
    if isinstance(item, (bytes, list, tuple, Mapping)):
        return len(item)
    raise ValueError("len of nil pointer" if item is None else f"len of type {go_type(item)}")


def _index(item: Any, *indexes: Any) -> Any:
    for index in indexes:
        if item is None:
            raise ValueError("index of untyped nil")
        if isinstance(item, Mapping):
            item = item.get(index)
            continue
        if not isinstance(item, (str, bytes, list, tuple)):
            raise ValueError(f"can't index item of type {go_type(item)}")
        if not isinstance(index, int) or isinstance(index, bool):
            raise ValueError(f"cannot index slice/array with type {go_type(index)}")
        seq = item.encode() if isinstance(item, str) else item
        if not 0 <= index < len(seq):
            raise ValueError(f"index out of range: {index}")
        item = seq[index]
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise ValueError("slice of untyped nil")
    if len(indexes) > 3:
        raise ValueError(f"too many slice indexes: {len(indexes)}")
    if not isinstance(item, (str, list, tuple)):
        raise ValueError(f"can't slice item of type {go_type(item)}")
    if len(indexes) == 3 and isinstance(item, str):
        raise ValueError("cannot 3-index slice a string")
    seq = item.encode() if isinstance(item, str) else item
    for index in indexes:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= len(seq):
            raise ValueError(f"index out of range: {index}")
    bounds = [*indexes, 0, len(seq)][:2] if len(indexes) != 1 else [indexes[0], len(seq)]
    for lo, hi in zip(indexes, indexes[1:], strict=False):
        if lo > hi:
            raise ValueError(f"invalid slice index: {lo} > {hi}")
    part = seq[bounds[0] : bounds[1]]
    return part.decode("utf-8", "replace") if isinstance(part, bytes) else list(part)


def _args_text(args: Sequence[Any]) -> str:
    return args[0] if len(args) == 1 and isinstance(args[0], str) else sprint(*args)


def _html(*args: Any) -> str:
    table = {'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;", "\0": "\ufffd"}
    return "".join(table.get(c, c) for c in _args_text(args))


def _js(*args: Any) -> str:
    table = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026", "=": "\\u003D"}
    out = []
    for c in _args_text(args):
        if c in table:
            out.append(table[c])
        elif c < " " or (ord(c) >= 0x80 and not c.isprintable()):
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def _call(fn: Any, *args: Any) -> Any:
    if fn is None:
        raise ValueError("call of nil")
    if not callable(fn):
        raise ValueError(f"non-function of type {go_type(fn)}")
    return fn(*args)


def _json(value: Any) -> str:
    try:
        return go_json(value)
    except (TypeError, ValueError):
        return ""  # Ollama drops json.Marshal's error


def _to_typescript_type(value: Any) -> str:
    convert = getattr(value, "to_typescript_type", None)
    return str(convert()) if callable(convert) else "any"


FUNCS: dict[str, Callable[..., Any]] = {
    "and": and_,
    "or": or_,
    "not": lambda value: not truth(value),
    "len": _length,
    "index": _index,
    "slice": _slice,
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": _lt,
    "le": lambda a, b: _lt(a, b) or _eq(a, b),
    "gt": lambda a, b: not (_lt(a, b) or _eq(a, b)),
    "ge": lambda a, b: not _lt(a, b),
    "print": sprint,
    "printf": sprintf,
    "println": sprintln,
    "html": _html,
    "js": _js,
    "urlquery": lambda *args: urllib.parse.quote_plus(_args_text(args), safe=""),
    "call": _call,
    # Ollama's additions (template/template.go); the date helpers ignore their format argument
    "json": _json,
    "currentDate": lambda *args: datetime.date.today().isoformat(),
    "yesterdayDate": lambda *args: (datetime.date.today() - datetime.timedelta(days=1)).isoformat(),
    "toTypeScriptType": _to_typescript_type,
}
"""The functions every template knows: Go's builtins plus Ollama's."""
