"""Which tag opens a tool call, read from the model's template.

Go templates (a Modelfile TEMPLATE): Ollama's `tools.parseTag`: the first
non-blank text inside the `{{ if .ToolCalls }}` block, cut before any `{` (and a
trailing `[`); `{` when there is none (the model answers with bare JSON). Jinja templates (the
GGUF's own): the family's marker when the template writes one.
"""

from __future__ import annotations

from ..gotemplate import ActionNode, BranchNode, FieldNode, IfNode, ListNode, Node, TemplateError, TextNode
from .go import parse_template

# Markers a Jinja chat template writes around tool calls, by family.
_JINJA_TAGS = (
    ("<tool_call>", "<tool_call>"),  # Qwen 2.5/3, Hermes, SmolLM3
    ("[TOOL_CALLS]", "[TOOL_CALLS]"),  # Mistral
    ("<|python_tag|>", "{"),  # Llama 3.x: bare JSON, optionally after the python tag
)


def jinja_tool_tag(template: str) -> str:
    for marker, tag in _JINJA_TAGS:
        if marker in template:
            return tag
    return "{"


def _mentions_tool_calls(node: IfNode) -> bool:
    return any(
        isinstance(arg, FieldNode) and "ToolCalls" in arg.idents for cmd in node.pipe.cmds for arg in cmd.args
    )


def _find_tool_calls_node(nodes: list[Node]) -> IfNode | None:
    for node in nodes:
        if isinstance(node, IfNode) and _mentions_tool_calls(node):
            return node
        if isinstance(node, ListNode):
            found = _find_tool_calls_node(node.nodes)
        elif isinstance(node, BranchNode):
            found = _find_tool_calls_node(node.list.nodes)
            if found is None and node.else_list is not None:
                found = _find_tool_calls_node(node.else_list.nodes)
        else:
            continue
        if found is not None:
            return found
    return None


def _first_text(nodes: list[Node]) -> TextNode | None:
    """Depth first, stopping at actions: text after them may be the call itself."""
    for node in nodes:
        if isinstance(node, TextNode):
            if node.text.strip():
                return node
        elif isinstance(node, ListNode):
            found = _first_text(node.nodes)
            if found is not None:
                return found
        elif isinstance(node, BranchNode):
            found = _first_text(node.list.nodes)
            if found is None and node.else_list is not None:
                found = _first_text(node.else_list.nodes)
            return found
        elif isinstance(node, ActionNode):
            return None
    return None


def go_tool_tag(template: str) -> str:
    try:
        root = parse_template(template).root
    except TemplateError:
        return "{"
    block = _find_tool_calls_node(root.nodes)
    text = _first_text(block.list.nodes) if block is not None else None
    if text is None:
        return "{"
    # Cut before the JSON: at "{" as Ollama does, and also before an opening "[" (a list of calls).
    tag = text.text.replace("\r\n", "\n").split("{", 1)[0].strip().rstrip("[ \n")
    return tag or "{"


def tool_tag(go_template: str | None, jinja_template: str | None) -> str:
    """The tag for the template that renders the model's prompts (the Go one wins)."""
    if go_template:
        return go_tool_tag(go_template)
    return jinja_tool_tag(jinja_template or "")
