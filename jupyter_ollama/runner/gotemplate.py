"""Go's `text/template`, as much of it as Ollama's Modelfile TEMPLATEs use.

A small port in three parts named after Go's own: a lexer (Go's items, including
the `{{-`/`-}}` trim markers and `{{/* */}}` comments), a recursive-descent parser
that builds a node tree mirroring `text/template/parse` (so Ollama's tree walks port
one to one, see `prompt_go`), and an evaluator with Go's semantics: truthiness,
variable scopes, short-circuit `and`/`or`, `break`/`continue`, `define`/`template`/
`block`, and fmt's printing of values.

How Python values stand for Go values:

- a `Mapping` is a Go `map[string]any`. A missing key reads as nil, as in Ollama,
  which parses with `missingkey=zero` and whose zero `any` is nil: it prints
  `<no value>` and is false, and a field of it (`.Missing.Name`) is an error. Keys
  range and print in sorted order, except in an `OrderedMap`.
- any other object (a dataclass, say) is a Go struct: `.Name` reads the attribute;
  a missing one is an execution error, a method is called with the arguments.
- list/tuple, str, int, float, bool, None are slice, string, int, float64, bool, nil.
- a class that defines `__str__` acts as Go's `fmt.Stringer`; one with a `go_json()`
  method returning JSON text acts as `json.Marshaler`.

Errors read like Go's: `template: :1: unexpected EOF` when parsing,
`template: :1:3: executing "" at <.A.B>: ...` when executing.

Not supported: custom delimiters, complex numbers, method values with multiple
results, `%[n]` argument indexes and `*` widths in printf, range over channels or
iterator functions, and Go's distinction between a nil pointer (prints `<nil>`) and
a nil interface (prints `<no value>`): a None result always prints `<no value>`.
"""

from __future__ import annotations

import dataclasses
import datetime
import inspect
import math
import re
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import BadRequest


class TemplateError(BadRequest):
    """A template that does not parse or fails while executing; worded like Go's."""


class OrderedMap(dict):  # type: ignore[type-arg]
    """A map whose JSON, printing and `range` keep insertion order (Ollama's orderedmap)."""


# ---------------------------------------------------------------- nodes (Go's parse package)


@dataclass
class Node:
    pos: int  # offset in the source, for error positions


@dataclass
class TextNode(Node):
    text: str


@dataclass
class ListNode(Node):
    nodes: list[Node]


@dataclass
class DotNode(Node):
    def __str__(self) -> str:
        return "."


@dataclass
class NilNode(Node):
    def __str__(self) -> str:
        return "nil"


@dataclass
class BoolNode(Node):
    value: bool

    def __str__(self) -> str:
        return "true" if self.value else "false"


@dataclass
class NumberNode(Node):
    value: int | float
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass
class StringNode(Node):
    value: str
    text: str  # as quoted in the source

    def __str__(self) -> str:
        return self.text


@dataclass
class FieldNode(Node):
    idents: tuple[str, ...]  # .A.B -> ("A", "B")

    def __str__(self) -> str:
        return "".join("." + i for i in self.idents)


@dataclass
class VariableNode(Node):
    idents: tuple[str, ...]  # $x.A -> ("$x", "A"); $.A -> ("$", "A")

    def __str__(self) -> str:
        return ".".join(self.idents)


@dataclass
class IdentifierNode(Node):
    name: str  # a function name

    def __str__(self) -> str:
        return self.name


@dataclass
class ChainNode(Node):
    node: Node  # (pipeline).A.B
    fields: tuple[str, ...]

    def __str__(self) -> str:
        inner = f"({self.node})" if isinstance(self.node, PipeNode) else str(self.node)
        return inner + "".join("." + f for f in self.fields)


@dataclass
class CommandNode(Node):
    args: list[Node]

    def __str__(self) -> str:
        return " ".join(f"({a})" if isinstance(a, PipeNode) else str(a) for a in self.args)


@dataclass
class PipeNode(Node):
    decl: list[str]  # declared or assigned variables
    is_assign: bool  # `=` rather than `:=`
    cmds: list[CommandNode]

    def __str__(self) -> str:
        head = ", ".join(self.decl) + (" = " if self.is_assign else " := ") if self.decl else ""
        return head + " | ".join(str(c) for c in self.cmds)


@dataclass
class ActionNode(Node):
    pipe: PipeNode


@dataclass
class BranchNode(Node):
    pipe: PipeNode
    list: ListNode
    else_list: ListNode | None


class IfNode(BranchNode):
    pass


class RangeNode(BranchNode):
    pass


class WithNode(BranchNode):
    pass


@dataclass
class TemplateNode(Node):
    name: str
    pipe: PipeNode | None

    def __str__(self) -> str:
        return f"{{{{template {_go_quote(self.name)}{' ' + str(self.pipe) if self.pipe else ''}}}}}"


@dataclass
class BreakNode(Node):
    pass


@dataclass
class ContinueNode(Node):
    pass


def children(node: Node) -> list[Node]:
    """A node's direct children, in the order Go's tree walks visit them."""
    if isinstance(node, ListNode):
        return list(node.nodes)
    if isinstance(node, BranchNode):
        return [n for n in (node.pipe, node.list, node.else_list) if n is not None]
    if isinstance(node, (ActionNode, TemplateNode)):
        return [node.pipe] if node.pipe is not None else []
    if isinstance(node, PipeNode):
        return list(node.cmds)
    if isinstance(node, CommandNode):
        return list(node.args)
    return []


# ---------------------------------------------------------------- lexer

_SPACE = " \t\r\n"
_KEYWORDS = {"block", "break", "continue", "define", "else", "end", "if", "range", "template", "with"}


@dataclass
class _Item:
    kind: str  # text {{ }} space ( ) | := = char string raw number charconst bool nil dot field variable ident keyword eof
    val: str
    pos: int

    def __str__(self) -> str:  # as Go's parse errors quote items
        if self.kind == "eof":
            return "EOF"
        if self.kind == "keyword":
            return f"<{self.val}>"
        return _go_quote(self.val[:10]) + "..." if len(self.val) > 10 else _go_quote(self.val)


def _fail(src: str, name: str, pos: int, message: str) -> TemplateError:
    return TemplateError(f"template: {name}:{src.count(chr(10), 0, pos) + 1}: {message}")


def _alnum(c: str) -> bool:
    return c == "_" or c.isalnum()


def _lex(src: str, name: str) -> list[_Item]:
    items: list[_Item] = []
    pos, n = 0, len(src)
    while True:
        start = src.find("{{", pos)
        end = n if start < 0 else start
        trim = start >= 0 and src[start + 2 : start + 3] == "-" and src[start + 3 : start + 4] in tuple(_SPACE)
        text = src[pos:end].rstrip(_SPACE) if trim else src[pos:end]
        if text:  # Go drops text a trim marker has emptied
            items.append(_Item("text", text, pos))
        if start < 0:
            items.append(_Item("eof", "", n))
            return items
        pos = _lex_action(src, name, start, trim, items)


def _right_delim(src: str, i: int) -> tuple[bool, bool]:
    """Whether `}}` (or ` -}}`, which trims the following text) starts at i."""
    if src[i : i + 1] in tuple(_SPACE) and src.startswith("-}}", i + 1):
        return True, True
    return src.startswith("}}", i), False


def _lex_action(src: str, name: str, start: int, trim: bool, items: list[_Item]) -> int:
    n = len(src)
    i = start + 2 + (2 if trim else 0)
    if src.startswith("/*", i):  # a comment must open right after the delimiter
        close = src.find("*/", i + 2)
        if close < 0:
            raise _fail(src, name, start, "unclosed comment")
        delim, rtrim = _right_delim(src, close + 2)
        if not delim:
            raise _fail(src, name, close, "comment ends before closing delimiter")
        return _after_delim(src, close + 2 + (2 if rtrim else 0), rtrim)
    items.append(_Item("{{", "{{", start))
    depth = 0
    while True:
        delim, rtrim = _right_delim(src, i)
        if delim:
            if depth:
                raise _fail(src, name, i, "unclosed left paren")
            i += 2 if rtrim else 0
            items.append(_Item("}}", "}}", i))
            return _after_delim(src, i, rtrim)
        if i >= n:
            raise _fail(src, name, i, "unclosed action")
        c, j = src[i], i + 1
        if c in _SPACE:
            while j < n and src[j] in _SPACE:
                j += 1
            if src.startswith("-}}", j):  # the last space belongs to the trim marker
                j -= 1
            kind = "space"
        elif c in "=|(),":
            kind = {"=": "=", "|": "|", "(": "(", ")": ")", ",": "char"}[c]
            depth += {"(": 1, ")": -1}.get(c, 0)
            if depth < 0:
                raise _fail(src, name, i, "unexpected right paren")
        elif c == ":":
            if not src.startswith(":=", i):
                raise _fail(src, name, i, "expected :=")
            kind, j = ":=", i + 2
        elif c in "\"'":
            while j < n and src[j] != c and src[j] != "\n":
                j += 2 if src[j] == "\\" else 1
            if j >= n or src[j] != c:
                what = "quoted string" if c == '"' else "character constant"
                raise _fail(src, name, i, f"unterminated {what}")
            kind, j = ("string" if c == '"' else "charconst"), j + 1
        elif c == "`":
            j = src.find("`", j)
            if j < 0:
                raise _fail(src, name, i, "unterminated raw quoted string")
            kind, j = "raw", j + 1
        elif c in "$." and not (c == "." and src[j : j + 1].isdigit()):
            while j < n and _alnum(src[j]):
                j += 1
            kind = "variable" if c == "$" else ("field" if j > i + 1 else "dot")
            _check_terminator(src, name, j)
        elif c in "+-." or c.isdigit():
            j = _scan_number(src, i)
            if j < n and _alnum(src[j]):
                raise _fail(src, name, i, f"bad number syntax: {_go_quote(src[i : j + 1])}")
            kind = "number"
        elif _alnum(c):
            while j < n and _alnum(src[j]):
                j += 1
            word = src[i:j]
            kind = "keyword" if word in _KEYWORDS else "bool" if word in ("true", "false") else "nil" if word == "nil" else "ident"
            _check_terminator(src, name, j)
        elif c.isascii() and c.isprintable():
            kind = "char"
        else:
            raise _fail(src, name, i, f"unrecognized character in action: U+{ord(c):04X}")
        if j > i:
            items.append(_Item(kind, src[i:j], i))
        i = j


def _after_delim(src: str, i: int, rtrim: bool) -> int:
    i += 2
    while rtrim and i < len(src) and src[i] in _SPACE:
        i += 1
    return i


def _check_terminator(src: str, name: str, j: int) -> None:
    if j < len(src) and not (src[j] in _SPACE or src[j] in ".,|:)(" or src.startswith("}}", j)):
        raise _fail(src, name, j, f"bad character U+{ord(src[j]):04X} {_go_quote(src[j])}")


_NUMBER = re.compile(
    r"[+-]?(0[xX][0-9a-fA-F_]*(\.[0-9a-fA-F_]*)?([pP][+-]?[0-9_]+)?|0[oO][0-7_]*|0[bB][01_]*"
    r"|[0-9_]*(\.[0-9_]*)?([eE][+-]?[0-9_]+)?)i?"
)


def _scan_number(src: str, i: int) -> int:
    m = _NUMBER.match(src, i)
    return m.end() if m and m.end() > i else i + 1


def _parse_number(text: str) -> int | float:
    t = text.replace("_", "")
    body = t.lstrip("+-")
    if body.endswith("i"):
        raise ValueError("complex numbers are not supported")
    hexa = body[:2].lower() == "0x"
    if hexa and ("." in body or "p" in body.lower()):
        return float.fromhex(t)
    if not hexa and any(ch in body for ch in ".eE"):
        return float(t)
    if len(body) > 1 and body[0] == "0" and body[1].isdigit():
        return int(t[: len(t) - len(body)] + "0o" + body[1:], 0)
    return int(t, 0)


_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"'}


def _unquote(text: str) -> str:
    """Go's strconv.Unquote for "..." , `...` and '.' literals."""
    quote, body = text[0], text[1:-1]
    if quote == "`":
        return body.replace("\r", "")
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        e = body[i + 1 : i + 2]
        if e in _ESCAPES and (e not in "'\"" or e == quote):
            out.append(_ESCAPES[e])
            i += 2
        elif e in ("x", "u", "U") or (e and e in "01234567"):
            size, base, skip = {"x": (2, 16, 2), "u": (4, 16, 2), "U": (8, 16, 2)}.get(e, (3, 8, 1))
            digits = body[i + skip : i + skip + size]
            if len(digits) != size:
                raise ValueError("invalid syntax")
            out.append(chr(int(digits, base)))
            i += skip + size
        else:
            raise ValueError("invalid syntax")
    return "".join(out)


# ---------------------------------------------------------------- parser


@dataclass
class _End(Node):
    def __str__(self) -> str:
        return "{{end}}"


@dataclass
class _Else(Node):
    def __str__(self) -> str:
        return "{{else}}"


_OPERAND = {"bool", "charconst", "dot", "field", "ident", "number", "nil", "raw", "string", "variable", "("}


class _Parser:
    def __init__(self, src: str, name: str, funcs: Mapping[str, Callable[..., Any]]) -> None:
        self.src, self.name, self.funcs = src, name, funcs
        self.items = _lex(src, name)
        self.i = 0
        self.vars = ["$"]  # variables in scope, for "undefined variable"
        self.range_depth = 0
        self.defs: dict[str, ListNode] = {}

    # item stream
    def next(self) -> _Item:
        item = self.items[self.i]
        self.i += 1
        return item

    def peek(self) -> _Item:
        return self.items[self.i]

    def peek_non_space(self) -> _Item:
        while self.items[self.i].kind == "space":
            self.i += 1
        return self.items[self.i]

    def next_non_space(self) -> _Item:
        self.peek_non_space()
        return self.next()

    def error(self, message: str, pos: int | None = None) -> TemplateError:
        return _fail(self.src, self.name, self.items[max(self.i - 1, 0)].pos if pos is None else pos, message)

    def unexpected(self, item: _Item, context: str) -> TemplateError:
        return self.error(f"unexpected {item} in {context}", item.pos)

    def expect(self, kind: str, context: str) -> _Item:
        item = self.next_non_space()
        if item.kind != kind:
            raise self.unexpected(item, context)
        return item

    # structure
    def parse(self) -> ListNode:
        root = ListNode(0, [])
        while self.peek().kind != "eof":
            if self.peek().kind == "{{":
                mark = self.i
                self.next()
                if self.peek_non_space().kind == "keyword" and self.peek_non_space().val == "define":
                    self.next_non_space()
                    self.definition("define clause", self.template_name("define clause"))
                    continue
                self.i = mark
            node = self.text_or_action()
            if isinstance(node, (_End, _Else)):
                raise self.error(f"unexpected {node}")
            root.nodes.append(node)
        return root

    def template_name(self, context: str) -> str:
        item = self.next_non_space()
        if item.kind not in ("string", "raw"):
            raise self.unexpected(item, context)
        return self.unquote(item)

    def definition(self, context: str, name: str) -> None:
        if context == "define clause":
            self.expect("}}", context)
        outer, self.vars = self.vars, ["$"]
        body, end = self.item_list()
        if not isinstance(end, _End):
            raise self.error(f"unexpected {end} in {context}")
        self.vars = outer
        if name in self.defs and _nonempty(self.defs[name]) and _nonempty(body):
            raise self.error(f"template: multiple definition of template {_go_quote(name)}")
        if name not in self.defs or _nonempty(body):
            self.defs[name] = body

    def item_list(self) -> tuple[ListNode, Node]:
        nodes = ListNode(self.peek_non_space().pos, [])
        while self.peek_non_space().kind != "eof":
            node = self.text_or_action()
            if isinstance(node, (_End, _Else)):
                return nodes, node
            nodes.nodes.append(node)
        raise self.error("unexpected EOF", self.peek().pos)

    def text_or_action(self) -> Node:
        item = self.next_non_space()
        if item.kind == "text":
            return TextNode(item.pos, item.val)
        if item.kind == "{{":
            return self.action()
        raise self.unexpected(item, "input")

    def action(self) -> Node:
        item = self.next_non_space()
        if item.kind == "keyword" and item.val != "define":
            keyword = item.val
            if keyword in ("break", "continue"):
                if self.next_non_space().kind != "}}":
                    raise self.unexpected(self.items[self.i - 1], f"{{{{{keyword}}}}}")
                if not self.range_depth:
                    raise self.error(f"{{{{{keyword}}}}} outside {{{{range}}}}")
                return (BreakNode if keyword == "break" else ContinueNode)(item.pos)
            if keyword == "else":
                peek = self.peek_non_space()
                if peek.kind == "keyword" and peek.val in ("if", "with"):
                    return _Else(peek.pos)  # `else if` is `else` + a nested `if`
                return _Else(self.expect("}}", "else").pos)
            if keyword == "end":
                return _End(self.expect("}}", "end").pos)
            if keyword in ("if", "range", "with"):
                return self.control(keyword, item.pos)
            if keyword == "template":
                name = self.template_name("template clause")
                if self.next_non_space().kind == "}}":
                    return TemplateNode(item.pos, name, None)
                self.i -= 1
                return TemplateNode(item.pos, name, self.pipeline("template clause", "}}"))
            # block: define the template and call it at once
            name = self.template_name("block clause")
            pipe = self.pipeline("block clause", "}}")
            self.definition("block clause", name)
            return TemplateNode(item.pos, name, pipe)
        self.i -= 1
        return ActionNode(item.pos, self.pipeline("command", "}}"))

    def control(self, context: str, pos: int) -> BranchNode:
        scope = len(self.vars)
        pipe = self.pipeline(context, "}}")
        self.range_depth += context == "range"
        body, end = self.item_list()
        self.range_depth -= context == "range"
        else_list = None
        if isinstance(end, _Else):
            peek = self.peek()
            if context in ("if", "with") and peek.kind == "keyword" and peek.val == context:
                self.next()
                else_list = ListNode(end.pos, [self.control(context, peek.pos)])
            else:
                else_list, end = self.item_list()
                if not isinstance(end, _End):
                    raise self.error(f"expected end; found {end}")
        del self.vars[scope:]
        kind = {"if": IfNode, "range": RangeNode, "with": WithNode}[context]
        return kind(pos, pipe, body, else_list)

    def pipeline(self, context: str, end: str) -> PipeNode:
        pipe = PipeNode(self.peek_non_space().pos, [], False, [])
        while (var := self.peek_non_space()).kind == "variable":
            mark = self.i
            self.next()
            after = self.peek_non_space()
            if after.kind in (":=", "="):
                self.next()
                pipe.is_assign = after.kind == "="
                pipe.decl.append(var.val)
                self.vars.append(var.val)
                break
            if after.kind == "char" and after.val == ",":
                self.next()
                pipe.decl.append(var.val)
                self.vars.append(var.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().kind in ("variable", "}}", ")"):
                        continue
                    raise self.error("range can only initialize variables")
                raise self.error(f"too many declarations in {context}")
            self.i = mark
            break
        while True:
            item = self.next_non_space()
            if item.kind == end:
                if not pipe.cmds:
                    raise self.error(f"missing value for {context}")
                for stage, cmd in enumerate(pipe.cmds[1:], start=2):
                    if isinstance(cmd.args[0], (BoolNode, DotNode, NilNode, NumberNode, StringNode)):
                        raise self.error(f"non executable command in pipeline stage {stage}")
                return pipe
            if item.kind not in _OPERAND:
                raise self.unexpected(item, context)
            self.i -= 1
            pipe.cmds.append(self.command())

    def command(self) -> CommandNode:
        cmd = CommandNode(self.peek_non_space().pos, [])
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            item = self.next()
            if item.kind == "space":
                continue
            if item.kind in ("}}", ")"):
                self.i -= 1
            elif item.kind != "|":
                raise self.unexpected(item, "operand")
            break
        if not cmd.args:
            raise self.error("empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None or self.peek().kind != "field":
            return node
        fields: list[str] = []
        while self.peek().kind == "field":
            fields.append(self.next().val[1:])
        if isinstance(node, FieldNode):
            return FieldNode(node.pos, node.idents + tuple(fields))
        if isinstance(node, VariableNode):
            return VariableNode(node.pos, node.idents + tuple(fields))
        if isinstance(node, (BoolNode, StringNode, NumberNode, NilNode, DotNode)):
            raise self.error(f"unexpected . after term {_go_quote(str(node))}")
        return ChainNode(node.pos, node, tuple(fields))

    def term(self) -> Node | None:
        item = self.next_non_space()
        kind, val, pos = item.kind, item.val, item.pos
        if kind == "ident":
            if val not in self.funcs:
                raise self.error(f"function {_go_quote(val)} not defined")
            return IdentifierNode(pos, val)
        if kind == "variable":
            if val not in self.vars:
                raise self.error(f"undefined variable {_go_quote(val)}")
            return VariableNode(pos, (val,))
        if kind == "(":
            return self.pipeline("parenthesized pipeline", ")")
        simple: dict[str, Callable[[], Node]] = {
            "dot": lambda: DotNode(pos),
            "nil": lambda: NilNode(pos),
            "field": lambda: FieldNode(pos, (val[1:],)),
            "bool": lambda: BoolNode(pos, val == "true"),
            "number": lambda: NumberNode(pos, self.number(val), val),
            "charconst": lambda: NumberNode(pos, ord(self.unquote(item)), val),
            "string": lambda: StringNode(pos, self.unquote(item), val),
            "raw": lambda: StringNode(pos, self.unquote(item), val),
        }
        if kind in simple:
            return simple[kind]()
        self.i -= 1
        return None

    def number(self, text: str) -> int | float:
        try:
            return _parse_number(text)
        except ValueError:
            raise self.error(f"illegal number syntax: {_go_quote(text)}") from None

    def unquote(self, item: _Item) -> str:
        try:
            value = _unquote(item.val)
        except (ValueError, OverflowError):
            raise self.error("invalid syntax") from None
        if item.kind == "charconst" and len(value) != 1:
            raise self.error(f"malformed character constant: {item.val}")
        return value


def _nonempty(body: ListNode) -> bool:
    return any(not (isinstance(n, TextNode) and not n.text.strip()) for n in body.nodes)


# ---------------------------------------------------------------- template


@dataclass
class Template:
    """A parsed template: the root tree plus the ones `define`d or `block`ed in it."""

    name: str
    source: str
    root: ListNode
    defs: dict[str, ListNode]
    funcs: dict[str, Callable[..., Any]]

    def execute(self, data: Any = None) -> str:
        """Render with `data` as dot (and `$`); raises TemplateError on failure."""
        state = _State(self)
        state.vars = [["$", data]]
        try:
            state.walk(data, self.root)
        except RecursionError:
            raise TemplateError(f"template: {self.name}: exceeded maximum template depth") from None
        return "".join(state.out)

    def with_root(self, root: ListNode) -> Template:
        """A copy with another root tree (for Ollama's tree surgery)."""
        return dataclasses.replace(self, root=root)

    def lookup(self, name: str) -> ListNode | None:
        return self.defs.get(name) or (self.root if name == self.name else None)

    def trees(self) -> list[ListNode]:
        return [self.root, *self.defs.values()]

    def identifiers(self) -> list[str]:
        """Every field and variable name the trees mention (Ollama's `Identifiers`)."""
        return [name for tree in self.trees() for name in _identifiers(tree)]

    def vars(self) -> list[str]:
        """Those names lowercased, sorted, without repeats (Ollama's `Template.Vars`)."""
        return sorted({name.lower() for name in self.identifiers()})

    def references(self, name: str) -> bool:
        """Whether the template mentions a field, e.g. `references(".Messages")`."""
        return name.lstrip(".").lower() in self.vars()


def _identifiers(node: Node) -> Iterator[str]:
    if isinstance(node, (FieldNode, VariableNode)):
        yield from node.idents
    elif isinstance(node, (ListNode, BranchNode, ActionNode, TemplateNode, PipeNode, CommandNode)):
        for child in children(node):
            yield from _identifiers(child)


def parse(text: str, *, name: str = "", funcs: Mapping[str, Callable[..., Any]] | None = None) -> Template:
    """Parse Go template text; `funcs` adds to (or overrides) the built-in functions."""
    table = {**FUNCS, **(funcs or {})}
    parser = _Parser(text, name, table)
    root = parser.parse()
    return Template(name, text, root, parser.defs, table)


# ---------------------------------------------------------------- evaluator


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


_NO_ARG: Any = object()  # no piped-in value (Go's missingVal)
_MAX_DEPTH = 100


class _State:
    def __init__(self, tmpl: Template) -> None:
        self.tmpl = tmpl
        self.name = tmpl.name
        self.out: list[str] = []
        self.vars: list[list[Any]] = []  # [name, value], innermost last
        self.node: Node | None = None
        self.depth = 0

    def error(self, message: str) -> TemplateError:
        src, pos = self.tmpl.source, self.node.pos if self.node else 0
        line, col = src.count("\n", 0, pos) + 1, pos - (src.rfind("\n", 0, pos) + 1)
        return TemplateError(
            f"template: {self.tmpl.name}:{line}:{col}: executing {_go_quote(self.name)} at <{self.node}>: {message}"
        )

    # statements
    def walk(self, dot: Any, node: Node) -> None:
        if isinstance(node, TextNode):
            self.out.append(node.text)
        elif isinstance(node, ListNode):
            for child in node.nodes:
                self.walk(dot, child)
        elif isinstance(node, ActionNode):
            value = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.out.append("<no value>" if value is None else sprint_value(value))
        elif isinstance(node, RangeNode):
            self.walk_range(dot, node)
        elif isinstance(node, BranchNode):  # if / with
            scope = len(self.vars)
            value = self.eval_pipeline(dot, node.pipe)
            if truth(value):
                self.walk(value if isinstance(node, WithNode) else dot, node.list)
            elif node.else_list is not None:
                self.walk(dot, node.else_list)
            del self.vars[scope:]
        elif isinstance(node, TemplateNode):
            self.walk_template(dot, node)
        elif isinstance(node, BreakNode):
            raise _Break
        elif isinstance(node, ContinueNode):
            raise _Continue

    def walk_range(self, dot: Any, node: RangeNode) -> None:
        scope = len(self.vars)
        value = self.eval_pipeline(dot, node.pipe, declare=False)
        self.node = node.pipe
        if value is None:
            pairs: list[tuple[Any, Any]] = []
        elif isinstance(value, Mapping):
            pairs = [(k, value[k]) for k in _keys(value)]
        elif isinstance(value, (list, tuple)):
            pairs = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            pairs = [(i, i) for i in range(value)]
        else:
            raise self.error(f"range can't iterate over {sprint_value(value)}")
        decl = node.pipe.decl
        for key, elem in pairs:
            bound = [elem] if len(decl) == 1 else [key, elem][: len(decl)]
            for var, val in zip(decl, bound):
                if node.pipe.is_assign:
                    self.set_var(var, val)
                else:
                    self.vars.append([var, val])
            try:
                self.walk(elem, node.list)
            except _Continue:
                pass
            except _Break:
                break
            finally:
                del self.vars[scope:]
        if not pairs and node.else_list is not None:
            self.walk(dot, node.else_list)

    def walk_template(self, dot: Any, node: TemplateNode) -> None:
        self.node = node
        tree = self.tmpl.lookup(node.name)
        if tree is None:
            raise self.error(f"template {_go_quote(node.name)} not defined")
        if self.depth >= _MAX_DEPTH:
            raise self.error(f"exceeded maximum template depth ({_MAX_DEPTH})")
        value = self.eval_pipeline(dot, node.pipe) if node.pipe else None
        saved = self.vars, self.name
        self.vars, self.name, self.depth = [["$", value]], node.name, self.depth + 1
        try:
            self.walk(value, tree)
        finally:
            (self.vars, self.name), self.depth = saved, self.depth - 1

    # variables
    def var(self, name: str) -> Any:
        for entry in reversed(self.vars):
            if entry[0] == name:
                return entry[1]
        raise self.error(f"undefined variable: {name}")

    def set_var(self, name: str, value: Any) -> None:
        for entry in reversed(self.vars):
            if entry[0] == name:
                entry[1] = value
                return
        raise self.error(f"undefined variable: {name}")

    # expressions
    def eval_pipeline(self, dot: Any, pipe: PipeNode, declare: bool = True) -> Any:
        value = _NO_ARG
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
        for name in pipe.decl if declare else ():
            if pipe.is_assign:
                self.set_var(name, value)
            else:
                self.vars.append([name, value])
        return value

    def eval_command(self, dot: Any, cmd: CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        self.node = first
        if isinstance(first, FieldNode):
            return self.eval_fields(dot, dot, first, first.idents, cmd.args, final)
        if isinstance(first, ChainNode):
            return self.eval_fields(dot, self.eval_arg(dot, first.node), first, first.fields, cmd.args, final)
        if isinstance(first, VariableNode):
            value = self.var(first.idents[0])
            if len(first.idents) > 1:
                return self.eval_fields(dot, value, first, first.idents[1:], cmd.args, final)
        elif isinstance(first, IdentifierNode):
            return self.eval_function(dot, first, cmd, final)
        elif isinstance(first, NilNode):
            raise self.error("nil is not a command")
        else:
            value = self.eval_arg(dot, first)
        if len(cmd.args) > 1 or final is not _NO_ARG:
            self.node = first
            raise self.error(f"can't give argument to non-function {first}")
        return value

    def eval_arg(self, dot: Any, node: Node) -> Any:
        self.node = node
        if isinstance(node, DotNode):
            return dot
        if isinstance(node, (BoolNode, NumberNode, StringNode)):
            return node.value
        if isinstance(node, PipeNode):
            return self.eval_pipeline(dot, node)
        if isinstance(node, NilNode):
            return None
        return self.eval_command(dot, CommandNode(node.pos, [node]), _NO_ARG)

    def eval_fields(self, dot: Any, receiver: Any, node: Node, names: Sequence[str], args: list[Node], final: Any) -> Any:
        for i, name in enumerate(names):
            last = i == len(names) - 1
            self.node = node
            receiver = self.eval_field(dot, name, receiver, args if last else args[:1], final if last else _NO_ARG)
        return receiver

    def eval_field(self, dot: Any, name: str, receiver: Any, args: list[Node], final: Any) -> Any:
        has_args = len(args) > 1 or final is not _NO_ARG
        if receiver is None:
            raise self.error(f"nil pointer evaluating interface {{}}.{name}")
        if isinstance(receiver, Mapping):
            if has_args:
                raise self.error(f"{name} is not a method but has arguments")
            return receiver.get(name)
        value = _NO_ARG
        if not isinstance(receiver, (str, bytes, int, float, list, tuple)) and not name.startswith("_"):
            value = getattr(receiver, name, _NO_ARG)
        if value is _NO_ARG:
            raise self.error(f"can't evaluate field {name} in type {go_type(receiver)}")
        if inspect.ismethod(value) or inspect.isbuiltin(value):
            argv = [self.eval_arg(dot, a) for a in args[1:]] + ([] if final is _NO_ARG else [final])
            return self.call(name, value, argv)
        if has_args:
            raise self.error(f"{name} is not a method but has arguments")
        return value

    def eval_function(self, dot: Any, ident: IdentifierNode, cmd: CommandNode, final: Any) -> Any:
        name, fn = ident.name, self.tmpl.funcs.get(ident.name)
        if fn is None:
            raise self.error(f"{_go_quote(name)} is not a defined function")
        args = cmd.args[1:]
        if fn is _and or fn is _or:  # short-circuit: evaluate only up to the deciding argument
            if not args and final is _NO_ARG:
                raise self.error(f"wrong number of args for {name}: want at least 1 got 0")
            value = None
            for arg in args:
                value = self.eval_arg(dot, arg)
                if truth(value) == (fn is _or):
                    return value
            return value if final is _NO_ARG else final
        argv = [self.eval_arg(dot, a) for a in args] + ([] if final is _NO_ARG else [final])
        self.node = cmd
        return self.call(name, fn, argv)

    def call(self, name: str, fn: Callable[..., Any], argv: list[Any]) -> Any:
        try:
            return fn(*argv)
        except TemplateError:
            raise
        except Exception as exc:  # a function's error fails the execution, as in Go
            raise self.error(f"error calling {name}: {exc}") from None


# ---------------------------------------------------------------- values


def truth(value: Any) -> bool:
    """Go's truthiness: false, 0, nil and empty strings, slices and maps are false."""
    if value is None:
        return False
    if isinstance(value, (bool, int, float, complex)):
        return value != 0
    if isinstance(value, (str, bytes, list, tuple, Mapping)):
        return len(value) > 0
    return True  # structs, functions


def go_type(value: Any) -> str:
    """Roughly the Go type name a value stands for, for messages."""
    for kind, name in ((bool, "bool"), (int, "int"), (float, "float64"), (str, "string"), (bytes, "[]uint8")):
        if isinstance(value, kind):
            return name
    if value is None:
        return "<nil>"
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    if isinstance(value, (list, tuple)):
        return "[]interface {}"
    return type(value).__name__


def _keys(mapping: Mapping[Any, Any]) -> list[Any]:
    if isinstance(mapping, OrderedMap):
        return list(mapping)
    try:
        return sorted(mapping)
    except TypeError:
        return sorted(mapping, key=str)


def _is_stringer(value: Any) -> bool:
    return not isinstance(value, (str, int, float)) and type(value).__str__ is not object.__str__


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
    if _is_stringer(value):
        return str(value)
    if isinstance(value, Mapping):
        return "map[" + " ".join(f"{sprint_value(k)}:{sprint_value(value[k])}" for k in _keys(value)) + "]"
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


def _go_quote(s: str, quote: str = '"') -> str:
    """strconv.Quote (or QuoteRune with quote="'")."""
    out = [quote]
    for c in s:
        if c == quote or c == "\\":
            out.append("\\" + c)
        elif c in "\a\b\f\n\r\t\v":
            out.append({"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}[c])
        elif c.isprintable():
            out.append(c)
        elif ord(c) < 0x80:
            out.append(f"\\x{ord(c):02x}")
        else:
            out.append(f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}")
    return "".join(out) + quote


# ---------------------------------------------------------------- fmt


def _sprint(*args: Any) -> str:
    """fmt.Sprint: a space between operands when neither is a string."""
    out = []
    for i, arg in enumerate(args):
        if i and not isinstance(arg, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(sprint_value(arg))
    return "".join(out)


def _sprintln(*args: Any) -> str:
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
        return _go_quote(arg[:prec] if prec is not None else arg)
    if verb == "q" and is_int:
        return _go_quote(chr(arg), "'")
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


def _sprintf(fmt: str, *args: Any) -> str:
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


# ---------------------------------------------------------------- functions


def _and(*args: Any) -> Any:  # evaluated lazily by the executor; kept for `call`
    for arg in args:
        if not truth(arg):
            return arg
    return args[-1]


def _or(*args: Any) -> Any:
    for arg in args:
        if truth(arg):
            return arg
    return args[-1]


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    return {float: "float", complex: "complex", str: "string"}.get(type(value), "other")


def _eq(arg1: Any, *args: Any) -> bool:
    if not args:
        raise ValueError("missing argument for comparison")
    k1 = _kind(arg1)
    for arg in args:
        k2 = _kind(arg)
        if k1 != k2:
            if arg1 is not None and arg is not None:
                raise ValueError("incompatible types for comparison")
            continue
        if k1 == "other":
            if arg1 is None or arg is None:
                if arg1 is None and arg is None:
                    return True
                continue
            if isinstance(arg1, (list, dict)) or isinstance(arg, (list, dict)):
                raise ValueError(f"non-comparable type {sprint_value(arg1)}: {go_type(arg1)}")
        if arg1 == arg:
            return True
    return False


def _lt(a: Any, b: Any) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka in ("other", "bool", "complex") or kb in ("other", "bool", "complex"):
        raise ValueError("invalid type for comparison")
    if ka != kb:
        raise ValueError("incompatible types for comparison")
    return bool(a < b)


def _length(item: Any) -> int:
    if isinstance(item, str):
        return len(item.encode())
    if isinstance(item, (bytes, list, tuple, Mapping)):
        return len(item)
    raise ValueError("len of nil pointer" if item is None else f"len of type {go_type(item)}")


def _index(item: Any, *indexes: Any) -> Any:
    for index in indexes:
        if item is None:
            raise ValueError("index of untyped nil")
        if isinstance(item, Mapping):
            item = item.get(index)
            continue
        if not isinstance(item, (str, bytes, list, tuple)):
            raise ValueError(f"can't index item of type {go_type(item)}")
        if not isinstance(index, int) or isinstance(index, bool):
            raise ValueError(f"cannot index slice/array with type {go_type(index)}")
        seq = item.encode() if isinstance(item, str) else item
        if not 0 <= index < len(seq):
            raise ValueError(f"index out of range: {index}")
        item = seq[index]
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    if item is None:
        raise ValueError("slice of untyped nil")
    if len(indexes) > 3:
        raise ValueError(f"too many slice indexes: {len(indexes)}")
    if not isinstance(item, (str, list, tuple)):
        raise ValueError(f"can't slice item of type {go_type(item)}")
    if len(indexes) == 3 and isinstance(item, str):
        raise ValueError("cannot 3-index slice a string")
    seq = item.encode() if isinstance(item, str) else item
    for index in indexes:
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index <= len(seq):
            raise ValueError(f"index out of range: {index}")
    bounds = [*indexes, 0, len(seq)][:2] if len(indexes) != 1 else [indexes[0], len(seq)]
    for lo, hi in zip(indexes, indexes[1:]):
        if lo > hi:
            raise ValueError(f"invalid slice index: {lo} > {hi}")
    part = seq[bounds[0] : bounds[1]]
    return part.decode("utf-8", "replace") if isinstance(item, str) else list(part)


def _args_text(args: Sequence[Any]) -> str:
    return args[0] if len(args) == 1 and isinstance(args[0], str) else _sprint(*args)


def _html(*args: Any) -> str:
    table = {'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;", "\0": "\ufffd"}
    return "".join(table.get(c, c) for c in _args_text(args))


def _js(*args: Any) -> str:
    table = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026", "=": "\\u003D"}
    out = []
    for c in _args_text(args):
        if c in table:
            out.append(table[c])
        elif c < " " or (ord(c) >= 0x80 and not c.isprintable()):
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def _call(fn: Any, *args: Any) -> Any:
    if fn is None:
        raise ValueError("call of nil")
    if not callable(fn):
        raise ValueError(f"non-function of type {go_type(fn)}")
    return fn(*args)


def _json(value: Any) -> str:
    try:
        return go_json(value)
    except (TypeError, ValueError):
        return ""  # Ollama drops json.Marshal's error


def _to_typescript_type(value: Any) -> str:
    convert = getattr(value, "to_typescript_type", None)
    return str(convert()) if callable(convert) else "any"


FUNCS: dict[str, Callable[..., Any]] = {
    "and": _and,
    "or": _or,
    "not": lambda value: not truth(value),
    "len": _length,
    "index": _index,
    "slice": _slice,
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": _lt,
    "le": lambda a, b: _lt(a, b) or _eq(a, b),
    "gt": lambda a, b: not (_lt(a, b) or _eq(a, b)),
    "ge": lambda a, b: not _lt(a, b),
    "print": _sprint,
    "printf": _sprintf,
    "println": _sprintln,
    "html": _html,
    "js": _js,
    "urlquery": lambda *args: urllib.parse.quote_plus(_args_text(args), safe=""),
    "call": _call,
    # Ollama's additions (template/template.go); the date helpers ignore their format argument
    "json": _json,
    "currentDate": lambda *args: datetime.date.today().isoformat(),
    "yesterdayDate": lambda *args: (datetime.date.today() - datetime.timedelta(days=1)).isoformat(),
    "toTypeScriptType": _to_typescript_type,
}
"""The functions every template knows: Go's builtins plus Ollama's."""
