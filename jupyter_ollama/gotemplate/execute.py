"""The evaluator: walks a template's tree over data with Go's semantics.

Variable scopes, `if`/`with`/`range` (with `break`/`continue`), `template` calls,
fields and methods of structs and maps, function calls with short-circuit
`and`/`or`, and errors worded like Go's: `template: NAME:LINE:COL: executing
"NAME" at <NODE>: message`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from .funcs import and_, or_
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
from .printing import sprint_value
from .values import TemplateError, go_quote, go_type, map_keys, truth


class Templates(Protocol):
    """What an execution needs of its template (`template.Template`): its text, functions and named trees."""

    @property
    def name(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def funcs(self) -> Mapping[str, Callable[..., Any]]: ...

    def lookup(self, name: str) -> ListNode | None: ...


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


_NO_ARG: Any = object()  # no piped-in value (Go's missingVal)
_MAX_DEPTH = 100


class State:
    """One execution of a template: the output so far, the variables in scope, the node at hand."""

    def __init__(self, tmpl: Templates) -> None:
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
            f"template: {self.tmpl.name}:{line}:{col}: executing {go_quote(self.name)} at <{self.node}>: {message}"
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
            pairs = [(k, value[k]) for k in map_keys(value)]
        elif isinstance(value, (list, tuple)):
            pairs = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            pairs = [(i, i) for i in range(value)]
        else:
            raise self.error(f"range can't iterate over {sprint_value(value)}")
        decl = node.pipe.decl
        for key, elem in pairs:
            bound = [elem] if len(decl) == 1 else [key, elem][: len(decl)]
            for var, val in zip(decl, bound, strict=False):
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
            raise self.error(f"template {go_quote(node.name)} not defined")
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
            raise self.error(f"{go_quote(name)} is not a defined function")
        args = cmd.args[1:]
        if fn is and_ or fn is or_:  # short-circuit: evaluate only up to the deciding argument
            if not args and final is _NO_ARG:
                raise self.error(f"wrong number of args for {name}: want at least 1 got 0")
            value = None
            for arg in args:
                value = self.eval_arg(dot, arg)
                if truth(value) == (fn is or_):
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
