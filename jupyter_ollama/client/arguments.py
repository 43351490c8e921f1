"""Command-line rules `jupyter-ollama run` and `%ollama run` share (Ollama's cmd/cmd.go flags, cobra's parsing)."""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from .http import ClientError

THINK_LEVELS = ("high", "medium", "low", "max")


def bare_think(words: Iterable[str]) -> list[str]:
    """Go's NoOptDefVal: a bare `--think` means true and never takes the next word (the prompt) as its value."""
    return ["--think=true" if word == "--think" else word for word in words]


def parse_think(value: str | None) -> bool | str | None:
    """`--think`, `--think=false`, `--think=high`: Ollama's values for the flag (None: not given)."""
    if value is None:
        return None
    text = value.strip().lower()
    if text in ("true", "false"):
        return text == "true"
    if text in THINK_LEVELS:
        return text
    raise ClientError(f"invalid value for --think: {value!r} (true, false, high, medium, low or max)")


def parse_interspersed(parser: argparse.ArgumentParser, words: list[str]) -> argparse.Namespace:
    """Flags may come between a prompt's words, as cobra allows: `run m --think "Hi"`."""
    args, extra = parser.parse_known_args(words)
    if extra and getattr(args, "prompt", None) is not None and not any(word.startswith("-") for word in extra):
        args.prompt += extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args
