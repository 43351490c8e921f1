"""Request shapes, declared once: field names and JSON types, checked like Go's decoder.

Ollama decodes bodies into Go structs, so a wrong type fails with
`json: cannot unmarshal <json type> into Go struct field <Struct>.<field> of type <go type>`.
We keep that wording (clients and users recognise it) but answer 400, never 500.
Unknown fields are ignored, as in Go.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import BadRequest
from ..gojson import json_type

# JSON type -> (python check, Go type name used in the message)
_KINDS: dict[str, tuple[tuple[type, ...], str]] = {
    "string": ((str,), "string"),
    "bool": ((bool,), "bool"),
    "int": ((int,), "int"),
    "number": ((int, float), "float64"),
    "object": ((dict,), "map[string]interface {}"),
    "string_map": ((dict,), "map[string]string"),
    "array": ((list,), "[]interface {}"),
    "any": ((object,), "interface {}"),
}


@dataclass(frozen=True)
class Shape:
    name: str
    fields: dict[str, str]

    def check(self, body: Any) -> dict[str, Any]:
        """Return the body with nulls dropped; 400 on a wrong type."""
        if not isinstance(body, dict):
            raise BadRequest(f"json: cannot unmarshal {json_type(body)} into Go value of type api.{self.name}")
        out: dict[str, Any] = {}
        for key, value in body.items():
            kind = self.fields.get(key)
            if kind is None or value is None:
                if kind is None:
                    out[key] = value
                continue
            types, go_type = _KINDS[kind]
            ok = isinstance(value, types) and not (kind in ("int", "number") and isinstance(value, bool))
            if kind == "int" and isinstance(value, float) and value.is_integer():
                value, ok = int(value), True
            if kind == "string_map" and ok:
                ok = all(isinstance(v, str) for v in value.values())
            if not ok:
                raise BadRequest(
                    f"json: cannot unmarshal {json_type(value)} into Go struct field "
                    f"{self.name}.{key} of type {go_type}"
                )
            out[key] = value
        return out


CREATE = Shape(
    "CreateRequest",
    {
        "model": "string", "name": "string", "stream": "bool", "quantize": "string",
        "quantization": "string", "from": "string", "files": "string_map",
        "adapters": "string_map", "template": "string", "license": "any", "system": "string",
        "parameters": "object", "messages": "array", "requires": "string", "remote_host": "any",
    },
)
SHOW = Shape("ShowRequest", {"model": "string", "name": "string", "verbose": "bool", "system": "string", "options": "object"})
COPY = Shape("CopyRequest", {"source": "string", "destination": "string"})
DELETE = Shape("DeleteRequest", {"model": "string", "name": "string"})
GENERATE = Shape(
    "GenerateRequest",
    {
        "model": "string", "prompt": "string", "suffix": "string", "system": "string", "template": "string",
        "context": "array", "stream": "bool", "raw": "bool", "format": "any", "keep_alive": "any",
        "images": "array", "options": "object", "think": "any", "truncate": "bool", "shift": "bool",
        "logprobs": "bool", "top_logprobs": "int", "_debug_render_only": "bool",
    },
)
CHAT = Shape(
    "ChatRequest",
    {
        "model": "string", "messages": "array", "stream": "bool", "format": "any", "keep_alive": "any",
        "tools": "array", "options": "object", "think": "any", "truncate": "bool", "shift": "bool",
        "logprobs": "bool", "top_logprobs": "int", "_debug_render_only": "bool",
    },
)
EMBED = Shape(
    "EmbedRequest",
    {"model": "string", "input": "any", "truncate": "bool", "dimensions": "int", "keep_alive": "any", "options": "object"},
)
EMBEDDINGS = Shape("EmbeddingRequest", {"model": "string", "prompt": "string", "keep_alive": "any", "options": "object"})


# -- replies ----------------------------------------------------------------------
# GET /api/system: declared beside the code that builds it (scheduler/system.py).
