"""`keep_alive` values as Ollama reads them: seconds, Go duration strings, negative = forever."""

from __future__ import annotations

import logging
import math
import re
from typing import Any

from .. import envconfig
from ..errors import BadRequest

FOREVER = None  # a keep-alive of None means the model stays loaded until told otherwise
# Go's longest time.Duration (2^63-1 ns, about 292 years): longer is forever, not an overflow.
MAX_SECONDS = (2**63 - 1) / 1e9

_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def parse_go_duration(text: str) -> float:
    """Go's time.ParseDuration, in seconds: "5m", "1h30m", "-1m", "0", "1.5s"."""
    s = text.strip()
    sign = -1.0 if s.startswith("-") else 1.0
    s = s.lstrip("+-")
    if s == "0":
        return 0.0
    position, total = 0, 0.0
    while position < len(s):
        match = _PART.match(s, position)
        if match is None:
            raise ValueError(f'time: invalid duration "{text}"')
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    return sign * total


def parse_keep_alive(value: Any) -> float | None:
    """Seconds to stay loaded after the last request; None means forever. 400 on bad input."""
    if isinstance(value, bool):
        raise BadRequest("keep_alive must be a number of seconds or a duration string")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = parse_go_duration(value)
        except ValueError as err:
            raise BadRequest(str(err)) from None
    else:
        raise BadRequest("keep_alive must be a number of seconds or a duration string")
    if math.isnan(seconds):
        raise BadRequest("keep_alive must be a number of seconds or a duration string")
    return FOREVER if seconds < 0 or seconds > MAX_SECONDS else seconds


def parse_keep_alive_setting(text: str) -> float | None:
    """A keep-alive written in a setting: integer seconds (`300`, `-1`) or a duration (`5m`). 400 on bad input."""
    text = text.strip()
    return parse_keep_alive(int(text)) if text.lstrip("-").isdigit() else parse_keep_alive(text)


def default_keep_alive() -> float | None:
    """OLLAMA_KEEP_ALIVE; a malformed one means Ollama's default (5 minutes), and is said."""
    try:
        return parse_keep_alive_setting(envconfig.keep_alive())
    except BadRequest:
        logging.getLogger("jupyter_ollama").warning("OLLAMA_KEEP_ALIVE %r is not a duration; using %s",
                                                    envconfig.keep_alive(), envconfig.KEEP_ALIVE)
        return parse_keep_alive_setting(envconfig.KEEP_ALIVE)


def format_keep_alive(seconds: float | None) -> str:
    if seconds is None:
        return "-1"
    return f"{seconds:g}s"
