"""Go's `text/template`, as much of it as Ollama's Modelfile TEMPLATEs use.

A small port in the parts Go's own packages have: `lexer` (Go's items, including the
`{{-`/`-}}` trim markers and `{{/* */}}` comments), `parser` (recursive descent into
a `nodes` tree mirroring `text/template/parse`, so that Ollama's tree walks port one
to one, see `templates.go`), `execute` (Go's semantics: truthiness, variable
scopes, short-circuit `and`/`or`, `break`/`continue`, `define`/`template`/`block`),
`funcs` (Go's builtins and Ollama's), `printing` (fmt's printing of values, Sprintf,
strconv's floats, encoding/json) and `values` (how Python values stand for Go
values, see there).

API: `parse(text) -> Template`; `Template.execute(data) -> str`;
`Template.vars()` / `.references(".Messages")` to ask what a template mentions;
`FUNCS`, `truth`, `go_json`, `sprint_value` for Go's builtins, truthiness, JSON and
printing. Errors (`TemplateError`, a 400 `BadRequest`) read like Go's:
`template: :1: unexpected EOF` when parsing, `template: :1:3: executing "" at
<.A.B>: ...` when executing.

Not supported: custom delimiters, other `missingkey` options, complex numbers, `%[n]`
argument indexes and `*` widths in printf, range over channels or iterator
functions, and Go's distinction between a nil pointer (prints `<nil>`) and a nil
interface (prints `<no value>`): a None result always prints `<no value>`.
"""

from __future__ import annotations

from .funcs import FUNCS
from .nodes import (
    ActionNode,
    BoolNode,
    BranchNode,
    BreakNode,
    ChainNode,
    CommandNode,
    ContinueNode,
    DotNode,
    FieldNode,
    IdentifierNode,
    IfNode,
    ListNode,
    NilNode,
    Node,
    NumberNode,
    PipeNode,
    RangeNode,
    StringNode,
    TemplateNode,
    TextNode,
    VariableNode,
    WithNode,
    children,
)
from .printing import format_float, go_json, sprint_value
from .template import Template, parse
from .values import OrderedMap, TemplateError, go_type, truth

__all__ = [
    "FUNCS",
    "ActionNode",
    "BoolNode",
    "BranchNode",
    "BreakNode",
    "ChainNode",
    "CommandNode",
    "ContinueNode",
    "DotNode",
    "FieldNode",
    "IdentifierNode",
    "IfNode",
    "ListNode",
    "NilNode",
    "Node",
    "NumberNode",
    "OrderedMap",
    "PipeNode",
    "RangeNode",
    "StringNode",
    "Template",
    "TemplateError",
    "TemplateNode",
    "TextNode",
    "VariableNode",
    "WithNode",
    "children",
    "format_float",
    "go_json",
    "go_type",
    "parse",
    "sprint_value",
    "truth",
]
