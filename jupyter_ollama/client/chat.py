"""One chat turn with a model, and the conversation it continues (Ollama's api.ChatRequest and
api.ChatResponse, read as cmd/cmd.go's `chat` reads them).

A `Chat` is a conversation with one model and the settings each turn sends (system prompt,
options, format, think, keep_alive, tools). `Chat.turn(client, prompt)` sends the next user
message and gives a `ChatTurn`: an iterator of typed deltas (`Thinking`, `Content`, `ToolCalls`)
that ends with the reply's `Stats`. `ChatTurn.cancel()`, from any thread, hangs up the connection,
so the server stops generating and frees the slot at once. When a turn ends, the exchange joins
the conversation, the reply with its thinking and tool calls in their own fields as Ollama's
messages carry them (a template decides whether earlier thinking reaches the prompt); a reply
cancelled or interrupted after some output is kept as far as it got, a failed one is not kept.

The CLI, the `%ollama` magics and the ChatWidget all talk to models through this; how a delta
is shown is theirs to decide.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from ..format import go_duration
from .http import Client, ClientError, hang_up

EARLY_END = "the server ended the reply early"


@dataclass(frozen=True)
class ToolCall:
    """A function the model called (Ollama's api.ToolCall)."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    id: str = ""
    index: int | None = None

    @classmethod
    def from_wire(cls, call: Mapping[str, Any]) -> ToolCall:
        function = call.get("function") or {}
        arguments = function.get("arguments")
        return cls(str(function.get("name", "")), arguments if isinstance(arguments, Mapping) else {},
                   str(call.get("id") or ""), function.get("index") if isinstance(function.get("index"), int) else None)

    def to_wire(self) -> dict[str, Any]:
        function: dict[str, Any] = {"name": self.name, "arguments": dict(self.arguments)}
        if self.index is not None:
            function["index"] = self.index
        return {"id": self.id, "function": function} if self.id else {"function": function}


@dataclass
class Message:
    """One message of a conversation (Ollama's api.Message); `to_wire` leaves out what is empty, as Go's omitempty."""

    role: str
    content: str = ""
    thinking: str = ""
    images: list[str] = field(default_factory=list)  # base64
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_name: str = ""  # a tool's result: which tool it answers

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> Message:
        """From the API's shape (or a widget's stored message: keys it does not know are left out)."""
        calls = data.get("tool_calls") or []
        return cls(str(data.get("role", "user")), str(data.get("content") or ""), str(data.get("thinking") or ""),
                   [str(i) for i in data.get("images") or []],
                   [ToolCall.from_wire(c) for c in calls if isinstance(c, Mapping)], str(data.get("tool_name") or ""))

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.thinking:
            wire["thinking"] = self.thinking
        if self.images:
            wire["images"] = list(self.images)
        if self.tool_calls:
            wire["tool_calls"] = [c.to_wire() for c in self.tool_calls]
        if self.tool_name:
            wire["tool_name"] = self.tool_name
        return wire


@dataclass(frozen=True)
class Thinking:
    """A piece of the model's thinking, before its answer."""

    text: str


@dataclass(frozen=True)
class Content:
    """A piece of the answer."""

    text: str


@dataclass(frozen=True)
class ToolCalls:
    """Tool calls, each in the chunk where the server parsed it."""

    calls: tuple[ToolCall, ...]


Delta = Thinking | Content | ToolCalls


@dataclass(frozen=True)
class Stats:
    """A reply's last chunk: why it ended and its timings (Ollama's api.Metrics; durations in nanoseconds)."""

    done_reason: str = ""
    total_duration: int = 0
    load_duration: int = 0
    prompt_eval_count: int = 0
    prompt_eval_duration: int = 0
    eval_count: int = 0
    eval_duration: int = 0

    @classmethod
    def from_chunk(cls, chunk: Mapping[str, Any]) -> Stats:
        def number(key: str) -> int:
            value = chunk.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else 0

        return cls(str(chunk.get("done_reason") or ""), number("total_duration"), number("load_duration"),
                   number("prompt_eval_count"), number("prompt_eval_duration"), number("eval_count"),
                   number("eval_duration"))

    @property
    def tokens_per_second(self) -> float | None:
        """The decode rate, or None without a count and a duration."""
        return self.eval_count / (self.eval_duration / 1e9) if self.eval_count and self.eval_duration else None

    def summary(self) -> str:
        """The block `ollama run --verbose` prints (api.Metrics.Summary)."""
        lines = []

        def add(label: str, value: str) -> None:
            lines.append(f"{label + ':':<22}{value}")

        if self.total_duration:
            add("total duration", go_duration(self.total_duration))
        if self.load_duration:
            add("load duration", go_duration(self.load_duration))
        for prefix, count, duration in (("prompt eval", self.prompt_eval_count, self.prompt_eval_duration),
                                        ("eval", self.eval_count, self.eval_duration)):
            if count:
                add(f"{prefix} count", f"{count} token(s)")
            if duration:
                add(f"{prefix} duration", go_duration(duration))
                add(f"{prefix} rate", f"{count / (duration / 1e9):.2f} tokens/s")
        return "\n".join(lines)


@dataclass
class ChatRequest:
    """The body of POST /api/chat, streamed."""

    model: str
    messages: list[Message]
    options: dict[str, Any] = field(default_factory=dict)
    format: str | dict[str, Any] | None = None  # "json" or a JSON schema
    think: bool | str | None = None  # None: the server's default for the model (on, for a thinking model)
    keep_alive: str | int | float | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "messages": [m.to_wire() for m in self.messages],
                                "options": dict(self.options), "stream": True}
        for key, value in (("format", self.format), ("think", self.think), ("keep_alive", self.keep_alive)):
            if value is not None and value != "":
                body[key] = value
        if self.tools:
            body["tools"] = list(self.tools)
        return body


class ChatTurn:
    """One reply streaming from the server: iterate for its deltas; `cancel()` from any thread.

    Read it in one thread, and `close()` it there (or use `with`) if you stop reading early:
    the connection is then hung up at once rather than when the iterator is collected.
    """

    def __init__(self, client: Client, request: ChatRequest, on_end: Callable[[ChatTurn], None] | None = None) -> None:
        self.client, self.request = client, request
        self.thinking = ""
        self.content = ""
        self.tool_calls: list[ToolCall] = []
        self.stats: Stats | None = None  # set by the last chunk
        self.error: Exception | None = None
        self._on_end = on_end
        self._cancel = threading.Event()
        self._response: httpx.Response | None = None
        self._deltas: Generator[Delta, None, None] | None = None
        self._ended = False
        self._lock = threading.Lock()

    @property
    def done(self) -> bool:
        """The server finished the reply (its last chunk came)."""
        return self.stats is not None

    @property
    def cancelled(self) -> bool:
        """Stopped before its end: `cancel()`, `close()`, or an interrupt while it was read."""
        return self._cancel.is_set()

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def reply(self) -> Message:
        """The assistant's message as far as it arrived."""
        return Message("assistant", self.content, self.thinking, tool_calls=list(self.tool_calls))

    @property
    def has_output(self) -> bool:
        return bool(self.content or self.thinking or self.tool_calls)

    def __iter__(self) -> Iterator[Delta]:
        if self._deltas is None:
            self._deltas = self._read()
        return self._deltas

    def __enter__(self) -> ChatTurn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def result(self) -> Message:
        """Read the rest of the reply and give it."""
        for _ in self:
            pass
        return self.reply

    def cancel(self) -> None:
        """Stop the reply now, from any thread: the connection is hung up, so the server stops
        generating and frees the slot; what arrived stays (`hang_up` wakes a blocked reader at once)."""
        self._cancel.set()
        response = self._response
        if response is not None:
            hang_up(response)

    def close(self) -> None:
        """End the turn where it is, in the thread that reads it: a reply still coming is hung up."""
        if self._deltas is not None:
            self._deltas.close()  # its `finally` closes the stream: the connection goes, not back to the pool
        self._end()

    def _opened(self, response: httpx.Response) -> None:
        self._response = response
        if self._cancel.is_set():  # cancel() came while the request was being sent
            hang_up(response)

    def _read(self) -> Generator[Delta, None, None]:
        try:
            if self._cancel.is_set():
                return
            events = self.client.stream("/api/chat", self.request.body(), opened=self._opened)
            try:
                for event in events:
                    if self._cancel.is_set():
                        break
                    yield from self._deltas_of(event)
                    if event.get("done"):
                        self.stats = Stats.from_chunk(event)
            finally:
                events.close()
            if self.stats is None and not self._cancel.is_set():
                raise ClientError(EARLY_END)
        except Exception as err:
            if not self._cancel.is_set():  # a hang-up after cancel() is no error
                self.error = err
                raise
        finally:
            self._end()

    def _deltas_of(self, event: Mapping[str, Any]) -> Iterator[Delta]:
        message = event.get("message") or {}
        if thinking := message.get("thinking"):
            self.thinking += thinking
            yield Thinking(thinking)
        if content := message.get("content"):
            self.content += content
            yield Content(content)
        if calls := message.get("tool_calls"):
            parsed = tuple(ToolCall.from_wire(c) for c in calls if isinstance(c, Mapping))
            self.tool_calls += parsed
            yield ToolCalls(parsed)

    def _end(self) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = True
        if self.stats is None and self.error is None:
            self._cancel.set()  # closed or interrupted before its end
        if self._on_end is not None:
            self._on_end(self)


@dataclass
class Chat:
    """A conversation with `model`, and the settings every turn sends."""

    model: str
    system: str = ""
    messages: list[Message] = field(default_factory=list)  # the exchanges so far, without the system prompt
    options: dict[str, Any] = field(default_factory=dict)
    format: str | dict[str, Any] | None = None
    think: bool | str | None = None
    keep_alive: str | int | float | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)

    def request(self, asked: Message) -> ChatRequest:
        """The request for the next turn: the system prompt, the conversation, then `asked`."""
        history = [Message("system", self.system)] if self.system else []
        return ChatRequest(self.model, [*history, *self.messages, asked], dict(self.options), self.format,
                           self.think, self.keep_alive, list(self.tools))

    def turn(self, client: Client, prompt: str | Message, images: Sequence[str] = ()) -> ChatTurn:
        """Send the next user message (with `images`, base64); the exchange joins the conversation when the turn ends."""
        asked = prompt if isinstance(prompt, Message) else Message("user", prompt, images=list(images))
        return ChatTurn(client, self.request(asked), on_end=lambda turn: self._record(asked, turn))

    def _record(self, asked: Message, turn: ChatTurn) -> None:
        if turn.error is None and (turn.done or turn.has_output):
            self.messages += [asked, turn.reply]

    def clear(self) -> None:
        self.messages.clear()
