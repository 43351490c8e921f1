"""The Go text/template engine: syntax, Go semantics, builtins, and Go's error wording."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

import pytest

from jupyter_ollama.errors import BadRequest
from jupyter_ollama.gotemplate import (
    OrderedMap,
    TemplateError,
    format_float,
    go_json,
    parse,
    sprint_value,
    truth,
)


def render(text: str, data: Any = None) -> str:
    return parse(text).execute(data)


def exec_error(text: str, data: Any = None) -> str:
    with pytest.raises(TemplateError) as info:
        render(text, data)
    return info.value.message


@dataclass
class Function:
    Name: str
    Arguments: dict[str, Any] = field(default_factory=dict)


@dataclass
class Call:
    Function: Function


@dataclass
class Msg:
    Role: str
    Content: str
    ToolCalls: list[Call] = field(default_factory=list)

    def Upper(self, suffix: str = "") -> str:
        return self.Content.upper() + suffix


# ---------------------------------------------------------------- text, trim markers, comments


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text", "plain text"),
        ("a  {{- .X }}  b", "a1  b"),
        ("a  {{ .X -}}  b", "a  1b"),
        ("a \n\t {{- .X -}} \n\t b", "a1b"),
        ("{{ .X }}\n{{- .X }}", "11"),
        ("{{-3}}", "-3"),  # `{{-` without a space is a negative number, not a trim marker
        ("a{{/* a comment */}}b", "ab"),
        ("a \n{{- /* trimmed comment */ -}}\n b", "ab"),
        ("{{/* multi\nline */}}x", "x"),
        ("{{\n.X\n}}", "1"),  # newlines inside an action are spaces
    ],
)
def test_text_trim_and_comments(text: str, expected: str) -> None:
    assert render(text, {"X": 1}) == expected


# ---------------------------------------------------------------- fields and variables


def test_fields_on_maps_and_objects() -> None:
    data = {"Messages": [Msg("user", "hi", [Call(Function("f", {"b": 1, "a": "x"}))])], "System": "sys"}
    text = "{{ .System }}:{{ range .Messages }}{{ .Role }}={{ .Content }};{{ range .ToolCalls }}{{ .Function.Name }}{{ end }}{{ end }}"
    assert render(text, data) == "sys:user=hi;f"
    assert render("{{ (index .Messages 0).Role }}", data) == "user"
    assert render('{{ with index .Messages 0 }}{{ .Upper }} {{ .Upper "!" }}{{ end }}', data) == "HI HI!"


def test_missing_map_key_is_nil_like_missingkey_zero() -> None:
    assert render("[{{ .Missing }}]", {}) == "[<no value>]"
    assert render("{{ if .Missing }}yes{{ else }}no{{ end }}", {}) == "no"
    assert render("{{ print .Missing }}", {}) == "<nil>"


def test_field_errors() -> None:
    assert exec_error("{{ .Missing.Name }}", {}) == (
        'template: :1:3: executing "" at <.Missing.Name>: nil pointer evaluating interface {}.Name'
    )
    assert exec_error("{{ .Nope }}", Msg("user", "x")) == (
        'template: :1:3: executing "" at <.Nope>: can\'t evaluate field Nope in type Msg'
    )
    assert "can't evaluate field Role in type string" in exec_error("{{ .Role }}", "text")
    assert "Role is not a method but has arguments" in exec_error("{{ .Role 1 }}", {"Role": "x"})


def test_variables_and_scopes() -> None:
    assert render('{{ $x := "a" }}{{ $x }}{{ $x = "b" }}{{ $x }}') == "ab"
    assert render("{{ $.A }}{{ with .B }}{{ $.A }}{{ . }}{{ end }}", {"A": 1, "B": 2}) == "112"
    # an assignment inside a range changes the outer variable (Go ≥ 1.11)
    assert render("{{ $last := 0 }}{{ range .L }}{{ $last = . }}{{ end }}{{ $last }}", {"L": [1, 2, 3]}) == "3"
    assert render('{{ $v := .V }}{{ $v.Name }}', {"V": {"Name": "n"}}) == "n"
    with pytest.raises(TemplateError, match=r'^template: :1: undefined variable "\$x"$'):
        parse("{{ $x }}")
    with pytest.raises(TemplateError, match="undefined variable"):
        parse("{{ if true }}{{ $y := 1 }}{{ end }}{{ $y }}")  # scoped to the if


# ---------------------------------------------------------------- literals and printing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{{ "a\\tb\\n\\"c\\" \\u00e9 \\x41" }}', 'a\tb\n"c" é A'),
        ("{{ `raw \\n` }}", "raw \\n"),
        ("{{ 'a' }}", "97"),
        ("{{ 42 }} {{ -7 }} {{ 0x1F }} {{ 0o17 }} {{ 017 }} {{ 0b101 }} {{ 1_000 }}", "42 -7 31 15 15 5 1000"),
        ("{{ 1.5 }} {{ 1e6 }} {{ 123456.0 }} {{ 1234567.0 }} {{ 0.0001 }} {{ 0.00001 }} {{ 2.0 }}", "1.5 1e+06 123456 1.234567e+06 0.0001 1e-05 2"),
        ("{{ true }} {{ false }}", "true false"),
        ("{{ print nil }}", "<nil>"),
    ],
)
def test_literals(text: str, expected: str) -> None:
    assert render(text) == expected


def test_printing_values_like_fmt() -> None:
    data = {"L": [1, "a", None, 2.5, True], "M": {"b": 1, "a": [1, 2]}, "S": Function("f", {"k": 1})}
    assert render("{{ .L }}|{{ .M }}|{{ .S }}", data) == "[1 a <nil> 2.5 true]|map[a:[1 2] b:1]|{f map[k:1]}"
    assert sprint_value(OrderedMap(b=1, a=2)) == "map[b:1 a:2]"

    class Stringer:
        def __str__(self) -> str:
            return "custom"

    assert render("{{ . }} {{ print . }}", Stringer()) == "custom custom"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0, "0"), (-0.0, "-0"), (100000.0, "100000"), (1e21, "1e+21"), (0.1 + 0.2, "0.30000000000000004"),
     (float("inf"), "+Inf"), (float("nan"), "NaN"), (5e-324, "5e-324")],
)
def test_float_formatting(value: float, expected: str) -> None:
    assert format_float(value) == expected


# ---------------------------------------------------------------- control flow


def test_if_else_chain() -> None:
    text = '{{ if eq .R "a" }}A{{ else if eq .R "b" }}B{{ else }}other{{ end }}'
    assert [render(text, {"R": r}) for r in "abc"] == ["A", "B", "other"]


def test_with_and_else_with() -> None:
    text = "{{ with .A }}a={{ . }}{{ else with .B }}b={{ . }}{{ else }}none{{ end }}"
    assert render(text, {"A": "x", "B": "y"}) == "a=x"
    assert render(text, {"A": "", "B": "y"}) == "b=y"
    assert render(text, {"A": 0, "B": []}) == "none"


def test_range() -> None:
    assert render("{{ range . }}[{{ . }}]{{ end }}", ["a", "b"]) == "[a][b]"
    assert render("{{ range $i, $v := . }}{{ $i }}={{ $v }} {{ end }}", ["a", "b"]) == "0=a 1=b "
    assert render("{{ range $v := . }}{{ $v }}{{ end }}", ["a", "b"]) == "ab"
    assert render("{{ range $k, $v := . }}{{ $k }}={{ $v }} {{ end }}", {"b": 2, "a": 1}) == "a=1 b=2 "
    assert render("{{ range $k, $v := . }}{{ $k }}{{ end }}", OrderedMap(b=2, a=1)) == "ba"
    assert render("{{ range . }}x{{ else }}empty{{ end }}", []) == "empty"
    assert render("{{ range .Nothing }}x{{ else }}empty{{ end }}", {}) == "empty"
    assert render("{{ range 3 }}{{ . }}{{ end }}") == "012"
    assert "range can't iterate over text" in exec_error("{{ range . }}{{ end }}", "text")


def test_break_and_continue() -> None:
    text = "{{ range . }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }}"
    assert render(text, [1, 2, 3, 4, 5]) == "13"
    with pytest.raises(TemplateError, match=r"\{\{break\}\} outside \{\{range\}\}"):
        parse("{{ break }}")


def test_define_template_block() -> None:
    text = '{{ define "item" }}<{{ .Role }}:{{ $.Role }}>{{ end }}{{ range . }}{{ template "item" . }}{{ end }}'
    assert render(text, [{"Role": "a"}, {"Role": "b"}]) == "<a:a><b:b>"
    assert render('{{ block "b" .X }}[{{ . }}]{{ end }}|{{ template "b" 2 }}', {"X": 1}) == "[1]|[2]"
    assert render('{{ define "t" }}{{ . }}{{ end }}{{ template "t" }}') == "<no value>"
    assert 'template "nope" not defined' in exec_error('{{ template "nope" . }}')
    assert "exceeded maximum template depth" in exec_error('{{ define "r" }}{{ template "r" . }}{{ end }}{{ template "r" . }}')


def test_pipelines() -> None:
    assert render('{{ .A | printf "%s-%s" "x" }}', {"A": "a"}) == "x-a"
    assert render('{{ "a" | eq "a" }} {{ "c" | eq "a" "b" }}') == "true false"  # the piped value comes last
    assert render("{{ .L | len | printf \"%d items\" }}", {"L": [1, 2]}) == "2 items"
    assert render('{{ (printf "%s" "x") }}{{ $n := len .L }}{{ $n }}', {"L": [1]}) == "x1"
    assert render("{{ eq (len (slice .L 1)) 1 }}", {"L": [1, 2]}) == "true"


# ---------------------------------------------------------------- truthiness


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False), (False, False), (True, True), (0, False), (1, True), (-1, True), (0.0, False), (0.5, True),
        ("", False), (" ", True), ([], False), ([0], True), ((), False), ({}, False), ({"a": 0}, True),
        (Function("x"), True), (OrderedMap(), False),
    ],
)
def test_go_truthiness(value: Any, expected: bool) -> None:
    assert truth(value) is expected
    assert render("{{ if . }}T{{ else }}F{{ end }}", value) == ("T" if expected else "F")
    assert render("{{ not . }}", value) == ("false" if expected else "true")


# ---------------------------------------------------------------- builtin functions


def test_and_or_short_circuit_and_return_the_deciding_value() -> None:
    assert render('{{ or "" 0 "x" "y" }}|{{ and 1 "" 2 }}|{{ and 1 2 }}|{{ or 0 "" }}') == "x||2|"
    # the failing `index` is never evaluated
    assert render("{{ and false (index .L 99) }}|{{ or true (index .L 99) }}", {"L": []}) == "false|true"
    assert render('{{ "x" | or "" }}') == "x"


def test_comparisons() -> None:
    assert render('{{ eq 1 1 }} {{ eq "a" "b" "a" }} {{ ne 1 2 }} {{ lt 1 2 }} {{ le 2 2 }} {{ gt "b" "a" }} {{ ge 1 2 }}') == (
        "true true true true true true false"
    )
    assert render("{{ eq .Missing nil }} {{ eq .Missing 1 }}", {}) == "true false"
    assert "error calling eq: incompatible types for comparison" in exec_error('{{ eq 1 "1" }}')
    assert "incompatible types for comparison" in exec_error("{{ lt 1 1.5 }}")
    assert "invalid type for comparison" in exec_error("{{ lt true false }}")


def test_len_index_slice() -> None:
    data = {"L": [1, 2, 3], "M": {"k": "v"}, "S": "héllo"}
    assert render("{{ len .L }} {{ len .M }} {{ len .S }}", data) == "3 1 6"  # len counts bytes, as Go
    assert render('{{ index .L 1 }} {{ index .M "k" }} {{ index .M "missing" }}', data) == "2 v <no value>"
    assert render("{{ slice .L 1 }} {{ slice .L 0 2 }} {{ slice .L }} {{ slice \"abc\" 1 2 }}", data) == "[2 3] [1 2] [1 2 3] b"
    assert exec_error("{{ index .L 5 }}", data) == (
        'template: :1:3: executing "" at <index .L 5>: error calling index: index out of range: 5'
    )
    assert "error calling slice: invalid slice index: 2 > 1" in exec_error("{{ slice .L 2 1 }}", data)
    assert "error calling len: len of type int" in exec_error("{{ len 3 }}")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{{ printf "%s|%d|%v|%q|%t" "s" 42 1.5 "q\\"" true }}', 's|42|1.5|"q\\""|true'),
        ('{{ printf "%5.2f|%-4s|%04d|%x|%X|%c|%e|%g" 3.14159 "ab" 7 255 255 65 1234.5 0.5 }}', " 3.14|ab  |0007|ff|FF|A|1.234500e+03|0.5"),
        ('{{ printf "%d %s" "x" 5 }}', "%!d(string=x) %!s(int=5)"),
        ('{{ printf "%s %s" "a" }}', "a %!s(MISSING)"),
        ('{{ printf "%s" "a" "b" }}', "a%!(EXTRA string=b)"),
        ('{{ printf "100%%" }}', "100%"),
        ('{{ printf "%v" .L }}', "[1 2]"),
        ('{{ print "a" "b" 1 2 "c" }}', "ab1 2c"),
        ('{{ println "a" 1 }}', "a 1\n"),
    ],
)
def test_print_functions(text: str, expected: str) -> None:
    assert render(text, {"L": [1, 2]}) == expected


def test_escaping_functions() -> None:
    assert render("{{ html . }}", "<a href='x'>\"&") == "&lt;a href=&#39;x&#39;&gt;&#34;&amp;"
    assert render("{{ js . }}", "a'b\"c<d>&=\\\n") == "a\\'b\\\"c\\u003Cd\\u003E\\u0026\\u003D\\\\\\u000A"
    assert render("{{ urlquery . }}", "a b&c=d/é") == "a+b%26c%3Dd%2F%C3%A9"
    assert render("{{ html 1 2 }}") == "1 2"


def test_call() -> None:
    assert render("{{ call .F 2 3 }}", {"F": lambda a, b: a * b}) == "6"
    assert "error calling call: call of nil" in exec_error("{{ call .F }}", {})


def test_json_like_go_marshal() -> None:
    value = {"b": [1, 2.0, 1e21, 1e-7, 0.5], "a": "<tag> & \u2028 \"q\" \n", "c": None, "d": True, "e": {}}
    expected = '{"a":"\\u003ctag\\u003e \\u0026 \\u2028 \\"q\\" \\n","b":[1,2,1e+21,1e-7,0.5],"c":null,"d":true,"e":{}}'
    assert go_json(value) == expected
    assert render("{{ json . }}", value) == expected
    assert go_json(OrderedMap(z=1, a=2)) == '{"z":1,"a":2}'
    assert go_json(Function("f", {"x": 1})) == '{"Name":"f","Arguments":{"x":1}}'  # struct fields by name
    assert render("{{ json . }}", float("nan")) == ""  # json.Marshal's error is dropped, as in Ollama

    class Marshaler:
        def go_json(self) -> str:
            return '"custom"'

    assert go_json([Marshaler()]) == '["custom"]'


def test_dates() -> None:
    today = datetime.date.today()
    assert render("{{ currentDate }}") == today.isoformat()
    assert render('{{ currentDate "ignored" }}') == today.isoformat()
    assert render("{{ yesterdayDate }}") == (today - datetime.timedelta(days=1)).isoformat()


def test_to_typescript_type() -> None:
    class Prop:
        def to_typescript_type(self) -> str:
            return "string | null"

    assert render("{{ toTypeScriptType . }}", Prop()) == "string | null"
    assert render("{{ toTypeScriptType . }}", {"type": "string"}) == "any"


def test_custom_functions() -> None:
    assert parse("{{ shout . }}", funcs={"shout": lambda s: s.upper() + "!"}).execute("hi") == "HI!"

    def boom() -> str:
        raise ValueError("bad")

    tmpl = parse("{{ boom }}", funcs={"boom": boom})
    with pytest.raises(TemplateError, match="error calling boom: bad"):
        tmpl.execute()


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{ .Prompt ", "template: :1: unclosed action"),
        ("line1\n{{ if .X }}", "template: :2: unexpected EOF"),
        ("{{ range .X }}{{ else }}", "template: :1: unexpected EOF"),
        ("{{ foo }}", 'template: :1: function "foo" not defined'),
        ("{{ end }}", "template: :1: unexpected {{end}}"),
        ("{{ else }}", "template: :1: unexpected {{else}}"),
        ("{{ }}", "template: :1: missing value for command"),
        ("{{ if }}{{ end }}", "template: :1: missing value for if"),
        ("{{ .A | 3 }}", "template: :1: non executable command in pipeline stage 2"),
        ("{{/* no end", "template: :1: unclosed comment"),
        ("{{/* c */ x }}", "template: :1: comment ends before closing delimiter"),
        ("{{ (1 }}", "template: :1: unclosed left paren"),
        ("{{ 1) }}", "template: :1: unexpected right paren"),
        ('{{ "abc }}', "template: :1: unterminated quoted string"),
        ("{{ `abc }}", "template: :1: unterminated raw quoted string"),
        ("{{ 3x }}", 'template: :1: bad number syntax: "3x"'),
        ("{{ .A :x }}", "template: :1: expected :="),
        ("{{ $a, $b := 1 }}", "template: :1: too many declarations in command"),
        ("{{ define \"a\" }}x{{ end }}{{ define \"a\" }}y{{ end }}", 'template: :1: template: multiple definition of template "a"'),
        ("{{ range .L }}{{ else if .X }}{{ end }}", "template: :1: unexpected <if> in input"),
        ("{{ template . }}", 'template: :1: unexpected "." in template clause'),
    ],
)
def test_parse_errors(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        parse(text)
    assert info.value.message == message


def test_template_error_is_a_bad_request() -> None:
    with pytest.raises(BadRequest) as info:
        parse("{{ .Prompt ")
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("text", "data", "message"),
    [
        ("{{ nil }}", None, 'template: :1:3: executing "" at <nil>: nil is not a command'),
        ("{{ 3 4 }}", None, 'template: :1:3: executing "" at <3>: can\'t give argument to non-function 3'),
        ("ab\n  {{ .A.B }}", {"A": 1}, 'template: :2:5: executing "" at <.A.B>: can\'t evaluate field B in type int'),
        ('{{ define "t" }}{{ .X.Y }}{{ end }}{{ template "t" . }}', {}, 'executing "t" at <.X.Y>: nil pointer evaluating'),
    ],
)
def test_execution_errors(text: str, data: Any, message: str) -> None:
    assert message in exec_error(text, data)


# ---------------------------------------------------------------- inspection


def test_identifiers_vars_and_references() -> None:
    text = (
        '{{ define "t" }}{{ .Suffix }}{{ end }}{{ if .System }}{{ .System }}{{ end }}'
        "{{ range $i, $m := .Messages }}{{ $m.Role }}{{ .Content }}{{ end }}{{ json $.Tools }}"
    )
    tmpl = parse(text)
    assert tmpl.vars() == ["$", "$m", "content", "messages", "role", "suffix", "system", "tools"]
    assert tmpl.references(".Messages") and tmpl.references("Tools") and tmpl.references("suffix")
    assert not tmpl.references(".Response") and not tmpl.references("Prompt")
