"""The parser: recursive descent over the lexer's items into a `nodes` tree, as Go's.

Checks what Go's parser checks (undefined functions and variables, `break` outside
`range`, `else`/`end` placement, non-executable pipeline stages, duplicate
`define`s) with Go's wording.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .lexer import Item, lex, parse_number, syntax_error, unquote_literal
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
)
from .values import TemplateError, go_quote


@dataclass
class _End(Node):
    def __str__(self) -> str:
        return "{{end}}"


@dataclass
class _Else(Node):
    def __str__(self) -> str:
        return "{{else}}"


_OPERAND = {"bool", "charconst", "dot", "field", "ident", "number", "nil", "raw", "string", "variable", "("}


class Parser:
    """Parses one template's text; `parse()` gives the root tree, `defs` the `define`d ones."""

    def __init__(self, src: str, name: str, funcs: Mapping[str, Callable[..., Any]]) -> None:
        self.src, self.name, self.funcs = src, name, funcs
        self.items = lex(src, name)
        self.i = 0
        self.vars = ["$"]  # variables in scope, for "undefined variable"
        self.range_depth = 0
        self.defs: dict[str, ListNode] = {}

    # item stream
    def next(self) -> Item:
        item = self.items[self.i]
        self.i += 1
        return item

    def peek(self) -> Item:
        return self.items[self.i]

    def peek_non_space(self) -> Item:
        while self.items[self.i].kind == "space":
            self.i += 1
        return self.items[self.i]

    def next_non_space(self) -> Item:
        self.peek_non_space()
        return self.next()

    def error(self, message: str, pos: int | None = None) -> TemplateError:
        return syntax_error(self.src, self.name, self.items[max(self.i - 1, 0)].pos if pos is None else pos, message)

    def unexpected(self, item: Item, context: str) -> TemplateError:
        return self.error(f"unexpected {item} in {context}", item.pos)

    def expect(self, kind: str, context: str) -> Item:
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
            raise self.error(f"template: multiple definition of template {go_quote(name)}")
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
            raise self.error(f"unexpected . after term {go_quote(str(node))}")
        return ChainNode(node.pos, node, tuple(fields))

    def term(self) -> Node | None:
        item = self.next_non_space()
        kind, val, pos = item.kind, item.val, item.pos
        if kind == "ident":
            if val not in self.funcs:
                raise self.error(f"function {go_quote(val)} not defined")
            return IdentifierNode(pos, val)
        if kind == "variable":
            if val not in self.vars:
                raise self.error(f"undefined variable {go_quote(val)}")
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
            return parse_number(text)
        except ValueError:
            raise self.error(f"illegal number syntax: {go_quote(text)}") from None

    def unquote(self, item: Item) -> str:
        try:
            value = unquote_literal(item.val)
        except (ValueError, OverflowError):
            raise self.error("invalid syntax") from None
        if item.kind == "charconst" and len(value) != 1:
            raise self.error(f"malformed character constant: {item.val}")
        return value


def _nonempty(body: ListNode) -> bool:
    return any(not (isinstance(n, TextNode) and not n.text.strip()) for n in body.nodes)
