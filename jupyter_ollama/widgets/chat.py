"""`ChatWidget`: a conversation with a model, streamed into the notebook.

Each reply is a turn of the client's chat session (client/chat.py). While it streams, its
text and thinking travel as custom `delta` messages (buffered, about every 40 ms), never
as the whole text again; when it ends, the reply (with its `thinking`) is set once in the
synced `messages` trait, so a view rendered later shows the whole conversation, the
thinking folded above the answer. Generation runs in a thread, so the Stop button works
while the kernel is idle; stopping hangs up the HTTP stream, which frees the server's slot.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import traitlets

from ..client.chat import Chat, ChatTurn, Content, Message, Stats, Thinking, ToolCalls
from ..errors import OllamaError
from ..format import INTERRUPTED
from ..modelfile.options import parse_parameter
from ._base import ServerWidget, Task, front_end, message_of

FLUSH_SECONDS = 0.04  # how often buffered tokens go to the browser

# Items end at a newline, or at a comma or spaces before the next `key=`.
_OPTION_SPLIT = re.compile(r"\n|[,\s]+(?=[A-Za-z_]\w*\s*=)")


def parse_options(text: str) -> dict[str, Any]:
    """Options from a JSON object or `key=value` items (per line, or separated by commas or spaces).

    Values are typed as Modelfile PARAMETERs are; raises ValueError with a message for a person.
    """
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError as err:
            raise ValueError(f"options: invalid JSON ({err})") from None
        if not isinstance(value, dict):
            raise ValueError("options: give a JSON object or key=value items")
        return value
    options: dict[str, Any] = {}
    for item in _OPTION_SPLIT.split(text):
        if not item.strip():
            continue
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"options: expected key=value, got {item.strip()!r}")
        try:
            value = parse_parameter(key, raw.strip())
        except OllamaError as err:
            raise ValueError(f"options: {err.message}") from None
        if isinstance(value, list):  # `stop` may be given several times
            options.setdefault(key, []).extend(value)
        else:
            options[key] = value
    return options


def reply_stats(final: Stats) -> dict[str, Any]:
    """What is shown under a reply, from its final stats."""
    stats: dict[str, Any] = {
        "eval_count": final.eval_count,
        "eval_duration": final.eval_duration,
        "total_duration": final.total_duration,
        "done_reason": final.done_reason or "stop",
    }
    if rate := final.tokens_per_second:
        stats["tokens_per_second"] = round(rate, 1)
    return stats


@dataclass
class _Reply:
    """One reply being generated; finished exactly once (by the thread, or at once by `stop()`)."""

    id: int  # the index it will have in `messages`
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    parts: list[str] = field(default_factory=list)
    thoughts: list[str] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)  # tool calls, as the API sends them
    pending: list[str] = field(default_factory=list)
    pending_thinking: list[str] = field(default_factory=list)
    turn: ChatTurn | None = None
    chunks: int = 0


class ChatWidget(ServerWidget):
    """Chat with `model`: `send_message(text)`, `stop()`, `wait()`, and the conversation in `messages`."""

    _esm = front_end("chat.js")
    _css = front_end("common.css", "chat.css")

    model = traitlets.Unicode("").tag(sync=True)
    models = traitlets.List(traitlets.Unicode()).tag(sync=True)  # the server's models, for the picker
    messages = traitlets.List(traitlets.Dict()).tag(sync=True)  # {role, content[, thinking][, stats]}
    system = traitlets.Unicode("").tag(sync=True)
    options = traitlets.Unicode("").tag(sync=True)  # JSON object or key=value items, see parse_options
    streaming = traitlets.Bool(False).tag(sync=True)

    def __init__(
        self,
        model: str = "",
        *,
        system: str = "",
        options: dict[str, Any] | str | None = None,
        messages: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        text = json.dumps(options) if isinstance(options, dict) else options or ""
        super().__init__(model=model, system=system, options=text, messages=list(messages or []), **kwargs)
        self._current: _Reply | None = None
        self._last: _Reply | None = None
        self._tags = Task("ollama-chat-models")
        self.on_msg(self._on_front_end)
        self.refresh_models()

    # -- the Python API ------------------------------------------------------------

    def send_message(self, text: str) -> bool:
        """Start a reply to `text` in the background; False (with `error` set) if it cannot start."""
        problem = self._refusal(text)
        if problem is None:
            try:
                options = parse_options(self.options)
            except ValueError as err:
                problem = str(err)
        if problem is not None:
            self._update(error=problem)
            return False
        history = [Message.from_wire(m) for m in self.messages]
        chat = Chat(self.model, system=self.system if self.system.strip() else "", messages=history, options=options)
        user = {"role": "user", "content": text}
        reply = _Reply(id=len(history) + 1)
        self._current = self._last = reply
        self._update(messages=[*self.messages, user], streaming=True, error="")
        threading.Thread(target=self._generate, args=(reply, chat, Message("user", text)), name="ollama-chat", daemon=True).start()
        return True

    def stop(self) -> None:
        """End the streaming reply now, keeping what arrived; the server frees the slot."""
        reply = self._current
        if reply is None:
            return
        reply.cancel.set()
        if reply.turn is not None:
            reply.turn.cancel()
        self._finish(reply, {"stopped": True, "eval_count": reply.chunks})

    def wait(self, timeout: float | None = None) -> str | None:
        """Wait for the current reply to end; its text (None if it failed or timed out).

        Kernel > Interrupt stops the reply as Stop does, says so in one line, and gives the text so far.
        """
        reply = self._last
        if reply is None:
            return None
        try:
            if not reply.done.wait(timeout):
                return None
        except KeyboardInterrupt:
            self.stop()
            print(INTERRUPTED)
        last = self.messages[-1] if self.messages else {}
        return last.get("content") if last.get("role") == "assistant" and not self.error else None

    def clear(self) -> None:
        """Forget the conversation (not while a reply streams)."""
        if self._current is not None:
            self._update(error="a reply is streaming: stop it first")
            return
        self._update(messages=[], error="")

    def refresh_models(self) -> None:
        """Ask the server for its models (in the background) to fill the picker."""
        if not self._tags.running:
            self._tags.start(lambda cancel: self._fetch_models())

    def close(self) -> None:
        self.stop()
        super().close()

    # -- the work --------------------------------------------------------------------

    def _refusal(self, text: str) -> str | None:
        if self._current is not None:
            return "a reply is still streaming: stop it first"
        if not isinstance(text, str) or not text.strip():
            return "type a message first"
        if not self.model.strip():
            return "choose a model first"
        return None

    def _fetch_models(self) -> None:
        try:
            with self._connect(timeout=30) as client:
                names = sorted(m["name"] for m in client.request("GET", "/api/tags").get("models", []))
        except Exception as err:  # shown in the widget, never raised into the kernel
            self._update(error=f"could not list the server's models: {message_of(err)}")
            return
        with self._batch():
            self.models = names
            if not self.model and names:
                self.model = names[0]

    def _generate(self, reply: _Reply, chat: Chat, asked: Message) -> None:
        turn: ChatTurn | None = None
        error = None
        try:
            with self._connect() as client:
                turn = reply.turn = chat.turn(client, asked)
                if reply.cancel.is_set():  # stop() came before the turn existed
                    turn.cancel()
                self._read(turn, reply)
        except Exception as err:  # the widget shows it; a hang-up after stop() is no error
            if not reply.cancel.is_set():
                error = message_of(err)
        if reply.cancel.is_set():
            return
        self._flush(reply)
        final = turn.stats if turn is not None else None
        self._finish(reply, reply_stats(final) if final is not None else {"eval_count": reply.chunks}, error)

    def _read(self, turn: ChatTurn, reply: _Reply) -> None:
        """Stream the turn into `reply`, sending deltas about every FLUSH_SECONDS."""
        last_flush = 0.0
        with turn:  # hangs up now if the loop ends early, not when the turn is collected
            for delta in turn:
                if reply.cancel.is_set():
                    break
                if isinstance(delta, Thinking):
                    reply.thoughts.append(delta.text)
                    reply.pending_thinking.append(delta.text)
                elif isinstance(delta, Content):
                    reply.parts.append(delta.text)
                    reply.pending.append(delta.text)
                elif isinstance(delta, ToolCalls):
                    reply.calls += [call.to_wire() for call in delta.calls]
                reply.chunks += 1
                if time.monotonic() - last_flush >= FLUSH_SECONDS:
                    self._flush(reply)
                    last_flush = time.monotonic()

    def _flush(self, reply: _Reply) -> None:
        with reply.lock:
            if (reply.pending or reply.pending_thinking) and not reply.done.is_set():
                delta: dict[str, Any] = {"type": "delta", "id": reply.id, "text": "".join(reply.pending)}
                if reply.pending_thinking:
                    delta["thinking"] = "".join(reply.pending_thinking)
                self.send(delta)
                reply.pending.clear()
                reply.pending_thinking.clear()

    def _finish(self, reply: _Reply, stats: dict[str, Any], error: str | None = None) -> None:
        with reply.lock:
            if reply.done.is_set():
                return
            text, thinking = "".join(reply.parts), "".join(reply.thoughts)
            messages = list(self.messages)
            if text or thinking or reply.calls or (error is None and not stats.get("stopped")):  # a stop before any token leaves none
                message: dict[str, Any] = {"role": "assistant", "content": text}
                if thinking:
                    message["thinking"] = thinking
                if reply.calls:
                    message["tool_calls"] = list(reply.calls)
                messages.append({**message, "stats": stats})
            if self._current is reply:
                self._current = None
            self._update(messages=messages, streaming=False, error=error or "")
            reply.done.set()

    def _on_front_end(self, widget: Any, content: Any, buffers: Any) -> None:
        """Messages from the browser: send, stop, clear, refresh."""
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        try:
            if kind == "send":
                self.send_message(str(content.get("text", "")))
            elif kind == "stop":
                self.stop()
            elif kind == "clear":
                self.clear()
            elif kind == "refresh":
                self.refresh_models()
        except Exception as err:  # never a traceback from a button
            self._update(error=message_of(err))
