"""Ollama's model options: names, types, defaults, and how Ollama types and prints them.

The table mirrors the JSON tags of `api.Options` and `api.Runner` in Ollama's
api/types.go. Three ways in:

- Modelfile `PARAMETER name value` strings, typed by `parse_parameter` like Ollama's
  `api.FormatParams` (the CLI does this before POST /api/create);
- JSON `options` of a request and `parameters` of POST /api/create, checked by
  `validate_parameters` like `Options.FromMap` (Ollama answers a wrong type with 500;
  we answer 400: bad input is never a server error);
- `/api/show`, whose `parameters` text is printed by `format_parameters` with Go's
  `%-30s %#v`, with Go's number and string formatting from `jupyter_ollama.gotemplate`.
"""

from __future__ import annotations

import logging
import math
import re
import struct
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

from ..errors import BadRequest
from ..gotemplate.printing import sprint_value
from ..gotemplate.values import go_quote

log = logging.getLogger(__name__)

OptionValue = int | float | bool | list[str]

# name -> Python type; `list` means a list of strings (only `stop`).
OPTION_TYPES: Mapping[str, type] = MappingProxyType(
    {
        # api.Runner: fixed when the model is loaded
        "num_ctx": int,
        "num_batch": int,
        "num_gpu": int,
        "main_gpu": int,
        "use_mmap": bool,
        "num_thread": int,
        "draft_num_predict": int,
        # our extension: slots (parallel sequences) per loaded model
        "num_parallel": int,
        # api.Options: per request
        "num_keep": int,
        "seed": int,
        "num_predict": int,
        "top_k": int,
        "top_p": float,
        "min_p": float,
        "typical_p": float,
        "repeat_last_n": int,
        "temperature": float,
        "repeat_penalty": float,
        "presence_penalty": float,
        "frequency_penalty": float,
        "stop": list,
    }
)

# A change in any of these means the model must be reloaded.
LOAD_TIME_OPTIONS: frozenset[str] = frozenset(
    {"num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread",
     "draft_num_predict", "num_parallel"}
)

# Accepted in a Modelfile with a warning and dropped. Ollama's CLI warns for all of
# these but `tfs_z` and `numa`, which it rejects as unknown; old Modelfiles still carry
# them, so we warn for those too. In request `options` every unknown key is ignored.
DEPRECATED_PARAMETERS: frozenset[str] = frozenset(
    {"penalize_newline", "low_vram", "f16_kv", "logits_all", "vocab_only", "use_mlock",
     "mirostat", "mirostat_tau", "mirostat_eta", "tfs_z", "numa"}
)

# Ollama's DefaultOptions(). 0 for num_ctx/num_parallel and None for main_gpu/use_mmap
# mean "decided at load time" (OLLAMA_CONTEXT_LENGTH or the VRAM tier, the server's
# parallel setting, llama.cpp's defaults); -1 for num_gpu means "as many layers as fit".
DEFAULT_OPTIONS: Mapping[str, OptionValue | None] = MappingProxyType(
    {
        "num_ctx": 0,
        "num_batch": 512,
        "num_gpu": -1,
        "main_gpu": None,
        "use_mmap": None,
        "num_thread": 0,
        "draft_num_predict": 4,
        "num_parallel": 0,
        "num_keep": 4,
        "seed": -1,
        "num_predict": -1,
        "top_k": 40,
        "top_p": 0.9,
        "min_p": 0.0,
        "typical_p": 1.0,
        "repeat_last_n": 64,
        "temperature": 0.8,
        "repeat_penalty": 1.0,
        "presence_penalty": 0.0,
        "frequency_penalty": 0.0,
        "stop": [],
    }
)

_INT_RE = re.compile(r"[+-]?[0-9]+")
_DIGITS = r"[0-9](?:_?[0-9])*"
_HEX = r"[0-9a-fA-F](?:_?[0-9a-fA-F])*"
# Go's strconv.ParseFloat syntax for finite numbers (underscores only between digits).
_FLOAT_RE = re.compile(
    rf"[+-]?(?:(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:[eE][+-]?{_DIGITS})?"
    rf"|0[xX]_?(?:{_HEX}(?:\.(?:{_HEX})?)?|\.{_HEX})[pP][+-]?{_DIGITS})"
)
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
_INT64 = (-(2**63), 2**63 - 1)


def _to_float32(x: float) -> float:
    """Round to float32 and back to the shortest decimal that float32 reads the same.

    Ollama's CLI keeps Modelfile floats as float32 and sends them as JSON, so 0.2
    travels as 0.2 while 0.123456789 travels as 0.12345679.
    """
    f32 = struct.unpack("<f", struct.pack("<f", x))[0]  # OverflowError past float32
    for digits in range(1, 10):
        s = f"{f32:.{digits}g}"
        if struct.unpack("<f", struct.pack("<f", float(s)))[0] == f32:
            return float(s)
    return f32


def parse_parameter(name: str, raw: str) -> OptionValue:
    """Type one Modelfile `PARAMETER name raw` as Ollama's `api.FormatParams` does.

    `stop` yields a one-element list. Errors carry Ollama's text, e.g.
    `unknown parameter 'x'` or `invalid int value [abc]`.
    """
    kind = OPTION_TYPES.get(name)
    if kind is None:
        raise BadRequest(f"unknown parameter '{name}'")
    if kind is list:
        return [raw]
    if kind is bool:
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        raise BadRequest(f"invalid bool value [{raw}]")
    if kind is int:
        if _INT_RE.fullmatch(raw) and _INT64[0] <= int(raw) <= _INT64[1]:
            return int(raw)
        raise BadRequest(f"invalid int value [{raw}]")
    # float32: Go also takes inf/nan, which then cannot travel as JSON; we refuse them.
    if _FLOAT_RE.fullmatch(raw):
        text = raw.replace("_", "")
        try:
            value = float.fromhex(text) if "x" in text.lower() else float(text)
            if math.isfinite(value):
                return _to_float32(value)
        except (OverflowError, ValueError):
            pass
    raise BadRequest(f"invalid float value [{raw}]")


def parameters_from_modelfile(pairs: Iterable[tuple[str, str]]) -> dict[str, OptionValue]:
    """Type the PARAMETER lines of a Modelfile, in order.

    As in Ollama's CLI: a repeated `stop` accumulates into one list, any other repeated
    name keeps its last value, deprecated names only warn.
    """
    params: dict[str, OptionValue] = {}
    for name, raw in pairs:
        if name in DEPRECATED_PARAMETERS:
            log.warning("parameter %s is deprecated", name)
            continue
        value = parse_parameter(name, raw)
        previous = params.get(name)
        if isinstance(value, list) and isinstance(previous, list):
            params[name] = previous + value
        else:
            params[name] = value
    return params


# Integer options reach llama.cpp as 32-bit ints (the seed as 64 bits); counts have a floor too.
# Out of range is a 400 here, never an overflow in a runner or a generation that never ends.
INT32 = (-(2**31), 2**31 - 1)
INT_RANGES: Mapping[str, tuple[int, int]] = MappingProxyType({
    "num_ctx": (0, INT32[1]),  # 0: the server's default
    "num_batch": (0, INT32[1]),
    "num_thread": (0, INT32[1]),  # 0: fit the machine
    "num_parallel": (0, INT32[1]),
    "num_predict": (-2, INT32[1]),  # -1: until the model stops, -2: until the context is full
    "num_keep": (-1, INT32[1]),
    "draft_num_predict": (0, INT32[1]),
    "repeat_last_n": (-1, INT32[1]),
    "seed": (-(2**63), 2**64 - 1),
})


def _type_error(name: str, what: str) -> BadRequest:
    return BadRequest(f"option {go_quote(name)} must be of {what}")


def _check(name: str, kind: type, value: Any) -> OptionValue:
    """One value against its type, with the messages of Ollama's Options.FromMap."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise _type_error(name, "type boolean")
    if kind is int:
        # JSON numbers are float64 in Go; FromMap truncates them to int.
        if isinstance(value, float) and math.isfinite(value):
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise _type_error(name, "type integer")
        low, high = INT_RANGES.get(name, INT32)
        if not low <= value <= high:
            raise BadRequest(f"option {go_quote(name)} must be an integer from {low} to {high}, not {value}")
        return value
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
        raise _type_error(name, "type float32")
    # stop: a list of strings; a lone string is taken as a one-element list.
    if isinstance(value, str):
        return [value]
    if not isinstance(value, (list, tuple)):
        raise _type_error(name, "type array")
    if not all(isinstance(item, str) for item in value):
        raise _type_error(name, "an array of strings")
    return list(value)


def validate_parameters(params: Mapping[str, Any] | None, *, keep_unknown: bool = False) -> dict[str, Any]:
    """Check a JSON `options` / create `parameters` object and return it typed.

    Wrong types raise BadRequest with Ollama's text (`option "top_k" must be of type
    integer`). Null values are skipped. Unknown and deprecated names are logged and
    dropped, as Ollama ignores them at request time; `keep_unknown=True` keeps them
    untouched (Ollama's create stores whatever it is given).
    """
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise BadRequest("options must be a JSON object")
    out: dict[str, Any] = {}
    for name, value in params.items():
        kind = OPTION_TYPES.get(name)
        if kind is None:
            if keep_unknown:
                out[name] = value
            elif name in DEPRECATED_PARAMETERS:
                log.warning("option %s is deprecated and ignored", name)
            else:
                log.warning("invalid option provided: %s", name)
            continue
        if value is not None:
            out[name] = _check(name, kind, value)
    return out


def merge_options(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults, then each layer over the last (Modelfile params, then request options)."""
    merged: dict[str, Any] = {}
    for layer in (DEFAULT_OPTIONS, *layers):
        for name, value in (layer or {}).items():
            merged[name] = list(value) if isinstance(value, list) else value
    return merged


def go_value(value: Any, *, syntax: bool = False) -> str:
    """Go's `%v` (or `%#v` with syntax=True) for a value decoded from JSON.

    Integers print in full (Go would see them as float64 and print 1e+06 for a
    million; our store knows they are integers, and this keeps the text re-parseable).
    """
    if not syntax:
        return sprint_value(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, (list, tuple)):
        return "[]interface {}{" + ", ".join(go_value(v, syntax=True) for v in value) + "}"
    if isinstance(value, Mapping):
        pairs = ", ".join(f"{go_quote(str(k))}:{go_value(value[k], syntax=True)}" for k in sorted(value))
        return "map[string]interface {}{" + pairs + "}"
    return sprint_value(value)


def format_parameters(params: Mapping[str, Any] | None) -> str:
    """The `parameters` text of /api/show: `%-30s %#v` per value, one line per stop.

    Ollama walks a Go map, so its order is random; we sort by name.
    """
    lines: list[str] = []
    for name in sorted(params or {}):
        value = params[name]  # type: ignore[index]
        values = value if isinstance(value, (list, tuple)) else [value]
        lines.extend(f"{name:<30} {go_value(v, syntax=True)}" for v in values)
    return "\n".join(lines)
