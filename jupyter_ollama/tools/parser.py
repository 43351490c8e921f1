"""Tool calls in a model's output, returned in Ollama's shape.

Modelled on Ollama's `tools.Parser`: text before the model's tool-call tag is
content; from the tag on, JSON values are read and turned into calls. The tag
comes from the template (see `tags.py`): `<tool_call>` (Qwen, Hermes),
`[TOOL_CALLS]` (Mistral), or `{` for models that answer with a bare JSON object
(Llama 3.x, and the generic fallback). With `{` or `[` as the tag, only output
that *starts* with a JSON object or array can be a call, and JSON that names no
known tool is handed back as content.

Recognised call objects: `{"name", "arguments"|"parameters"}` (arguments may be a
JSON string), `{"function": {...}}`, `{"<tool name>": {arguments}}`, a list of
those, and Mistral's `name[ARGS]{arguments}` (a tool name before the object).
Only names of the request's tools are accepted, as in Ollama.
"""

from __future__ import annotations

import json
import random
import string
from typing import Any

_ID_ALPHABET = string.ascii_lowercase + string.digits
_JSON_TAGS = ("{", "[")
_IGNORED_PREFIXES = ("<|python_tag|>",)  # Llama 3.x may open a call with it
_SEPARATORS = " \t\r\n;,"  # between calls in a bare-JSON answer


def tool_call_id() -> str:
    """Ollama's ids: `call_` and 8 random characters from [a-z0-9]."""
    return "call_" + "".join(random.choices(_ID_ALPHABET, k=8))


def tool_call(name: str, arguments: dict[str, Any], index: int) -> dict[str, Any]:
    return {"id": tool_call_id(), "function": {"index": index, "name": name, "arguments": arguments}}


def json_end(text: str, start: int) -> int:
    """The index just past the JSON object/array opening at `start`, or -1 if it is not closed yet."""
    depth = 0
    in_string = escaped = False
    for i in range(start, len(text)):
        c = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "{[":
            depth += 1
        elif c in "}]":
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def _arguments(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value or "{}")
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return {} if value is None else None


class ToolCallParser:
    """Streaming: `add(text)` returns (new calls, content to send); `finish()` flushes."""

    def __init__(self, tool_names: list[str], tag: str = "{") -> None:
        self.names = [n for n in tool_names if n]
        self.tag = tag or "{"
        self.state = "looking"  # looking -> calling -> done
        self.buffer = ""
        self.raw = ""  # everything since the tag, handed back if it held no call
        self.pending = ""  # text skipped since the last call (may name the next one)
        self.count = 0

    @property
    def json_tag(self) -> bool:
        return self.tag in _JSON_TAGS

    def add(self, text: str) -> tuple[list[dict[str, Any]], str]:
        if self.state == "done":
            return [], text
        self.buffer += text
        content = ""
        if self.state == "calling":
            self.raw += text
        else:
            content = self._look()
            if self.state != "calling":
                return [], content
        calls, rest = self._parse()
        return calls, content + rest

    def finish(self) -> tuple[list[dict[str, Any]], str]:
        held, self.buffer = self.buffer, ""
        calling, self.state = self.state == "calling", "done"
        if calling:
            return [], ("" if self.count else self.raw)
        return [], held

    def _look(self) -> str:
        """Content before the tag; switches to "calling" once the tag is seen."""
        buffer = self.buffer
        if self.json_tag:
            stripped = buffer.lstrip()
            for prefix in _IGNORED_PREFIXES:
                if stripped and prefix.startswith(stripped) and stripped != prefix:
                    return ""  # maybe the prefix, still arriving
                if stripped.startswith(prefix):
                    buffer = stripped[len(prefix):]
        at = next((i for i, c in enumerate(buffer) if c in "{["), -1) if self.json_tag else buffer.find(self.tag)
        if at < 0:
            held = next((n for n in range(min(len(buffer), len(self.tag)), 0, -1) if buffer.endswith(self.tag[:n])), 0)
            content, self.buffer = buffer[: len(buffer) - held], buffer[len(buffer) - held:]
        else:
            content, self.buffer = buffer[:at], buffer[at:]
        if self.json_tag and content.strip():
            # Only output that starts with JSON can be a call: this is plain content.
            content, self.buffer, self.state = content + self.buffer, "", "done"
            return content
        if at >= 0:
            self.state, self.raw = "calling", self.buffer
        return content

    def _value_start(self) -> int:
        """Where the next JSON object or array starts (tags are skipped), or -1."""
        buffer, i = self.buffer, 0
        while True:
            start = next((j for j in range(i, len(buffer)) if buffer[j] in "{["), -1)
            if start < 0 or self.json_tag:
                return start
            if buffer.startswith(self.tag, start):
                i = start + len(self.tag)
            elif self.tag.startswith(buffer[start:]):
                return -1  # maybe a tag still arriving
            else:
                return start

    def _parse(self) -> tuple[list[dict[str, Any]], str]:
        """The calls complete in the buffer, and content when a JSON answer turns out not to be one."""
        calls: list[dict[str, Any]] = []
        while True:
            start = self._value_start()
            if start < 0 or (self.json_tag and self.buffer[:start].strip(_SEPARATORS)):
                break
            end = json_end(self.buffer, start)
            if end < 0:
                break  # wait for the rest of the value
            try:
                value: Any = json.loads(self.buffer[start:end])
            except ValueError:
                value = None
            found = self._calls(value, self.pending + self.buffer[:start])
            self.pending = "" if found else self.pending + self.buffer[:end]
            if not found and self.json_tag:
                content = self.buffer[start:] if (calls or self.count) else self.raw
                self.buffer, self.state = "", "done"
                return calls, content
            self.buffer = self.buffer[end:]
            calls += found
        if self.json_tag and self.count:
            rest = self.buffer.lstrip(_SEPARATORS)
            if rest and not rest.startswith(("{", "[")):
                self.buffer, self.state = "", "done"
                return calls, rest
        return calls, ""

    def _calls(self, value: Any, before: str) -> list[dict[str, Any]]:
        """The calls a parsed JSON value holds (`before`: the text between the tag and it)."""
        if isinstance(value, list):
            return [call for item in value for call in self._calls(item, "")]
        if not isinstance(value, dict):
            return []
        found = self._one(value, before)
        if found is None:
            return []
        name, arguments = found
        self.count += 1
        return [tool_call(name, arguments, self.count - 1)]

    def _one(self, obj: dict[str, Any], before: str) -> tuple[str, dict[str, Any]] | None:
        name = obj.get("name")
        if isinstance(name, str):
            if name not in self.names:
                return None
            args = _arguments(obj.get("arguments", obj.get("parameters")))
            return (name, args) if args is not None else None
        if isinstance(obj.get("function"), dict):
            return self._one(obj["function"], "")
        for key, value in obj.items():
            if key in self.names and isinstance(value, dict):
                return key, value
        named = [n for n in self.names if n in before]
        if named:  # Mistral's `[TOOL_CALLS]name[ARGS]{...}`: the longest name wins
            return max(named, key=len), obj
        for value in obj.values():  # a call nested one level down, e.g. {"tool_call": {...}}
            if isinstance(value, dict) and isinstance(value.get("name"), str):
                return self._one(value, "")
        return None
