"""The Modelfile parser, the CLI's create request and `ollama show --modelfile`.

Parsing cases follow Ollama's parser/parser_test.go.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from jupyter_ollama.errors import BadRequest
from jupyter_ollama.modelfile.parser import (
    Command,
    Modelfile,
    ModelfileError,
    expand_path,
    parse_commands,
    parse_modelfile,
    quote,
    render_modelfile,
)

INVALID_COMMAND = (
    'command must be one of "from", "license", "template", "system", "adapter", "draft", '
    '"renderer", "parser", "parameter", "message", or "requires"'
)
INVALID_ROLE = 'message role must be one of "system", "user", or "assistant"'
LLAMA3 = (
    "{{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>"
    "{{ end }}{{ if .Prompt }}<|start_header_id|>user<|end_header_id|>\n\n{{ .Prompt }}"
    "<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n{{ .Response }}<|eot_id|>"
)


def cmds(text: str | bytes) -> list[tuple[str, str]]:
    return [(c.name, c.args) for c in parse_commands(text)]


def error_of(text: str | bytes) -> str:
    with pytest.raises(ModelfileError) as info:
        parse_modelfile(text)
    assert isinstance(info.value, BadRequest) and info.value.status == 400
    return info.value.message


# -- parsing -----------------------------------------------------------------


def test_parse_file():
    text = f'\nFROM model1\nADAPTER adapter1\nLICENSE MIT\nPARAMETER param1 value1\nPARAMETER param2 value2\nTEMPLATE """{LLAMA3}"""    \n'
    assert cmds(text) == [
        ("model", "model1"), ("adapter", "adapter1"), ("license", "MIT"),
        ("param1", "value1"), ("param2", "value2"), ("template", LLAMA3),
    ]


def test_parse_trims_unquoted_values_and_keeps_quoted_space():
    text = f'\nFROM "     model 1"\nADAPTER      adapter3\nLICENSE "MIT       "\nPARAMETER param1        value1\nTEMPLATE """   {LLAMA3}   """    \n'
    assert cmds(text) == [
        ("model", "     model 1"), ("adapter", "adapter3"), ("license", "MIT       "),
        ("param1", "value1"), ("template", f"   {LLAMA3}   "),
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ('FROM "FOO  BAR  "', [("model", "FOO  BAR  ")]),
        ('FROM "FOO BAR"\nPARAMETER param1 value1', [("model", "FOO BAR"), ("param1", "value1")]),
        ("FROM     FOOO BAR    ", [("model", "FOOO BAR")]),
        ("FROM /what/is/the path ", [("model", "/what/is/the path")]),
        ("FROM llama3:7b-instruct-q4_K_M", [("model", "llama3:7b-instruct-q4_K_M")]),
        ("PARAMETER param1 value1\nFROM foo", [("param1", "value1"), ("model", "foo")]),
        ("PARAMETER what the \nFROM lemons make lemonade ",
         [("what", "the"), ("model", "lemons make lemonade")]),
        ("from foo\nsYsTeM hi", [("model", "foo"), ("system", "hi")]),
        ("# comment\nFROM foo\n\t# indented comment\n", [("model", "foo")]),
        ("FROM foo # not a comment", [("model", "foo # not a comment")]),
        ("FROM foo\r\nSYSTEM hi\r\n", [("model", "foo"), ("system", "hi")]),
        ("FROM base\nDRAFT ./assistant\nRENDERER r1\nPARSER p1\nREQUIRES 0.14.0",
         [("model", "base"), ("draft", "./assistant"), ("renderer", "r1"), ("parser", "p1"),
          ("requires", "0.14.0")]),
    ],
)
def test_parse_commands(text, expected):
    assert cmds(text) == expected


@pytest.mark.parametrize("text", ["", "PARAMETER param1 value1", "# FROM foo\n"])
def test_missing_from(text):
    assert error_of(text) == "no FROM line"


def test_bad_command_names_the_line():
    assert error_of("\nFROM foo\nBADCOMMAND param1 value1\n") == f"(line 3): {INVALID_COMMAND}"
    assert error_of("FROM foo\nSYS-TEM x") == f"(line 2): {INVALID_COMMAND}"


def test_parameter_without_value_is_unexpected_eof():
    assert error_of("\nFROM foo\nPARAMETER param1\n") == "unexpected EOF: param1"
    assert error_of("FROM foo\nPARAMETER") == "unexpected EOF"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("FROM foo\nMESSAGE system You are a file parser. Always parse things.\n",
         [{"role": "system", "content": "You are a file parser. Always parse things."}]),
        ("FROM foo\nMESSAGE user Hey there!\nMESSAGE assistant Hello, I want to parse all the things!",
         [{"role": "user", "content": "Hey there!"},
          {"role": "assistant", "content": "Hello, I want to parse all the things!"}]),
        ('FROM foo\nMESSAGE system """\nYou are a multiline file parser.\n"""\n\t\t\t',
         [{"role": "system", "content": "\nYou are a multiline file parser.\n"}]),
    ],
)
def test_messages(text, expected):
    assert parse_modelfile(text).messages == expected


def test_message_errors():
    assert error_of("\nFROM foo\nMESSAGE badguy I'm a bad guy!\n") == f"(line 3): {INVALID_ROLE}"
    assert error_of("FROM foo\nMESSAGE User hi\n") == f"(line 2): {INVALID_ROLE}"
    assert error_of("\nFROM foo\nMESSAGE system\n") == "unexpected EOF: system"
    assert error_of("\nFROM foo\nMESSAGE system") == "unexpected EOF"


@pytest.mark.parametrize(
    "value, expected",
    [
        ('"""\nThis is a\nmultiline system.\n"""\n\t\t\t', "\nThis is a\nmultiline system.\n"),
        ('"""\nThis is a\nmultiline system."""', "\nThis is a\nmultiline system."),
        ('"""This is a\nmultiline system."""', "This is a\nmultiline system."),
        ('"""This is a multiline system."""', "This is a multiline system."),
        ('"""\nThis is a multiline system with "quotes".\n"""', '\nThis is a multiline system with "quotes".\n'),
        ('""""""', ""),
        ('""', ""),
        ("\"'\"", "'"),
        ('"""\'\'"\'""\'""\'"\'\'\'\'\'""\'""\'"""', '\'\'"\'""\'""\'"\'\'\'\'\'""\'""\''),
        ('"two\nlines"', "two\nlines"),
        ("tab\tinside", "tab\tinside"),
    ],
)
def test_quoted_values(value, expected):
    assert parse_modelfile(f"\nFROM foo\nSYSTEM {value}\n").system == expected


@pytest.mark.parametrize(
    "text", ['FROM foo\nSYSTEM """This is a multiline system.""\n', 'FROM foo\nSYSTEM "\n\t\t\t',
             'FROM foo\nSYSTEM """unterminated\nmore text'],
)
def test_unterminated_quote_is_unexpected_eof(text):
    assert error_of(text) == "unexpected EOF"


def test_long_quoted_license_is_kept_whole():
    text = 'Permission is "granted", free of charge.\n' * 5000
    assert parse_modelfile(f'FROM foo\nLICENSE """{text}"""\n').license == [text]


def test_non_printable_characters_are_dropped_as_in_go():
    assert parse_modelfile("FROM foo\nSYSTEM a\u00a0b\x00c").system == "abc"


@pytest.mark.parametrize(
    "line, name, value",
    [
        ("num_ctx 1", "num_ctx", 1),
        ("use_mmap true", "use_mmap", True),
        ("top_p 1.0", "top_p", 1.0),
        ("min_p 0.05", "min_p", 0.05),
        ("stop ### User:", "stop", ["### User:"]),
        ("stop ### User: ", "stop", ["### User:"]),
        ('stop "### User: "', "stop", ["### User: "]),
        ('stop """### User:"""', "stop", ["### User:"]),
        ('stop """### User:\n"""', "stop", ["### User:\n"]),
        ("stop <|eot_id|>", "stop", ["<|eot_id|>"]),
        ("stop </s>", "stop", ["</s>"]),
    ],
)
def test_parameters_are_typed(line, name, value):
    assert parse_modelfile(f"FROM foo\nPARAMETER {line}\n").parameters == {name: value}


def test_parameter_stop_list_and_deprecated(caplog):
    mf = parse_modelfile("FROM foo\nPARAMETER stop a\nPARAMETER penalize_newline true\nPARAMETER stop b\n")
    assert mf.parameters == {"stop": ["a", "b"]}
    assert "parameter penalize_newline is deprecated" in caplog.text
    # Parsed commands keep everything, as Ollama's ParseFile does.
    assert ("penalize_newline", "true") in [(c.name, c.args) for c in mf.commands]


def test_parameter_errors():
    assert error_of("FROM foo\nPARAMETER numa true\nPARAMETER num_gqa 1") == "unknown parameter 'num_gqa'"
    assert error_of("FROM foo\nPARAMETER num_ctx big") == "invalid int value [big]"
    assert error_of("FROM foo\nPARAMETER temperature hot") == "invalid float value [hot]"


UTF16_TEXT = "FROM bob\nPARAMETER num_ctx 1\nPARAMETER top_k 4096\nSYSTEM You are a utf16 file.\n"


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xfe" + UTF16_TEXT.encode("utf-16-le"),
        b"\xfe\xff" + UTF16_TEXT.encode("utf-16-be"),
        b"\xef\xbb\xbf" + UTF16_TEXT.encode("utf-8"),
        "\ufeff" + UTF16_TEXT,
    ],
)
def test_bom_and_utf16(data):
    mf = parse_modelfile(data)
    assert (mf.from_, mf.parameters, mf.system) == ("bob", {"num_ctx": 1, "top_k": 4096}, "You are a utf16 file.")


def test_multibyte():
    assert cmds("FROM test\n\tSYSTEM 你好👋".encode()) == [("model", "test"), ("system", "你好👋")]


def test_typed_fields():
    mf = parse_modelfile(
        "FROM llama3.2\nSYSTEM one\nSYSTEM two\nLICENSE MIT\nLICENSE Apache\nADAPTER ./a.gguf\n"
        "TEMPLATE {{ .Prompt }}\nREQUIRES 0.5.0\n"
    )
    assert mf.from_ == "llama3.2" and mf.system == "two" and mf.template == "{{ .Prompt }}"
    assert mf.license == ["MIT", "Apache"] and mf.adapters == ["./a.gguf"]
    assert mf.requires == "0.5.0" and mf.messages == [] and mf.parameters == {}


# -- writing back --------------------------------------------------------------


def test_quote_rules():
    assert quote("plain value") == "plain value"
    assert quote(" lead") == '" lead"' and quote("trail ") == '"trail "'
    assert quote("two\nlines") == '"two\nlines"'
    assert quote('say "hi"\nbye') == '"""say "hi"\nbye"""'
    assert str(Command("message", "user: hi there")) == "MESSAGE user hi there"
    assert str(Command("model", " spaced ")) == "FROM  spaced "


@pytest.mark.parametrize(
    "text",
    [
        "\nFROM foo\nADAPTER adapter1\nLICENSE MIT\nPARAMETER param1 value1\nTEMPLATE template1\n"
        "MESSAGE system You are a file parser. Always parse things.\nMESSAGE user Hey there!\n",
        '\nFROM foo\nLICENSE """\nVery long and boring legal text.\n"Oh look, a quote!"\n"""\n\n'
        'MESSAGE system """\nYou are a store greeter. Always respond with "Hello!".\n"""\n',
        '\nFROM foo\nSYSTEM ""\n',
    ],
)
def test_to_text_round_trips(text):
    first = parse_commands(text)
    assert parse_commands(Modelfile(from_="foo", commands=first).to_text()) == first


ROUND_TRIP = '''# a model
FROM ./model.gguf
PARAMETER temperature 0.2
PARAMETER stop "<|im_end|>"
PARAMETER stop " User:"
SYSTEM """You are "helpful".
Answer briefly."""
'''


def test_round_trip_through_show_modelfile():
    mf = parse_modelfile(ROUND_TRIP)
    assert mf.parameters == {"temperature": 0.2, "stop": ["<|im_end|>", " User:"]}
    assert mf.system == 'You are "helpful".\nAnswer briefly.'
    text = render_modelfile(short_name="mine:latest", model_path=mf.from_, system=mf.system,
                            parameters=mf.parameters)
    assert text == (
        '# Modelfile generated by "ollama show"\n'
        "# To build a new Modelfile based on this, replace FROM with:\n"
        "# FROM mine:latest\n"
        "\n"
        "FROM ./model.gguf\n"
        'SYSTEM """You are "helpful".\nAnswer briefly."""\n'
        "PARAMETER stop <|im_end|>\n"
        'PARAMETER stop " User:"\n'
        "PARAMETER temperature 0.2\n"
    )
    again = parse_modelfile(text)
    assert (again.from_, again.system, again.parameters) == (mf.from_, mf.system, mf.parameters)


def test_render_modelfile_order_and_values():
    text = render_modelfile(
        short_name="llama3.2:latest",
        model_path="/models/blobs/sha256-aaa",
        template="{{ .Prompt }}",
        system="Be nice.",
        parameters={"num_ctx": 8192, "top_p": 0.9, "use_mmap": False, "stop": ["<|eot_id|>"]},
        adapters=["/models/blobs/sha256-bbb"],
        projectors=["/models/blobs/sha256-ccc"],
        license=["MIT", "line one\nline two"],
        messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": " Hello! "}],
    )
    body = text.split("\n\n", 1)[1]
    assert body == (
        "FROM /models/blobs/sha256-aaa\n"
        "ADAPTER /models/blobs/sha256-bbb\n"
        "FROM /models/blobs/sha256-ccc\n"
        "TEMPLATE {{ .Prompt }}\n"
        "SYSTEM Be nice.\n"
        "PARAMETER num_ctx 8192\n"
        "PARAMETER stop <|eot_id|>\n"
        "PARAMETER top_p 0.9\n"
        "PARAMETER use_mmap false\n"
        "LICENSE MIT\n"
        'LICENSE "line one\nline two"\n'
        "MESSAGE user Hi\n"
        'MESSAGE assistant " Hello! "\n'
    )


class StoredModel:
    """The attributes render_modelfile reads from a stored model."""

    class name:  # noqa: N801 - stands in for a ModelName
        @staticmethod
        def display() -> str:
            return "tiny:latest"

    model_path = Path("/m/blobs/sha256-1")
    adapter_paths: list[Path] = []
    projector_paths: list[Path] = []
    template = None
    system = None
    parameters = {"stop": ["a"]}
    licenses: list[str] = []
    messages = [{"role": "user", "content": "x"}]


def test_render_modelfile_from_a_stored_model():
    text = render_modelfile(StoredModel())
    assert text.endswith(
        "# FROM tiny:latest\n\nFROM /m/blobs/sha256-1\n"
        "PARAMETER stop a\nMESSAGE user x\n"
    )


# -- the CLI's create request -------------------------------------------------------


def fake_digest(seen: list[Path]):
    def digest_of(path: Path) -> str:
        seen.append(path)
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()

    return digest_of


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_create_request_from_name():
    mf = parse_modelfile(
        "FROM test\nPARAMETER temperature 0.5\nPARAMETER top_k 1\nSYSTEM You are a bot.\n"
        "LICENSE license1\nLICENSE license2\nMESSAGE user Hello there!\n"
        "MESSAGE assistant Hi! How are you?\n"
    )
    seen: list[Path] = []
    assert mf.create_request("/nonexistent", fake_digest(seen)) == {
        "from": "test",
        "license": ["license1", "license2"],
        "system": "You are a bot.",
        "parameters": {"temperature": 0.5, "top_k": 1},
        "messages": [{"role": "user", "content": "Hello there!"},
                     {"role": "assistant", "content": "Hi! How are you?"}],
    }
    assert seen == []


def test_create_request_omits_empty_fields():
    assert parse_modelfile('FROM test\nSYSTEM ""\n').create_request(".", fake_digest([])) == {"from": "test"}


def test_create_request_local_file_relative_to_modelfile(tmp_path):
    (tmp_path / "model.gguf").write_bytes(b"GGUF model")
    (tmp_path / "lora.gguf").write_bytes(b"GGUF lora")
    mf = parse_modelfile(ROUND_TRIP + "ADAPTER lora.gguf\nREQUIRES v0.14.0\n")
    assert mf.from_is_path(tmp_path) == tmp_path / "model.gguf"
    seen: list[Path] = []
    req = mf.create_request(tmp_path, fake_digest(seen))
    assert req["files"] == {"model.gguf": sha(b"GGUF model")}
    assert req["adapters"] == {"lora.gguf": sha(b"GGUF lora")}
    assert req["requires"] == "0.14.0" and "from" not in req
    assert req["parameters"] == {"temperature": 0.2, "stop": ["<|im_end|>", " User:"]}
    assert seen == [tmp_path / "model.gguf", tmp_path / "lora.gguf"]


def test_create_request_directory_of_ggufs(tmp_path):
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "b.gguf").write_bytes(b"b")
    (tmp_path / "weights" / "a.gguf").write_bytes(b"a")
    (tmp_path / "weights" / "README.md").write_text("x")
    req = parse_modelfile("FROM ./weights").create_request(tmp_path, fake_digest([]))
    assert req == {"files": {"a.gguf": sha(b"a"), "b.gguf": sha(b"b")}}
    (tmp_path / "weights" / "c.gguf").symlink_to(tmp_path / "outside.gguf")
    (tmp_path / "outside.gguf").write_bytes(b"c")
    with pytest.raises(ModelfileError) as info:
        parse_modelfile("FROM ./weights").create_request(tmp_path, fake_digest([]))
    assert info.value.message == "insecure path: ../outside.gguf"


def test_create_request_names_files_below_common_folder(tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    (tmp_path / "x" / "m.gguf").write_bytes(b"1")
    (tmp_path / "y" / "p.gguf").write_bytes(b"2")
    req = parse_modelfile("FROM x/m.gguf\nFROM y/p.gguf").create_request(tmp_path, fake_digest([]))
    assert req == {"files": {"x/m.gguf": sha(b"1"), "y/p.gguf": sha(b"2")}}


def test_create_request_draft(tmp_path):
    (tmp_path / "draft.gguf").write_bytes(b"d")
    req = parse_modelfile("FROM base\nDRAFT ./draft.gguf").create_request(tmp_path, fake_digest([]))
    assert req == {"from": "base", "draft_files": {"draft.gguf": sha(b"d")}}
    (tmp_path / "model.gguf").write_bytes(b"m")
    with pytest.raises(ModelfileError) as info:
        parse_modelfile("FROM ./model.gguf\nDRAFT ./model.gguf").create_request(tmp_path, fake_digest([]))
    assert info.value.message.startswith("DRAFT must not reference the same local path as FROM: ")


def test_create_request_errors(tmp_path):
    with pytest.raises(ModelfileError) as info:
        parse_modelfile("FROM base\nADAPTER ./missing.gguf").create_request(tmp_path, fake_digest([]))
    assert info.value.message == f"stat {tmp_path / 'missing.gguf'}: no such file or directory"
    with pytest.raises(ModelfileError) as info:
        parse_modelfile("FROM base\nREQUIRES latest").create_request(tmp_path, fake_digest([]))
    assert info.value.message == "requires must be a valid semver (e.g. 0.14.0)"
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelfileError) as info:
        parse_modelfile("FROM ./empty").create_request(tmp_path, fake_digest([]))
    assert info.value.message == "no Modelfile or safetensors files found"


@pytest.mark.parametrize("requires, sent", [("0.14.0", "0.14.0"), ("v1", "1"), ("1.2", "1.2"),
                                            ("0.14.0-rc1+build.5", "0.14.0-rc1+build.5")])
def test_requires_semver(requires, sent):
    req = parse_modelfile(f"FROM a\nREQUIRES {requires}").create_request(".", fake_digest([]))
    assert req["requires"] == sent


def test_expand_path(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert expand_path("~/m.gguf", "/base") == tmp_path / "m.gguf"
    assert expand_path("~", "/base") == tmp_path
    assert expand_path("m.gguf", "/base/dir") == Path("/base/dir/m.gguf")
    assert expand_path("../m.gguf", "/base/dir") == Path("/base/m.gguf")
    assert expand_path("/abs/./m.gguf", "/base") == Path("/abs/m.gguf")
    with pytest.raises(ModelfileError) as info:
        expand_path("~no_such_user_xyz/m.gguf", "/base")
    assert info.value.message.startswith("failed to find user 'no_such_user_xyz'")


def test_from_is_path_none_for_model_names(tmp_path, monkeypatch):
    assert parse_modelfile("FROM llama3.2:1b").from_is_path(tmp_path) is None
    monkeypatch.chdir(tmp_path)
    assert parse_modelfile("FROM hf.co/user/repo:Q4_K_M").from_is_path(".") is None
