"""Go values in Python: the template error, Go's truthiness, type names, map order, quoting.

How Python values stand for Go values:

- a `Mapping` is a Go `map[string]any`. A missing key reads as nil, as in Ollama,
  which parses with `missingkey=zero` and whose zero `any` is nil: it prints
  `<no value>` and is false, and a field of it (`.Missing.Name`) is an error. Keys
  range and print in sorted order, except in an `OrderedMap`.
- any other object (a dataclass, say) is a Go struct: `.Name` reads the attribute;
  a missing one is an execution error, a method is called with the arguments.
- list/tuple, str, int, float, bool, None are slice, string, int, float64, bool, nil.
- a class that defines `__str__` acts as Go's `fmt.Stringer`; one with a `go_json()`
  method returning JSON text acts as `json.Marshaler`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import BadRequest


class TemplateError(BadRequest):
    """A template that does not parse or fails while executing; worded like Go's."""


class OrderedMap(dict[Any, Any]):
    """A map whose JSON, printing and `range` keep insertion order (Ollama's orderedmap)."""


def truth(value: Any) -> bool:
    """Go's truthiness: false, 0, nil and empty strings, slices and maps are false."""
    if value is None:
        return False
    if isinstance(value, (bool, int, float, complex)):
        return value != 0
    if isinstance(value, (str, bytes, list, tuple, Mapping)):
        return len(value) > 0
    return True  # structs, functions


def go_type(value: Any) -> str:
    """Roughly the Go type name a value stands for, for messages."""
    for kind, name in ((bool, "bool"), (int, "int"), (float, "float64"), (str, "string"), (bytes, "[]uint8")):
        if isinstance(value, kind):
            return name
    if value is None:
        return "<nil>"
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    if isinstance(value, (list, tuple)):
        return "[]interface {}"
    return type(value).__name__


def map_keys(mapping: Mapping[Any, Any]) -> list[Any]:
    """A map's keys in the order Go ranges over and prints them: sorted (an `OrderedMap`'s kept)."""
    if isinstance(mapping, OrderedMap):
        return list(mapping)
    try:
        return sorted(mapping)
    except TypeError:
        return sorted(mapping, key=str)


def is_stringer(value: Any) -> bool:
    """Whether a value acts as a `fmt.Stringer` (its class defines `__str__`)."""
    to_string: Any = type(value).__str__
    return not isinstance(value, (str, int, float)) and to_string is not object.__str__


def go_quote(s: str, quote: str = '"') -> str:
    """strconv.Quote (or QuoteRune with quote="'")."""
    out = [quote]
    for c in s:
        if c == quote or c == "\\":
            out.append("\\" + c)
        elif c in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}[c])
        elif c.isprintable():
            out.append(c)
        elif ord(c) < 0x80:
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}")
    return "".join(out) + quote
