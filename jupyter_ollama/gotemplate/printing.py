"""How Go prints values: fmt's `%v` and Sprint/Sprintf, strconv's floats, encoding/json."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from typing import Any

from .values import OrderedMap, go_quote, go_type, is_stringer, map_keys


def sprint_value(value: Any) -> str:
    """fmt's `%v`: how Go prints a value."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value)
    if isinstance(value, str):
        return value
    if is_stringer(value):
        return str(value)
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{sprint_value(k)}:{sprint_value(value[k])}" for k in map_keys(value)) + "]"
    if isinstance(value, (list, tuple, bytes)):
        return "[" + " ".join(sprint_value(v) for v in value) + "]"
    if dataclasses.is_dataclass(value):
        return "{" + " ".join(sprint_value(getattr(value, f.name)) for f in _fields(value)) + "}"
    return str(value)


def _fields(value: Any) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(value) if not f.name.startswith("_")]


def _digits(f: float) -> tuple[str, int]:
    """Shortest round-trip digits of |f| and the decimal point position (value = 0.DIGITS × 10^dp)."""
    if f == 0:
        return "", 0
    mantissa, _, exp = repr(abs(f)).partition("e")
    whole, _, frac = mantissa.partition(".")
    raw = whole + frac
    stripped = raw.lstrip("0")
    return stripped.rstrip("0"), len(whole) + int(exp or 0) - (len(raw) - len(stripped))


def _fmt_e(digits: str, dp: int, prec: int) -> str:
    out = (digits or "0")[0]
    if prec > 0:
        out += "." + digits[1 : prec + 1].ljust(prec, "0")
    exp = dp - 1 if digits else 0
    return f"{out}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


def _fmt_f(digits: str, dp: int, prec: int) -> str:
    out = digits[:dp].ljust(dp, "0") if dp > 0 else "0"
    if prec > 0:
        out += "." + "".join(digits[dp + i] if 0 <= dp + i < len(digits) else "0" for i in range(prec))
    return out


def format_float(f: float, verb: str = "g", prec: int | None = None) -> str:
    """strconv.FormatFloat: shortest digits when `prec` is None (the `%v` form)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    if prec is not None:
        return format(f, f".{prec}{verb}")
    sign = "-" if math.copysign(1, f) < 0 else ""
    digits, dp = _digits(f)
    if verb in "eE":
        out = _fmt_e(digits, dp, max(len(digits) - 1, 0))
    elif verb in "fF" or not (dp - 1 < -4 or dp - 1 >= 6):  # Go's shortest %g switches at exponent 6
        out = _fmt_f(digits, dp, max(len(digits) - dp, 0))
    else:
        out = _fmt_e(digits, dp, max(len(digits) - 1, 0))
    return sign + (out.upper() if verb in "EG" else out)


def _json_string(s: str) -> str:
    def escape(m: re.Match[str]) -> str:
        c = m.group()
        short = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
        if c in short:
            return short[c]
        return "\\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else f"\\u{ord(c):04x}"

    return '"' + re.sub(r'["\\\x00-\x1f<>&\u2028\u2029\ud800-\udfff]', escape, s) + '"'


def go_json(value: Any) -> str:
    """Go's json.Marshal: compact, map keys sorted, `<`, `>` and `&` escaped as \\u003c etc."""
    hook = getattr(value, "go_json", None)
    if callable(hook) and not isinstance(value, type):
        return str(hook())
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"json: unsupported value: {format_float(value)}")
        digits, dp = _digits(value)
        sign = "-" if math.copysign(1, value) < 0 else ""
        if value != 0 and not 1e-6 <= abs(value) < 1e21:
            return sign + re.sub(r"e-0(\d)$", r"e-\1", _fmt_e(digits, dp, len(digits) - 1))
        return sign + _fmt_f(digits, dp, max(len(digits) - dp, 0))
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, Mapping):
        keys = list(value) if isinstance(value, OrderedMap) else sorted(value, key=str)
        return "{" + ",".join(f"{_json_string(str(k))}:{go_json(value[k])}" for k in keys) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    if dataclasses.is_dataclass(value):
        return "{" + ",".join(f"{_json_string(f.name)}:{go_json(getattr(value, f.name))}" for f in _fields(value)) + "}"
    raise TypeError(f"json: unsupported type: {go_type(value)}")


# ---------------------------------------------------------------- fmt's Sprint family


def sprint(*args: Any) -> str:
    """fmt.Sprint: a space between operands when neither is a string."""
    out = []
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(sprint_value(arg))
    return "".join(out)


def sprintln(*args: Any) -> str:
    return " ".join(sprint_value(a) for a in args) + "\n"


def _bad_verb(verb: str, arg: Any) -> str:
    return f"%!{verb}(<nil>)" if arg is None else f"%!{verb}({go_type(arg)}={sprint_value(arg)})"


def _format_one(verb: str, flags: str, prec: int | None, arg: Any) -> str:
    is_int = isinstance(arg, int) and not isinstance(arg, bool)
    if verb == "v":
        return format_float(arg, "g", prec) if isinstance(arg, float) and prec is not None else sprint_value(arg)
    if verb == "s" and (isinstance(arg, str) or not isinstance(arg, (int, float)) and arg is not None):
        text = sprint_value(arg)
        return text[:prec] if prec is not None else text
    if verb == "q" and isinstance(arg, str):
        return go_quote(arg[:prec] if prec is not None else arg)
    if verb == "q" and is_int:
        return go_quote(chr(arg), "'")
    if verb == "t" and isinstance(arg, bool):
        return "true" if arg else "false"
    if is_int and verb in "dboxXcU":
        if verb == "c":
            return chr(arg)
        if verb == "U":
            return f"U+{arg:04X}"
        text = format(arg, verb.replace("d", ""))
        if "#" in flags and verb in "xX":
            text = text.replace("-", "-0" + verb) if arg < 0 else "0" + verb + text
        return "+" + text if "+" in flags and arg >= 0 else text
    if verb in "xX" and isinstance(arg, str):
        return format(int.from_bytes(arg.encode(), "big"), f"0{2 * len(arg.encode())}{verb}") if arg else ""
    if verb in "eEfFgG" and isinstance(arg, float):
        text = format_float(arg, verb.lower() if verb == "F" else verb, prec if prec is not None else (None if verb in "gG" else 6))
        return "+" + text if "+" in flags and not text.startswith("-") else text
    return _bad_verb(verb, arg)


_VERB = re.compile(r"%([-+# 0]*)(\d*)(?:\.(\d*))?(.?)", re.S)


def sprintf(fmt: str, *args: Any) -> str:
    """fmt.Sprintf for the common verbs: %v %s %q %d %t %f %e %g %x %c, width and precision."""
    out: list[str] = []
    used = 0
    pos = 0
    for m in _VERB.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width, prec, verb = m.groups()
        if verb == "%":
            out.append("%")
            continue
        if not verb:
            out.append("%!(NOVERB)")
            continue
        if used >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[used]
        used += 1
        text = _format_one(verb, flags, None if prec is None else int(prec or 0), arg)
        if width and len(text) < int(width):
            if "-" in flags:
                text = text.ljust(int(width))
            elif "0" in flags and isinstance(arg, (int, float)) and not isinstance(arg, bool):
                sign = text[0] if text[:1] in "+-" else ""
                text = sign + text[len(sign) :].rjust(int(width) - len(sign), "0")
            else:
                text = text.rjust(int(width))
        out.append(text)
    out.append(fmt[pos:])
    if used < len(args):
        out.append("%!(EXTRA " + ", ".join(f"{go_type(a)}={sprint_value(a)}" for a in args[used:]) + ")")
    return "".join(out)
