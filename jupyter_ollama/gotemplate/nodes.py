"""The parse tree, mirroring Go's `text/template/parse` nodes, and `children` to walk it.

A node's `str()` is its source form as Go prints it in error messages (`<.A.B>`).
"""

from __future__ import annotations

from dataclasses import dataclass

from .values import go_quote


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
        return f"{{{{template {go_quote(self.name)}{' ' + str(self.pipe) if self.pipe else ''}}}}}"


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
