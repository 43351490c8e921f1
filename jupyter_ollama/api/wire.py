"""Request shapes, declared once as typed objects and checked like Go's decoder.

Ollama decodes bodies into Go structs, so a wrong type fails with
`json: cannot unmarshal <json type> into Go struct field <Struct>.<field> of type <go type>`.
We keep that wording (clients and users recognise it) but answer 400, never 500.
Unknown fields are ignored, as in Go; a null is the field's default, as an absent one.

Each request is a frozen dataclass (`WireRequest`): its fields' Python types say the JSON
types they take (`str`, `bool`, `int`, `float`, `dict[str, Any]`, `dict[str, str]`,
`list[Any]`, `Any`, each optionally `| None`), and `from_json` is the one place that reads
the checked JSON into it. Handlers read typed fields; nested, free-form parts (messages,
tool schemas, content blocks) stay JSON, read where they are translated.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, Union

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
# A field's Python type (None stripped) -> its JSON kind.
_KIND_OF: dict[Any, str] = {
    str: "string", bool: "bool", int: "int", float: "number", dict[str, Any]: "object",
    dict[str, str]: "string_map", list[Any]: "array", Any: "any",
}
_JSON_KEY = "json"  # field metadata: the JSON name, where it is not the field's (`_debug_render_only`, `from`)
_WHOLE = "whole"  # field metadata: the field holds the whole checked object (for a store that reads it itself)


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
            types_, go_type = _KINDS[kind]
            ok = isinstance(value, types_) and not (kind in ("int", "number") and isinstance(value, bool))
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


def json_key(name: str) -> dict[str, str]:
    """Metadata for a field whose JSON name is not a Python name: `field(default=..., metadata=json_key("from"))`."""
    return {_JSON_KEY: name}


R = TypeVar("R", bound="WireRequest")


def _kind(annotation: Any, where: str) -> str:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        annotation = Union[tuple(a for a in typing.get_args(annotation) if a is not type(None))]  # noqa: UP007
    kind = _KIND_OF.get(annotation)
    if kind is None:
        raise TypeError(f"{where}: {annotation} is not a JSON type a request field can declare")
    return kind


class WireRequest:
    """A request body as a typed object. Subclasses are frozen dataclasses naming their Go struct (`go_struct`)."""

    go_struct: ClassVar[str]

    @classmethod
    def shape(cls) -> Shape:
        return _shape(cls)

    @classmethod
    def from_json(cls: type[R], data: Any) -> R:
        """The request `data` (parsed JSON) asks for; 400 in Go's words on a wrong type."""
        checked = cls.shape().check(data)
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.metadata.get(_WHOLE):
                values[f.name] = checked
            elif (key := f.metadata.get(_JSON_KEY, f.name)) in checked:
                values[f.name] = checked[key]
        return cls(**values)


_SHAPES: dict[type[WireRequest], Shape] = {}


def _shape(cls: type[WireRequest]) -> Shape:
    """The JSON shape a request class declares, read from its fields' types once."""
    if cls not in _SHAPES:
        hints = typing.get_type_hints(cls)
        _SHAPES[cls] = Shape(cls.go_struct, {
            f.metadata.get(_JSON_KEY, f.name): _kind(hints[f.name], f"{cls.__name__}.{f.name}")
            for f in dataclasses.fields(cls)  # type: ignore[arg-type]
            if not f.metadata.get(_WHOLE)
        })
    return _SHAPES[cls]


# -- native requests ----------------------------------------------------------------


@dataclass(frozen=True)
class ModelRequest(WireRequest):
    """What every request that runs a model carries."""

    model: str = ""
    keep_alive: Any = None  # seconds or a duration; None: the server's default
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GenerationRequest(ModelRequest):
    """The fields /api/generate and /api/chat share."""

    stream: bool = True
    format: Any = None  # "json" or a JSON schema
    think: Any = None  # a bool or a level ("high", ...)
    truncate: bool = True
    shift: bool | None = None  # None: shift at the context's end, but refuse a prompt longer than it
    logprobs: bool = False
    top_logprobs: int = 0
    debug_render_only: bool = field(default=False, metadata=json_key("_debug_render_only"))


@dataclass(frozen=True)
class GenerateRequest(GenerationRequest):
    go_struct = "GenerateRequest"

    prompt: str = ""
    suffix: str | None = None
    system: str = ""
    template: str = ""
    context: list[Any] = field(default_factory=list)
    raw: bool = False
    images: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class ChatRequest(GenerationRequest):
    go_struct = "ChatRequest"

    messages: list[Any] = field(default_factory=list)  # checked by `prepare.check_messages`
    tools: list[Any] | None = None  # checked by `tools.check_tools`


@dataclass(frozen=True)
class EmbedRequest(ModelRequest):
    go_struct = "EmbedRequest"

    input: Any = None  # a string or an array of strings
    truncate: bool = True
    dimensions: int = 0


@dataclass(frozen=True)
class EmbeddingRequest(ModelRequest):
    go_struct = "EmbeddingRequest"

    prompt: str = ""


@dataclass(frozen=True)
class ShowRequest(WireRequest):
    go_struct = "ShowRequest"

    model: str = ""
    name: str = ""  # the older name of `model`
    verbose: bool = False
    system: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CopyRequest(WireRequest):
    go_struct = "CopyRequest"

    source: str = ""
    destination: str = ""


@dataclass(frozen=True)
class DeleteRequest(WireRequest):
    go_struct = "DeleteRequest"

    model: str = ""
    name: str = ""


@dataclass(frozen=True)
class CreateRequest(WireRequest):
    """Checked here; read by the store's `ModelCreator`, which takes the whole object (`checked`)."""

    go_struct = "CreateRequest"

    model: str = ""
    name: str = ""
    stream: bool = True
    quantize: str = ""
    quantization: str = ""
    from_: str = field(default="", metadata=json_key("from"))
    files: dict[str, str] = field(default_factory=dict)
    adapters: dict[str, str] = field(default_factory=dict)
    template: str = ""
    license: Any = None
    system: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    messages: list[Any] = field(default_factory=list)
    requires: str = ""
    remote_host: Any = None
    checked: dict[str, Any] = field(default_factory=dict, metadata={_WHOLE: True})


@dataclass(frozen=True)
class TransferRequest(WireRequest):
    """/api/pull and /api/push."""

    model: str = ""
    name: str = ""  # the older name of `model`
    insecure: bool = False
    stream: bool = True
    username: str = ""
    password: str = ""


@dataclass(frozen=True)
class PullRequest(TransferRequest):
    go_struct = "PullRequest"


@dataclass(frozen=True)
class PushRequest(TransferRequest):
    go_struct = "PushRequest"


# -- replies ----------------------------------------------------------------------
# GET /api/system: declared beside the code that builds it (scheduler/system.py).
