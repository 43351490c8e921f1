"""The typed boundary between the manager and whatever runs a model.

As Ollama's `llm/server.go` has one `LlamaServer` interface, the scheduler and the
handlers reach a loaded model only through `Runner`: the local llama.cpp subprocess
(`runners/process.py`, which starts the `runner/` program) implements it, and so do
the remote engines (`remote/`). The shapes here are what crosses that boundary; over
the subprocess's loopback HTTP they travel as the JSON of their fields (`to_json` /
`from_json`, `event_to_json` / `event_from_json`).
This module imports nothing heavy: the manager loads it without llama.cpp.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from ..errors import BadRequest

T = TypeVar("T")


def image_bytes(image: Any, where: str) -> bytes:
    """An image as requests carry it (base64, Ollama's JSON `[]byte`; a data URL's prefix is allowed); 400 otherwise.
    `where`: the image's place in the request, for the error (`messages[0].images[1]`)."""
    if not isinstance(image, str):
        raise BadRequest(f"{where}: an image is a base64-encoded string")
    data = image.split(",", 1)[1] if image.startswith("data:") else image
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as err:
        raise BadRequest(f"{where}: illegal base64 data: {err}") from err


def to_json(shape: Any) -> dict[str, Any]:
    return dataclasses.asdict(shape)


def from_json(cls: type[T], data: dict[str, Any]) -> T:
    """Build `cls` from a JSON object, ignoring fields it does not declare."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class LoadConfig:
    """What a runner loads: one model file, `num_parallel` slots of `num_ctx` tokens each."""

    model_path: str
    num_ctx: int
    num_parallel: int
    num_batch: int = 512
    num_gpu: int = -1  # layers on the GPUs (llama.cpp's n_gpu_layers); -1 = all that the build can offload
    # The scheduler's placement (scheduler/placement.py): which GPUs the runner may see (None: as the
    # environment says, []: none), the layers each of them takes, and the main one (a position in gpu_ids).
    gpu_ids: list[str] | None = None
    tensor_split: list[float] = field(default_factory=list)
    main_gpu: int = 0
    use_mmap: bool | None = None
    threads: int = 1  # decode threads (see scheduler/cpus.py)
    threads_batch: int = 1  # prompt-processing threads
    kv_cache_type: str = "f16"  # or "q8_0", "q4_0" (needs flash attention, so it turns it on)
    flash_attention: bool | None = None  # None: llama.cpp decides
    # A draft model (Modelfile DRAFT) with the model's vocabulary: it guesses tokens for greedy requests,
    # on the CPU, with a sequence per slot (runner/draftmodel.py).
    draft_model_path: str | None = None
    # A multimodal projector (the model reads images through llama.cpp's libmtmd: runner/vision.py).
    projector_path: str | None = None
    # The prompt cache (runner/prompt_cache.py): entries are keyed by the model's blob digest ("" for none: no
    # cache); its RAM tier's budget in bytes (0: none), its folder on disk and that folder's cap (0: no disk tier).
    model_digest: str = ""
    prompt_cache_ram: int = 0
    prompt_cache_dir: str | None = None
    prompt_cache_disk: int = 0


@dataclass(frozen=True)
class Prompt:
    """What the model reads: `raw` text as is, or a conversation rendered by the runner.

    The conversation is rendered with `template` (a Modelfile TEMPLATE, Go syntax) when
    given, else with the GGUF's own chat template, once, in the runner.
    """

    raw: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)
    template: str | None = None
    tools: list[dict[str, Any]] | None = None
    suffix: str | None = None
    think: bool | str | None = None
    images: list[str] = field(default_factory=list)  # with `raw`: base64 images, read where `[img-N]` tags stand

    @staticmethod
    def of(data: dict[str, Any]) -> Prompt:
        return from_json(Prompt, data)


@dataclass(frozen=True)
class CompletionRequest:
    prompt: Prompt
    options: dict[str, Any] = field(default_factory=dict)  # Ollama's options (sampling, num_predict, stop)
    format: Any = None  # "json" or a JSON schema: constrains the output with a grammar
    # With `format`, for a prompt that thinks: the (opening, closing) tags around the thinking. The model thinks
    # unconstrained and the grammar applies after the closing tag (Ollama thinks first, then constrains), or at
    # once when the output does not start with the opening tag (a prompt that ends with it is already inside).
    think_tags: tuple[str, str] | None = None
    context: list[int] = field(default_factory=list)  # tokens of an earlier /api/generate, read first
    truncate: bool = True
    return_tokens: bool = False  # the final event carries the whole token list (Ollama's `context`)
    shift: bool = True  # at the context's end, drop old tokens and go on; False: stop there ("length")
    # A prompt longer than the slot: cut as Ollama cuts it (keep num_keep, drop the oldest) when the request
    # asked for shifting (`shift: true`); refused otherwise (errors.PromptTooLong), never cut in silence.
    cut_prompt: bool = False
    logprobs: bool = False  # each Piece carries its tokens' log probabilities
    top_logprobs: int = 0  # and that many most likely alternatives for each

    @staticmethod
    def of(data: dict[str, Any]) -> CompletionRequest:
        request = from_json(CompletionRequest, data)
        tags = data.get("think_tags")  # a JSON array
        return dataclasses.replace(request, prompt=Prompt.of(data.get("prompt") or {}),
                                   think_tags=(str(tags[0]), str(tags[1])) if tags else None)


@dataclass(frozen=True)
class Started:
    """The first event of a completion: facts about the rendered prompt the reader needs."""

    prompt_tail: str  # its last characters, e.g. to see that it ends inside an open <think> tag
    remote_host: str = ""  # a remote model: the engine that took the request (Ollama's reply field)
    prompt_tokens: int = 0  # the prompt's tokens, as the model reads them (0 where the engine does not say)


@dataclass(frozen=True)
class Piece:
    content: str
    # With `logprobs`: one entry per token sampled since the last Piece, Ollama's shape:
    # {"token", "logprob", "bytes", "top_logprobs": [{"token", "logprob", "bytes"}]}.
    logprobs: list[dict[str, Any]] | None = None
    # From an engine that splits its output itself (a remote one): thinking and tool calls, Ollama's shapes.
    thinking: str = ""
    tool_calls: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class Done:
    done_reason: str  # "stop", "length" or "cancel"
    prompt_eval_count: int
    prompt_eval_duration: int  # nanoseconds
    eval_count: int
    eval_duration: int  # nanoseconds
    tokens: list[int] | None = None  # with `return_tokens`
    prompt_dropped: int = 0  # prompt tokens cut to fit the slot (`cut_prompt`); prompt_eval_count counts those read
    prompt_cached: int = 0  # prompt tokens whose KV was not computed: held by the slot, copied from another, or restored
    prompt_restored: int = 0  # of those, restored from the prompt cache (RAM or disk)
    prompt_cache: str = ""  # "ram" or "disk": where they were restored from; "miss": the cache had nothing that paid
    prompt_cache_saved: int = 0  # nanoseconds of prompt processing the restore saved (estimated)


@dataclass(frozen=True)
class Failed:
    """The end of a completion that failed in the runner (the model unloading, llama.cpp refusing a grammar).

    It travels as `{"error": ...}`; `Runner.completion` raises it (`runners.process.RunnerError`), never yields it."""

    error: str


# What `Runner.completion` yields.
CompletionEvent = Started | Piece | Done
# What a runner's /completion stream carries, one NDJSON line each: Started, Pieces, then Done or Failed.
StreamEvent = CompletionEvent | Failed
_EVENT_KINDS: dict[str, type[CompletionEvent]] = {"started": Started, "piece": Piece, "done": Done}


def event_to_json(event: StreamEvent) -> dict[str, Any]:
    if isinstance(event, Failed):
        return {"error": event.error}
    if isinstance(event, Piece):  # one per token: no generic (deep-copying) asdict on this path
        out: dict[str, Any] = {"kind": "piece", "content": event.content}
        if event.logprobs:
            out["logprobs"] = event.logprobs
        if event.thinking:
            out["thinking"] = event.thinking
        if event.tool_calls:
            out["tool_calls"] = event.tool_calls
        return out
    kind = next(k for k, cls in _EVENT_KINDS.items() if isinstance(event, cls))
    return {"kind": kind, **to_json(event)}


def event_from_json(data: dict[str, Any]) -> StreamEvent:
    if "error" in data:
        return Failed(str(data["error"]))
    if data["kind"] == "piece":
        return Piece(data["content"], data.get("logprobs"), data.get("thinking") or "", data.get("tool_calls"))
    return from_json(_EVENT_KINDS[data["kind"]], data)


@dataclass(frozen=True)
class EmbedRequest:
    inputs: list[str]
    truncate: bool = True
    normalize: bool = True  # L2, as /api/embed returns them; /api/embeddings does not


@dataclass(frozen=True)
class EmbedReply:
    embeddings: list[list[float]]
    prompt_eval_count: int


@dataclass(frozen=True)
class SlotState:
    id: int
    state: str  # "idle", "prefill" or "generating"
    n_ctx: int
    n_past: int  # tokens held in its KV cache


@dataclass(frozen=True)
class RunnerHealth:
    slots: list[SlotState]
    waiting: int
    threads: int
    threads_batch: int
    prompt_tokens_total: int = 0
    tokens_predicted_total: int = 0
    tokens_drafted_total: int = 0  # tokens guessed (prompt lookup or a draft model), and those the model kept
    tokens_draft_accepted_total: int = 0
    draft_error: str = ""  # why a draft model the runner was given does not guess (it failed to load or to decode)
    # The prompt cache: RAM and disk bytes, entries and budgets, and its counters since the load ({}: none).
    prompt_cache: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def of(data: dict[str, Any]) -> RunnerHealth:
        health = from_json(RunnerHealth, data)
        return dataclasses.replace(health, slots=[from_json(SlotState, s) for s in data.get("slots") or []])


class Runner(Protocol):
    """One loaded model, wherever it runs."""

    @property
    def alive(self) -> bool: ...

    async def start(self) -> None:
        """Load the model; raises with llama.cpp's reason when it cannot."""

    async def wait(self) -> int:
        """Until the runner ends; its exit code."""

    async def health(self) -> RunnerHealth: ...

    def completion(self, request: CompletionRequest) -> AsyncIterator[CompletionEvent]:
        """Started, then Pieces, then Done; leaving early cancels the request and frees its slot."""

    async def render(self, prompt: Prompt) -> str:
        """The prompt text the model would read (Ollama's `_debug_render_only`)."""

    async def count_tokens(self, prompt: Prompt) -> int:
        """How many tokens the model would read for `prompt`, nothing dropped (`/v1/messages/count_tokens`)."""

    async def embed(self, request: EmbedRequest) -> EmbedReply: ...

    async def set_threads(self, decode: int, batch: int) -> None: ...

    async def stop(self) -> None: ...
