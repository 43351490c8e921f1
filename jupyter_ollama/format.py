"""Human-readable sizes, times and tables, as Ollama's CLI prints them (format/*.go)."""

from __future__ import annotations

import math
from datetime import datetime, timezone

INTERRUPTED = "interrupted"  # the one line a reply or pull stopped by Kernel > Interrupt ends with


def human_number(n: int) -> str:
    """Ollama's format.HumanNumber: 134515008 -> "134.52M", 1_000_000_000 -> "1B"."""
    for unit, suffix, digits in ((10**9, "B", 1), (10**6, "M", 2)):
        if n >= unit:
            value = n / unit
            return f"{value:.0f}{suffix}" if value == math.floor(value) else f"{value:.{digits}f}{suffix}"
    return f"{n / 1000:.0f}K" if n >= 1000 else str(n)


def human_bytes(size: int) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= scale:
            value = size / scale
            if value >= 10 or value == math.trunc(value):
                return f"{int(value)} {unit}"
            return f"{value:.1f} {unit}"
    return f"{size} B"


def human_bytes_binary(size: int) -> str:
    """Ollama's HumanBytes2 (memory in its errors): `1.2 GiB`, `512.0 MiB`."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def human_duration(seconds: float) -> str:
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = whole // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 14:
        return f"{hours // 24} days"
    if hours < 24 * 60:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds // 3600) // 24 // 365} years"


def human_time(timestamp: str | None, zero: str = "Never") -> str:
    """`3 minutes ago` / `4 minutes from now` for an RFC 3339 time."""
    if not timestamp:
        return zero
    moment = parse_time(timestamp)
    delta = (datetime.now(timezone.utc) - moment).total_seconds()
    if delta / 86400 / 365 < -20:
        return "Forever"
    if delta < 0:
        return human_duration(-delta) + " from now"
    return human_duration(delta) + " ago"


def parse_time(timestamp: str) -> datetime:
    text = timestamp.replace("Z", "+00:00")
    # Python < 3.11 accepts at most 6 fractional digits; Go writes up to 9.
    if "." in text:
        head, _, tail = text.partition(".")
        digits = len(tail) - len(tail.lstrip("0123456789"))
        text = head + "." + tail[: min(digits, 6)] + tail[digits:]
    return datetime.fromisoformat(text)


def table(header: list[str], rows: list[list[str]]) -> str:
    """Left-aligned columns separated by three spaces, like Ollama's tablewriter setup."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    lines = ["   ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=False)).rstrip() for line in [header, *rows]]
    return "\n".join(lines)


def go_duration(nanoseconds: int) -> str:
    """Go's time.Duration.String(), which Ollama's `--verbose` timings print: `1.5s`, `2m3.04s`, `12.345ms`."""
    if nanoseconds == 0:
        return "0s"
    sign, d = ("-", -nanoseconds) if nanoseconds < 0 else ("", nanoseconds)
    if d < 1_000_000_000:
        for unit, scale, digits in (("ns", 1, 0), ("µs", 1_000, 3), ("ms", 1_000_000, 6)):
            if d < scale * 1000:
                return sign + _fraction(d, scale, digits) + unit
    hours, rest = divmod(d, 3600 * 1_000_000_000)
    minutes, rest = divmod(rest, 60 * 1_000_000_000)
    text = _fraction(rest, 1_000_000_000, 9) + "s"
    if hours or minutes:
        text = f"{minutes}m{text}"
    if hours:
        text = f"{hours}h{text}"
    return sign + text


def _fraction(value: int, scale: int, digits: int) -> str:
    whole, part = divmod(value, scale)
    decimals = str(part).rjust(digits, "0").rstrip("0") if digits else ""
    return f"{whole}.{decimals}" if decimals else str(whole)
