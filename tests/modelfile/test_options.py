"""Ollama's option table, PARAMETER typing, JSON option checks and /api/show text."""

from __future__ import annotations

import pytest

from jupyter_ollama.errors import BadRequest
from jupyter_ollama.gotemplate.printing import format_float
from jupyter_ollama.modelfile.options import (
    DEFAULT_OPTIONS,
    DEPRECATED_PARAMETERS,
    LOAD_TIME_OPTIONS,
    OPTION_TYPES,
    format_parameters,
    go_quote,
    go_value,
    merge_options,
    parameters_from_modelfile,
    parse_parameter,
    validate_parameters,
)


def error_of(call, *args, **kwargs) -> str:
    with pytest.raises(BadRequest) as info:
        call(*args, **kwargs)
    assert info.value.status == 400
    return info.value.message


def test_table_matches_ollama_struct_tags():
    ollama = {
        "num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap", "num_thread",
        "draft_num_predict", "num_keep", "seed", "num_predict", "top_k", "top_p", "min_p",
        "typical_p", "repeat_last_n", "temperature", "repeat_penalty", "presence_penalty",
        "frequency_penalty", "stop",
    }
    assert set(OPTION_TYPES) == ollama | {"num_parallel"}
    assert set(DEFAULT_OPTIONS) == set(OPTION_TYPES)
    assert LOAD_TIME_OPTIONS >= {"num_ctx", "num_batch", "num_gpu", "main_gpu", "use_mmap",
                                 "num_thread", "num_parallel"}
    assert not LOAD_TIME_OPTIONS & {"temperature", "stop", "seed", "num_predict"}
    assert not DEPRECATED_PARAMETERS & set(OPTION_TYPES)


def test_defaults_are_ollamas():
    d = DEFAULT_OPTIONS
    assert (d["num_keep"], d["seed"], d["num_predict"], d["top_k"]) == (4, -1, -1, 40)
    assert (d["top_p"], d["min_p"], d["typical_p"], d["temperature"]) == (0.9, 0.0, 1.0, 0.8)
    assert (d["repeat_last_n"], d["repeat_penalty"]) == (64, 1.0)
    assert (d["num_batch"], d["num_gpu"], d["num_thread"], d["draft_num_predict"]) == (512, -1, 0, 4)
    assert d["stop"] == []
    with pytest.raises(TypeError):
        DEFAULT_OPTIONS["temperature"] = 1.0  # type: ignore[index]


@pytest.mark.parametrize(
    "name, raw, value",
    [
        ("num_ctx", "4096", 4096),
        ("seed", "-1", -1),
        ("num_predict", "+5", 5),
        ("temperature", "0.2", 0.2),
        ("top_p", "1.0", 1.0),
        ("min_p", ".05", 0.05),
        ("temperature", "1e-1", 0.1),
        ("temperature", "1_000.5", 1000.5),
        ("temperature", "0x1p-2", 0.25),
        # float32, sent back as its shortest float32 decimal, as the Go CLI does
        ("top_p", "0.123456789", 0.12345679),
        ("use_mmap", "true", True),
        ("use_mmap", "F", False),
        ("use_mmap", "0", False),
        ("main_gpu", "1", 1),
        ("stop", "### User:", ["### User:"]),
        ("num_parallel", "4", 4),
    ],
)
def test_parse_parameter_types_values(name, raw, value):
    assert parse_parameter(name, raw) == value
    assert type(parse_parameter(name, raw)) is type(value)


@pytest.mark.parametrize(
    "name, raw, message",
    [
        ("x", "1", "unknown parameter 'x'"),
        ("Temperature", "1", "unknown parameter 'Temperature'"),
        ("num_gqa", "1", "unknown parameter 'num_gqa'"),
        ("num_ctx", "abc", "invalid int value [abc]"),
        ("num_ctx", "4.0", "invalid int value [4.0]"),
        ("num_ctx", "1_000", "invalid int value [1_000]"),
        ("num_ctx", " 1", "invalid int value [ 1]"),
        ("seed", "9223372036854775808", "invalid int value [9223372036854775808]"),
        ("temperature", "warm", "invalid float value [warm]"),
        ("temperature", "1e39", "invalid float value [1e39]"),
        ("temperature", "inf", "invalid float value [inf]"),
        ("temperature", "1__0", "invalid float value [1__0]"),
        ("use_mmap", "yes", "invalid bool value [yes]"),
    ],
)
def test_parse_parameter_errors_use_ollamas_text(name, raw, message):
    assert error_of(parse_parameter, name, raw) == message


def test_parameters_from_modelfile_accumulates_stop_and_last_wins(caplog):
    params = parameters_from_modelfile(
        [("stop", "<|im_end|>"), ("temperature", "0.5"), ("stop", "</s>"),
         ("temperature", "0.7"), ("mirostat", "1"), ("tfs_z", "1")]
    )
    assert params == {"stop": ["<|im_end|>", "</s>"], "temperature": 0.7}
    assert "parameter mirostat is deprecated" in caplog.text
    assert "parameter tfs_z is deprecated" in caplog.text


def test_parameters_from_modelfile_unknown_name_fails():
    assert error_of(parameters_from_modelfile, [("temprature", "1")]) == "unknown parameter 'temprature'"


def test_validate_parameters_types_json_values():
    params = validate_parameters(
        {"num_ctx": 2048.0, "temperature": 1, "top_k": 40, "use_mmap": False,
         "stop": ["a", "b"], "seed": None, "num_predict": 12.9}
    )
    assert params == {"num_ctx": 2048, "temperature": 1.0, "top_k": 40, "use_mmap": False,
                      "stop": ["a", "b"], "num_predict": 12}
    assert type(params["num_ctx"]) is int and type(params["temperature"]) is float


def test_validate_parameters_stop_string_becomes_list():
    assert validate_parameters({"stop": "\n\n"}) == {"stop": ["\n\n"]}


@pytest.mark.parametrize(
    "params, message",
    [
        ({"num_ctx": "4096"}, 'option "num_ctx" must be of type integer'),
        ({"num_ctx": True}, 'option "num_ctx" must be of type integer'),
        ({"temperature": "hot"}, 'option "temperature" must be of type float32'),
        ({"temperature": False}, 'option "temperature" must be of type float32'),
        ({"use_mmap": 1}, 'option "use_mmap" must be of type boolean'),
        ({"stop": 5}, 'option "stop" must be of type array'),
        ({"stop": ["a", 1]}, 'option "stop" must be of an array of strings'),
    ],
)
def test_validate_parameters_wrong_type_is_400(params, message):
    assert error_of(validate_parameters, params) == message


@pytest.mark.parametrize(
    "params, message",
    [
        ({"num_predict": 1e308}, 'option "num_predict" must be an integer from -2 to 2147483647, not 1000000000000000010'),
        ({"num_predict": -3}, 'option "num_predict" must be an integer from -2 to 2147483647, not -3'),
        ({"num_ctx": -1}, 'option "num_ctx" must be an integer from 0 to 2147483647, not -1'),
        ({"num_thread": 2**31}, 'option "num_thread" must be an integer from 0 to 2147483647, not 2147483648'),
        ({"top_k": -(2**40)}, 'option "top_k" must be an integer from -2147483648 to 2147483647, not -1099511627776'),
    ],
)
def test_counts_out_of_range_are_400(params, message):
    assert error_of(validate_parameters, params).startswith(message)


def test_counts_in_range_pass():
    edges = {"num_predict": -2, "num_ctx": 0, "num_keep": -1, "seed": 2**64 - 1, "top_k": 2**31 - 1, "num_batch": 1e3}
    assert validate_parameters(edges) == {**edges, "num_batch": 1000}


def test_validate_parameters_drops_unknown_and_deprecated(caplog):
    assert validate_parameters({"mirostat": 2, "bogus": 1, "top_k": 5}) == {"top_k": 5}
    assert "bogus" in caplog.text
    assert validate_parameters({"bogus": 1}, keep_unknown=True) == {"bogus": 1}
    assert validate_parameters(None) == {}


def test_merge_options_layers_over_defaults():
    params = {"temperature": 0.2, "stop": ["x"]}
    merged = merge_options(params, {"temperature": 0.9, "num_ctx": 8192})
    assert merged["temperature"] == 0.9 and merged["num_ctx"] == 8192
    assert merged["stop"] == ["x"] and merged["top_k"] == 40
    merged["stop"].append("y")
    assert params["stop"] == ["x"] and DEFAULT_OPTIONS["stop"] == []


@pytest.mark.parametrize(
    "value, text",
    [
        (1.0, "1"),
        (0.2, "0.2"),
        (0.8, "0.8"),
        (1e6, "1e+06"),
        (100000.0, "100000"),
        (123456.7, "123456.7"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1.5e-7, "1.5e-07"),
        (1e21, "1e+21"),
        (1e100, "1e+100"),
        (-2.5, "-2.5"),
        (0.0, "0"),
        (-0.0, "-0"),
        (0.1 + 0.2, "0.30000000000000004"),
        (float("inf"), "+Inf"),
        (float("nan"), "NaN"),
    ],
)
def test_go_float(value, text):
    assert format_float(value) == text  # the store prints floats with the template package's Go formatting


def test_go_quote_escapes_like_strconv_quote():
    assert go_quote("<|eot_id|>") == '"<|eot_id|>"'
    assert go_quote('say "hi"\\') == '"say \\"hi\\"\\\\"'
    assert go_quote("a\nb\tc\r") == '"a\\nb\\tc\\r"'
    assert go_quote("\x00\x1b\x7f") == '"\\x00\\x1b\\x7f"'
    assert go_quote("\u00a0\u200b") == '"\\u00a0\\u200b"'
    assert go_quote("héllo 你好👋") == '"héllo 你好👋"'
    assert go_quote("\U000e0001") == '"\\U000e0001"'


def test_go_value_v_and_sharp_v():
    assert go_value("x") == "x" and go_value("x", syntax=True) == '"x"'
    assert go_value(True) == "true" and go_value(False, syntax=True) == "false"
    assert go_value(None) == "<nil>"
    assert go_value(4096) == "4096" and go_value(4096.0) == "4096"


def test_format_parameters_is_show_text():
    text = format_parameters(
        {"temperature": 0.2, "stop": ["<|start_header_id|>", "<|eot_id|>"], "num_ctx": 4096,
         "use_mmap": True}
    )
    assert text == (
        "num_ctx                        4096\n"
        'stop                           "<|start_header_id|>"\n'
        'stop                           "<|eot_id|>"\n'
        "temperature                    0.2\n"
        "use_mmap                       true"
    )


def test_format_parameters_pads_to_30_and_quotes_strings():
    line = format_parameters({"stop": ["\n"]})
    assert line == "stop" + " " * 27 + '"\\n"'
    assert format_parameters({}) == ""
    assert format_parameters({"a_very_long_option_name_beyond_30": 1.5}) == (
        "a_very_long_option_name_beyond_30 1.5"
    )
