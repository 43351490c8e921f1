"""Prompts from a Modelfile TEMPLATE (Go template syntax), built the way Ollama builds them.

A port of Ollama's `template/template.go` (`Parse`, `Execute`, `collate`, the legacy
per-turn mode) and of the prompt parts of `server/prompt.go` and `server/routes.go`:

- `parse_template(text)`: Go's parse plus Ollama's touch-ups: `{{ .Response }}` is
  appended to a template that mentions neither `.Messages` nor `.Response`, and a
  `{{ template "x" }}` without an argument is refused.
- `render_chat(...)` for `/api/chat` and `render_generate(...)` for `/api/generate`:
  a template that mentions `.Messages` runs once over the whole conversation
  (consecutive same-role messages merged with a blank line, except tool results;
  every system message joined into `.System`); any other runs once per
  system/user/assistant turn with `.System`/`.Prompt`/`.Response`, the last turn cut
  right after `{{ .Response }}` so that the model writes the answer.
- `capabilities(template)`: what the template lets a model do, as Ollama infers it:
  `.Tools` gives "tools", `.Suffix` gives "insert", thinking tags around
  `.Thinking` inside `range .Messages` give "thinking".

The values handed to the template mirror Ollama's Go structs, so templates written
for Ollama see the same fields (`.Role`, `.Content`, `.ToolCalls`, `.Function.Name`,
`.Function.Arguments` printed as JSON, ...) and `json` marshals them the same way.
Ollama's `[img-N]` image tags are not added: the runner passes images itself.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..gotemplate import (
    ActionNode,
    BranchNode,
    CommandNode,
    FieldNode,
    ListNode,
    Node,
    OrderedMap,
    PipeNode,
    RangeNode,
    Template,
    TemplateError,
    TemplateNode,
    TextNode,
    children,
    go_json,
    parse,
)

DEFAULT_TEMPLATE = "{{ .Prompt }}"
"""Ollama's template for a model that has none."""

Think = bool | str | None  # the request's `think`: a flag, or "low"/"medium"/"high"/"max"


# ---------------------------------------------------------------- template values (Ollama's structs)


class JSONMap(dict[str, Any]):
    """A Go map that prints as its JSON (Ollama's templateArgs, templateProperties)."""

    def __init__(self, items: Any = (), *, nil: bool = False) -> None:
        super().__init__(items)
        self.nil = nil  # a nil Go map marshals as null (but still prints "{}")

    def __str__(self) -> str:
        return go_json(dict(self))

    def go_json(self) -> str:
        return "null" if self.nil else go_json(dict(self))


class PropertyType(list[str]):
    """A JSON Schema `type`: one name or several (Ollama's api.PropertyType)."""

    def __str__(self) -> str:
        return "" if not self else self[0] if len(self) == 1 else "[" + " ".join(self) + "]"

    def go_json(self) -> str:
        return go_json(self[0] if len(self) == 1 else list(self))


_TS_TYPES = {"string": "string", "number": "number", "integer": "number", "boolean": "boolean",
             "array": "any[]", "object": "Record<string, any>", "null": "null"}


@dataclass
class ToolProperty:
    """One tool parameter's schema (api.ToolProperty); unknown schema keys are dropped, as in Go."""

    AnyOf: list[ToolProperty] = field(default_factory=list)
    Type: PropertyType = field(default_factory=PropertyType)
    Items: Any = None
    Description: str = ""
    Enum: list[Any] | None = None
    Properties: OrderedMap | None = None
    Required: list[str] = field(default_factory=list)

    def go_json(self) -> str:
        out = OrderedMap()
        for key, value, present in (
            ("anyOf", self.AnyOf, bool(self.AnyOf)),
            ("type", self.Type, bool(self.Type)),
            ("items", self.Items, self.Items is not None),
            ("description", self.Description, bool(self.Description)),
            ("enum", self.Enum, bool(self.Enum)),
            ("properties", self.Properties, self.Properties is not None),
            ("required", self.Required, bool(self.Required)),
        ):
            if present:  # every field is `omitempty`
                out[key] = value
        return go_json(out)

    def to_typescript_type(self) -> str:
        """For the `toTypeScriptType` template function."""
        if self.AnyOf:
            return " | ".join(p.to_typescript_type() for p in self.AnyOf)
        return " | ".join(_TS_TYPES.get(t, "any") for t in self.Type) or "any"


@dataclass
class ToolFunctionParameters:
    Type: str = ""
    Defs: Any = None
    Items: Any = None
    Required: list[str] = field(default_factory=list)
    Properties: JSONMap = field(default_factory=lambda: JSONMap(nil=True))

    def go_json(self) -> str:
        out = OrderedMap(type=self.Type)
        if self.Defs is not None:
            out["$defs"] = self.Defs
        if self.Items is not None:
            out["items"] = self.Items
        if self.Required:
            out["required"] = self.Required
        out["properties"] = self.Properties
        return go_json(out)


@dataclass
class ToolFunction:
    Name: str = ""
    Description: str = ""
    Parameters: ToolFunctionParameters = field(default_factory=ToolFunctionParameters)

    def go_json(self) -> str:
        return go_json(OrderedMap(name=self.Name, description=self.Description, parameters=self.Parameters))


@dataclass
class Tool:
    """One entry of `.Tools`; prints as its JSON, like Ollama's templateTool."""

    Type: str = ""
    Items: Any = None
    Function: ToolFunction = field(default_factory=ToolFunction)

    def go_json(self) -> str:
        out = OrderedMap(type=self.Type)
        if self.Items is not None:
            out["items"] = self.Items
        out["function"] = self.Function
        return go_json(out)

    def __str__(self) -> str:
        return self.go_json()


class ToolList(list["Tool"]):
    """`.Tools`: prints as JSON; `null` when the request had no tools (a nil Go slice)."""

    def __init__(self, tools: Any = (), *, nil: bool = False) -> None:
        super().__init__(tools)
        self.nil = nil

    def go_json(self) -> str:
        return "null" if self.nil else "[" + ",".join(go_json(t) for t in self) + "]"

    def __str__(self) -> str:
        return self.go_json()


@dataclass
class ToolCallFunction:
    Index: int = 0
    Name: str = ""
    Arguments: JSONMap = field(default_factory=JSONMap)


@dataclass
class ToolCall:
    ID: str = ""
    Function: ToolCallFunction = field(default_factory=ToolCallFunction)


@dataclass
class Message:
    """One entry of `.Messages` (Ollama's templateMessage)."""

    Role: str = ""
    Content: str = ""
    Thinking: str = ""
    Images: list[Any] = field(default_factory=list)
    ToolCalls: list[ToolCall] = field(default_factory=list)
    ToolName: str = ""
    ToolCallID: str = ""


MessageLike = Mapping[str, Any] | Message  # an API message: role, content, thinking, images, tool_calls, ...
ToolLike = Mapping[str, Any] | Tool  # an API tool: {"type": "function", "function": {...}}


def _go_any(value: Any) -> Any:
    """A decoded JSON value as Go's `any` holds it: every number a float64."""
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): _go_any(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_go_any(v) for v in value]
    return value


def _arguments(raw: Any) -> JSONMap:
    if isinstance(raw, str):  # OpenAI clients send arguments as a JSON string
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = {}
    return JSONMap(_go_any(raw)) if isinstance(raw, Mapping) else JSONMap(nil=raw is None)


def to_message(message: MessageLike) -> Message:
    """An API message (a dict with Ollama's JSON keys) as the template sees it."""
    if isinstance(message, Message):
        return message
    calls = []
    for call in message.get("tool_calls") or []:
        fn = call.get("function") or {}
        function = ToolCallFunction(int(fn.get("index") or 0), fn.get("name") or "", _arguments(fn.get("arguments")))
        calls.append(ToolCall(call.get("id") or "", function))
    return Message(
        Role=str(message.get("role") or "").lower(),
        Content=message.get("content") or "",
        Thinking=message.get("thinking") or "",
        Images=list(message.get("images") or []),
        ToolCalls=calls,
        ToolName=message.get("tool_name") or "",
        ToolCallID=message.get("tool_call_id") or "",
    )


def _property(schema: Mapping[str, Any]) -> ToolProperty:
    kind, nested = schema.get("type"), schema.get("properties")
    return ToolProperty(
        AnyOf=[_property(s) for s in schema.get("anyOf") or []],
        Type=PropertyType([kind] if isinstance(kind, str) else list(kind or [])),
        Items=_go_any(schema.get("items")),
        Description=schema.get("description") or "",
        Enum=_go_any(list(schema["enum"])) if schema.get("enum") is not None else None,
        Properties=OrderedMap((k, _property(v)) for k, v in nested.items()) if isinstance(nested, Mapping) else None,
        Required=list(schema.get("required") or []),
    )


def to_tool(tool: ToolLike) -> Tool:
    """An API tool definition as the template sees it."""
    if isinstance(tool, Tool):
        return tool
    fn = tool.get("function") or {}
    params = fn.get("parameters") or {}
    props = params.get("properties")
    parameters = ToolFunctionParameters(
        Type=params.get("type") or "",
        Defs=_go_any(params.get("$defs")),
        Items=_go_any(params.get("items")),
        Required=list(params.get("required") or []),
        Properties=JSONMap({k: _property(v) for k, v in props.items()}) if isinstance(props, Mapping) else JSONMap(nil=True),
    )
    function = ToolFunction(fn.get("name") or "", fn.get("description") or "", parameters)
    return Tool(tool.get("type") or "", _go_any(tool.get("items")), function)


def _think_values(think: Think) -> dict[str, Any]:
    level = think if isinstance(think, str) else ("medium" if think is True else "")
    enabled = think if isinstance(think, bool) else think in ("high", "medium", "low", "max")
    return {"Think": enabled, "ThinkLevel": level, "IsThinkSet": think is not None}


# ---------------------------------------------------------------- parsing and inspection


def _walk(node: Node) -> list[Node]:
    return [node, *(n for child in children(node) for n in _walk(child))]


@functools.lru_cache(maxsize=64)
def parse_template(text: str) -> Template:
    """Ollama's `template.Parse` (cached: treat the result as read-only)."""
    tmpl = parse(text)
    if any(isinstance(n, TemplateNode) and n.pipe is None for tree in tmpl.trees() for n in _walk(tree)):
        raise TemplateError("undefined template specified")  # Ollama words this one without "template: "
    names = tmpl.vars()
    if "messages" not in names and "response" not in names:
        end = len(text)
        response = ActionNode(end, PipeNode(end, [], False, [CommandNode(end, [FieldNode(end, ("Response",))])]))
        tmpl = tmpl.with_root(ListNode(tmpl.root.pos, [*tmpl.root.nodes, response]))
    return tmpl


def _as_template(template: str | Template) -> Template:
    return parse_template(template) if isinstance(template, str) else template


def think_tags(template: str | Template) -> tuple[str, str]:
    """The tags around thinking, inferred like Ollama's `thinking.InferTags`.

    A `.Thinking` inside `range .Messages`: the text at the start and end of its
    innermost list are the opening and closing tags. ("", "") when there is none.
    """
    opening = closing = ""
    ancestors: list[Node] = []

    def visit(node: Node) -> None:
        nonlocal opening, closing
        ancestors.append(node)
        if isinstance(node, FieldNode) and node.idents[0] == "Thinking":
            loop = next((a for a in reversed(ancestors) if isinstance(a, RangeNode)), None)
            if loop is not None and any(
                isinstance(n, FieldNode) and n.idents[0] == "Messages" for n in _walk(loop.pipe)
            ):
                items = next(a for a in reversed(ancestors) if isinstance(a, ListNode)).nodes
                if isinstance(items[0], TextNode):
                    opening = items[0].text.strip()
                if isinstance(items[-1], TextNode):
                    closing = items[-1].text.strip()
        for child in children(node):
            visit(child)
        ancestors.pop()

    visit(_as_template(template).root)
    return opening, closing


def capabilities(template: str | Template) -> list[str]:
    """What the template supports, as Ollama infers it: "tools", "insert", "thinking"."""
    tmpl = _as_template(template)
    names = tmpl.vars()
    found = [cap for cap, name in (("tools", "tools"), ("insert", "suffix")) if name in names]
    return found + (["thinking"] if all(think_tags(tmpl)) else [])


# ---------------------------------------------------------------- execution (Ollama's Template.Execute)


def collate(messages: Sequence[Message]) -> tuple[str, list[Message]]:
    """All system contents joined by blank lines, and the messages with consecutive
    same-role ones merged (their contents joined by a blank line; tool results stay apart)."""
    system: list[str] = []
    merged: list[Message] = []
    for message in messages:
        if message.Role == "system":
            system.append(message.Content)
        if merged and merged[-1].Role == message.Role and message.Role != "tool":
            merged[-1] = replace(merged[-1], Content=merged[-1].Content + "\n\n" + message.Content)
        else:
            merged.append(message)
    return "\n\n".join(system), merged


def execute(
    template: str | Template,
    messages: Sequence[MessageLike] = (),
    *,
    tools: Sequence[ToolLike] | None = None,
    prompt: str = "",
    suffix: str = "",
    think: Think = None,
) -> str:
    """Ollama's `Template.Execute`: fill-in-the-middle when `prompt` and `suffix` are both
    given, else the Messages mode or the legacy per-turn mode, chosen by the template."""
    tmpl = _as_template(template)
    think_values = _think_values(think)
    if prompt and suffix:
        return tmpl.execute({"Prompt": prompt, "Suffix": suffix, "Response": "", **think_values})
    system, merged = collate([to_message(m) for m in messages])
    if "messages" in tmpl.vars():
        tool_list = ToolList([to_tool(t) for t in tools or ()], nil=tools is None)
        values = {"System": system, "Messages": merged, "Tools": tool_list, "Response": "", **think_values}
        return tmpl.execute(values)
    return _execute_legacy(tmpl, merged, think_values)


def _execute_legacy(tmpl: Template, messages: list[Message], think_values: dict[str, Any]) -> str:
    out: list[str] = []
    turn = {"System": "", "Prompt": "", "Response": ""}

    def flush(t: Template) -> None:
        out.append(t.execute({**turn, **think_values}))
        turn.update(System="", Prompt="", Response="")

    for message in messages:  # a turn ends where a new system or user message begins
        if message.Role == "system":
            if turn["Prompt"] or turn["Response"]:
                flush(tmpl)
            turn["System"] = message.Content
        elif message.Role == "user":
            if turn["Response"]:
                flush(tmpl)
            turn["Prompt"] = message.Content
        elif message.Role == "assistant":
            turn["Response"] = message.Content
    flush(tmpl.with_root(_cut_after_response(tmpl.root)))
    return "".join(out)


def _cut_after_response(root: ListNode) -> ListNode:
    """The tree without whatever follows the first `.Response` (Ollama's `deleteNode`).

    As in Ollama, only actions and branch bodies are searched, never the conditions.
    """
    cut = False

    def walk(node: Node) -> Node | None:
        nonlocal cut
        if isinstance(node, FieldNode) and "Response" in node.idents:
            cut = True
            return node
        if cut:
            return None
        if isinstance(node, ListNode):
            return ListNode(node.pos, [n for n in map(walk, node.nodes) if n is not None])
        if isinstance(node, BranchNode):
            body = walk(node.list)
            rest = walk(node.else_list) if node.else_list is not None else None
            return type(node)(node.pos, node.pipe, body or ListNode(node.pos, []), rest)  # type: ignore[arg-type]
        if isinstance(node, ActionNode):
            pipe = walk(node.pipe)
            return ActionNode(node.pos, pipe) if isinstance(pipe, PipeNode) else None
        if isinstance(node, PipeNode):
            cmds = []
            for cmd in node.cmds:
                args = [a for a in map(walk, cmd.args) if a is not None]
                if not args:
                    return None
                cmds.append(CommandNode(cmd.pos, args))
            return PipeNode(node.pos, node.decl, node.is_assign, cmds)
        return node

    kept = walk(root)
    return kept if isinstance(kept, ListNode) else ListNode(root.pos, [])


# ---------------------------------------------------------------- the two endpoints


def render_chat(
    template: str | Template,
    messages: Sequence[MessageLike],
    *,
    tools: Sequence[ToolLike] | None = None,
    think: Think = None,
    suffix: str | None = None,
    system: str = "",
    history: Sequence[MessageLike] = (),
    fits: Callable[[str], bool] | None = None,
) -> str:
    """The prompt for an `/api/chat` request.

    `system` and `history` are the model's SYSTEM and MESSAGE layers, applied as
    Ollama's chat handler does: the history comes first, and the system prompt leads
    unless the request's first message is a system one. With `suffix`, the last user
    message and the suffix fill the template's fill-in-the-middle form. With `fits`
    (does this prompt fit the context?), the oldest messages are dropped until it
    does, keeping system messages and always the last message (Ollama's truncation).
    """
    tmpl = _as_template(template)
    msgs = [to_message(m) for m in [*history, *messages]]
    if system and (not messages or to_message(messages[0]).Role != "system"):
        msgs.insert(0, Message(Role="system", Content=system))
    if suffix:
        users = [m.Content for m in msgs if m.Role == "user"]
        return execute(tmpl, prompt=users[-1] if users else "", suffix=suffix, think=think)
    start, kept_system = 0, []
    if fits is not None:
        for i in range(len(msgs)):
            kept_system = [m for m in msgs[:i] if m.Role == "system"]
            if i == len(msgs) - 1 or fits(execute(tmpl, kept_system + msgs[i:], tools=tools, think=think)):
                start = i
                break
    return execute(tmpl, kept_system + msgs[start:], tools=tools, think=think)


def render_generate(
    template: str | Template,
    prompt: str,
    *,
    system: str = "",
    history: Sequence[MessageLike] = (),
    suffix: str = "",
    raw: bool = False,
    think: Think = None,
    images: Sequence[Any] = (),
    fits: Callable[[str], bool] | None = None,
) -> str:
    """The prompt for an `/api/generate` request.

    `raw` returns the prompt untouched. With `suffix`, the template's fill-in-the-middle
    form. Otherwise the request is a one-turn chat: `system` (the request's, else the
    model's SYSTEM), then `history` (the model's MESSAGEs; pass none when the request
    carries `context`), then the prompt as the user message.
    """
    if raw:
        return prompt
    tmpl = _as_template(template)
    if suffix:
        return execute(tmpl, prompt=prompt, suffix=suffix, think=think)
    msgs: list[MessageLike] = [{"role": "system", "content": system}] if system else []
    msgs += [*history, {"role": "user", "content": prompt, "images": list(images)}]
    return render_chat(tmpl, msgs, tools=[], think=think, fits=fits)
