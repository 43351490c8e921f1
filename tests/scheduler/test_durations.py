"""keep_alive parsing with Ollama's rules: numbers are seconds, strings are Go durations, negative is forever."""

from __future__ import annotations

import pytest

from jupyter_ollama.errors import BadRequest
from jupyter_ollama.scheduler.durations import default_keep_alive, format_keep_alive, parse_go_duration, parse_keep_alive


@pytest.mark.parametrize(
    "value, seconds",
    [
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("0", 0.0),
        ("0s", 0.0),
        ("1.5s", 1.5),
        ("500ms", 0.5),
        ("2h", 7200.0),
        (300, 300.0),
        (0, 0.0),
        (2.5, 2.5),
    ],
)
def test_keep_alive_values(value, seconds):
    assert parse_keep_alive(value) == seconds


@pytest.mark.parametrize("value", [-1, -0.5, "-1m", "-1s", "-1h30m", 2**70, 1e308, float("inf"), float("-inf"), "9999999999h"])
def test_negative_or_longer_than_go_can_hold_means_forever(value):
    assert parse_keep_alive(value) is None


@pytest.mark.parametrize("value", ["300", "", "5 m", "five minutes", "5d", "m", "-", "1h30", True, [], {}, float("nan")])
def test_invalid_keep_alive_is_bad_request(value):
    with pytest.raises(BadRequest) as info:
        parse_keep_alive(value)
    assert info.value.status == 400


def test_go_duration_errors_name_the_input():
    with pytest.raises(ValueError, match='"300"'):
        parse_go_duration("300")


@pytest.mark.parametrize(
    "env, expected",
    [(None, 300.0), ("", 300.0), ("10m", 600.0), ("3600", 3600.0), ("-1", None), ("-1m", None), ("0", 0.0), ("soon", 300.0)],
)
def test_default_keep_alive_from_environment(monkeypatch, env, expected):
    if env is None:
        monkeypatch.delenv("OLLAMA_KEEP_ALIVE", raising=False)
    else:
        monkeypatch.setenv("OLLAMA_KEEP_ALIVE", env)
    assert default_keep_alive() == expected


def test_format_keep_alive():
    assert format_keep_alive(None) == "-1"
    assert format_keep_alive(300.0) == "300s"
    assert format_keep_alive(0.5) == "0.5s"
