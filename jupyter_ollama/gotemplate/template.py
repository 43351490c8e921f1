"""`parse` and `Template`: a parsed template, its `define`d trees, and what it mentions."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .execute import State
from .funcs import FUNCS
from .nodes import FieldNode, ListNode, Node, VariableNode, children
from .parser import Parser
from .values import TemplateError


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
        state = State(self)
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
    for child in children(node):  # (like Ollama, not inside `(pipeline).Field` chains)
        yield from _identifiers(child)


def parse(text: str, *, name: str = "", funcs: Mapping[str, Callable[..., Any]] | None = None) -> Template:
    """Parse Go template text; `funcs` adds to (or overrides) the built-in functions."""
    table = {**FUNCS, **(funcs or {})}
    parser = Parser(text, name, table)
    root = parser.parse()
    return Template(name, text, root, parser.defs, table)
