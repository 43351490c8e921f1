"""`jupyter-ollama run`: one prompt, or an interactive chat, as `ollama run` (cmd/cmd.go, cmd/interactive.go).

A model that is not here is pulled first, with progress. Piped input comes before the
prompt's words (`cat notes.txt | jupyter-ollama run m summarize`). An embedding model
prints the prompt's embedding as a JSON array. `--verbose` (or `/set verbose`) prints
the timings after each reply, `--think` asks a thinking model to think aloud, and
`--hidethinking` keeps its thoughts off the screen. For a model that reads images, image
files named in a prompt (`./cat.png`) are sent as images (cli/images.py).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, TextIO

from ..client import Client, ClientError
from ..format import go_duration
from ..store.options import parse_parameter
from ..templates.capabilities import EMBEDDING, VISION
from ..views import describe
from .images import extract_images
from .transfer import pull

HELP = """Available Commands:
  /set parameter ...     Set a parameter
  /set system <string>   Set system message
  /set think             Enable thinking
  /set nothink           Disable thinking
  /set verbose           Show LLM stats
  /set quiet             Disable LLM stats
  /set format json       Enable JSON mode
  /set noformat          Disable formatting
  /show info             Show details for this model
  /show modelfile        Show Modelfile for this model
  /show parameters       Show parameters for this model
  /show system           Show system message
  /show template         Show prompt template
  /clear                 Clear session context
  /bye                   Exit
  /?, /help              Help for a command

Use \"\"\" to begin a multi-line message."""

THINK_LEVELS = ("high", "medium", "low", "max")
GREY, BOLD, DEFAULT = "\033[38;5;245m", "\033[1m", "\033[0m"


def parse_think(value: str | None) -> bool | str | None:
    """`--think`, `--think=false`, `--think=high`: Ollama's values for the flag."""
    if value is None:
        return None
    text = value.strip().lower()
    if text in ("true", "false"):
        return text == "true"
    if text in THINK_LEVELS:
        return text
    raise ClientError(f"invalid value for --think: {value!r} (true, false, high, medium, low or max)")


@dataclass
class RunOptions:
    keep_alive: str | None = None
    format: str | None = None
    think: bool | str | None = None  # None: the server's default for the model
    hide_thinking: bool = False
    verbose: bool = False
    insecure: bool = False  # for the pull of a model that is not here


def summary(final: dict[str, Any]) -> str:
    """Ollama's `--verbose` block (api.Metrics.Summary), from a reply's last chunk."""
    lines = []

    def add(label: str, value: str) -> None:
        lines.append(f"{label + ':':<22}{value}")

    if final.get("total_duration"):
        add("total duration", go_duration(final["total_duration"]))
    if final.get("load_duration"):
        add("load duration", go_duration(final["load_duration"]))
    for prefix, count_key, duration_key in (("prompt eval", "prompt_eval_count", "prompt_eval_duration"), ("eval", "eval_count", "eval_duration")):
        count, duration = final.get(count_key) or 0, final.get(duration_key) or 0
        if count:
            add(f"{prefix} count", f"{count} token(s)")
        if duration:
            add(f"{prefix} duration", go_duration(duration))
            add(f"{prefix} rate", f"{count / (duration / 1e9):.2f} tokens/s")
    return "\n".join(lines)


class ChatSession:
    def __init__(self, client: Client, model: str, options: dict[str, Any], run: RunOptions, out: TextIO, err: TextIO | None = None) -> None:
        self.client, self.model, self.out = client, model, out
        self.err = err or sys.stderr
        self.options = dict(options)
        self.run = run
        self.messages: list[dict[str, Any]] = []
        self.system: str | None = None
        self.reads_images = False  # the model has a projector: image files named in a prompt go as images

    def body(self, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "options": self.options, **extra}
        if self.run.keep_alive is not None:
            body["keep_alive"] = self.run.keep_alive
        if self.run.format:
            body["format"] = self.run.format
        if self.run.think is not None:
            body["think"] = self.run.think
        return body

    def _write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def _thinking_marks(self) -> tuple[str, str]:
        if self.out.isatty():
            return f"{GREY}{BOLD}Thinking...\n{DEFAULT}{GREY}", f"{GREY}{BOLD}...done thinking.\n\n{DEFAULT}"
        return "Thinking...\n", "...done thinking.\n\n"

    def ask(self, prompt: str) -> str:
        """Send one user turn, stream the reply (and its thinking) to the terminal, keep it in the history."""
        asked: dict[str, Any] = {"role": "user", "content": prompt}
        if self.reads_images:
            found = extract_images(prompt)
            for path in found.files:
                print(f"Added image '{path}'", file=self.err, flush=True)
            if found.images:
                asked = {"role": "user", "content": found.prompt, "images": found.images}
        turn = ([{"role": "system", "content": self.system}] if self.system else []) + self.messages + [asked]
        opening, closing = self._thinking_marks()
        parts, thought, thinking, final = [], "", False, {}
        events = self.client.stream("/api/chat", self.body(messages=turn))
        try:
            for event in events:
                message = event.get("message") or {}
                if message.get("thinking") and not self.run.hide_thinking:
                    if not thinking:
                        self._write(opening)
                        thinking = True
                    thought += message["thinking"]
                    self._write(message["thinking"])
                piece = message.get("content") or ""
                if piece and thinking:
                    self._write(("" if thought.endswith("\n") else "\n") + closing)
                    thinking = False
                parts.append(piece)
                self._write(piece)
                if event.get("done"):
                    final = event
        finally:
            events.close()  # on Ctrl+C too: the server stops generating
        self._write("\n\n" if self.out.isatty() else "\n")
        if self.run.verbose and final:
            print(summary(final), file=self.err, flush=True)
        reply = "".join(parts)
        self.messages += [asked, {"role": "assistant", "content": reply}]
        return reply

    def command(self, line: str) -> bool:
        """Handle a `/` command; False means leave."""
        words = line.split()
        head = words[0].lower()
        if head in ("/bye", "/exit"):
            return False
        if head in ("/?", "/help"):
            print(HELP, file=self.out)
        elif head == "/clear":
            self.messages = []
            print("Cleared session context", file=self.out)
        elif head == "/set" and len(words) >= 2:
            self.set(words[1:], line)
        elif head == "/show" and len(words) == 2:
            self.show(words[1])
        else:
            print(f"Unknown command '{line}'. Type /? for help", file=self.out)
        return True

    def set(self, words: list[str], line: str) -> None:
        """`/set ...`, with Ollama's replies."""
        what = words[0]
        if what == "parameter" and len(words) >= 3:
            name, raw = words[1], " ".join(words[2:])
            try:
                value = parse_parameter(name, raw)
            except Exception as err:  # a bad value is reported, the session goes on
                print(f"Couldn't set parameter: {getattr(err, 'message', err)}", file=self.out)
            else:
                self.options[name] = value
                print(f"Set parameter '{name}' to '{raw}'", file=self.out)
        elif what == "system" and len(words) >= 2:
            self.system = line.split(None, 2)[2]
            print("Set system message.", file=self.out)
        elif what == "think":
            level = words[1] if len(words) > 1 else None
            self.run.think = level or True
            print(f"Set 'think' mode to '{level}'." if level else "Set 'think' mode.", file=self.out)
        elif what == "nothink":
            self.run.think = False
            print("Set 'nothink' mode.", file=self.out)
        elif what in ("verbose", "quiet"):
            self.run.verbose = what == "verbose"
            print(f"Set '{what}' mode.", file=self.out)
        elif what == "format":
            if len(words) < 2 or words[1] != "json":
                print("Invalid or missing format. For 'json' mode use '/set format json'", file=self.out)
            else:
                self.run.format = "json"
                print("Set format to 'json' mode.", file=self.out)
        elif what == "noformat":
            self.run.format = None
            print("Disabled format.", file=self.out)
        else:
            print(f"Unknown command '/set {what}'. Type /? for help", file=self.out)

    def show(self, what: str) -> None:
        info = self.client.request("POST", "/api/show", {"model": self.model})
        if what == "info":
            print(describe(info), file=self.out)
        elif what in ("modelfile", "parameters", "template", "license"):
            print(info.get(what) or f"No {what} was specified for this model.", file=self.out)
        elif what == "system":
            print(self.system or info.get("system") or "No system message was specified for this model.", file=self.out)
        else:
            print(f"Unknown command '/show {what}'. Type /? for help", file=self.out)


def read_message(first: str, stdin: TextIO) -> str:
    """A line, or with a leading \"\"\" every line up to the closing \"\"\"."""
    if not first.startswith('"""'):
        return first
    lines, rest = [], first[3:]
    while True:
        if rest.endswith('"""'):
            lines.append(rest[:-3])
            return "\n".join(lines)
        lines.append(rest)
        nxt = stdin.readline()
        if not nxt:
            return "\n".join(lines)
        rest = nxt.rstrip("\n")


def prompt_of(words: list[str], stdin: TextIO) -> str | None:
    """The one-shot prompt: what was piped in, then the words, joined by a space (as Ollama joins them);
    None (interactive) when there are neither."""
    parts = list(words)
    if not stdin.isatty():
        piped = stdin.read()
        if piped:
            parts.insert(0, piped)
    return " ".join(parts) if parts else None


def model_info(client: Client, model: str, insecure: bool) -> dict[str, Any]:
    """/api/show for `model`, pulling it first (with progress) when it is not here, as `ollama run` does."""
    try:
        return client.request("POST", "/api/show", {"model": model})
    except ClientError as err:
        if err.status != 404:
            raise
    pull(model, insecure, client)
    return client.request("POST", "/api/show", {"model": model})


def embed(client: Client, model: str, text: str, out: TextIO) -> int:
    """`ollama run` on an embedding model: the input's embedding, printed as a JSON array."""
    if not text:
        raise ClientError(f'embedding models require input text. Usage: jupyter-ollama run {model} "your text here"')
    embeddings = client.request("POST", "/api/embed", {"model": model, "input": text}).get("embeddings") or []
    if embeddings:
        print(json.dumps(embeddings[0], separators=(",", ":")), file=out)
    return 0


def run(
    model: str,
    words: list[str],
    options: RunOptions | None = None,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    client: Client | None = None,
) -> int:
    run_options = options or RunOptions()
    client = client or Client()
    prompt = prompt_of(words, stdin)
    info = model_info(client, model, run_options.insecure)
    if EMBEDDING in (info.get("capabilities") or []):
        return embed(client, model, prompt or "", out)
    session = ChatSession(client, model, {}, run_options, out, err)
    session.reads_images = VISION in (info.get("capabilities") or [])
    if prompt is not None:
        session.ask(prompt)
        return 0
    client.request("POST", "/api/generate", session.body(prompt=""))  # load before the first prompt
    while True:
        out.write(">>> ")
        out.flush()
        line = stdin.readline()
        if not line:
            return 0
        line = line.rstrip("\n")
        if not line.strip():
            continue
        if line.startswith("/"):
            if not session.command(line):
                return 0
            continue
        try:
            session.ask(read_message(line, stdin))
        except ClientError as error:
            print(f"Error: {error.message}", file=out)
        except KeyboardInterrupt:  # Ctrl+C stops this reply, not the session
            out.write("\n")
