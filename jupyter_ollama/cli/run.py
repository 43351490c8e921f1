"""`jupyter-ollama run`: one prompt, or an interactive chat, as `ollama run` (cmd/cmd.go, cmd/interactive.go).

A model that is not here is pulled first, with progress. Piped input comes before the
prompt's words (`cat notes.txt | jupyter-ollama run m summarize`). An embedding model
prints the prompt's embedding as a JSON array. `--verbose` (or `/set verbose`) prints
the timings after each reply, `--think` asks a thinking model to think aloud, and
`--hidethinking` keeps its thoughts off the screen. For a model that reads images, image
files named in a prompt (`./cat.png`) are sent as images (client/images.py). Each reply is a
turn of the client's chat session (client/chat.py), printed as Ollama's CLI prints it
(views.Transcript); the magics and the chat widget use the same session.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, TextIO

from ..client import Client, ClientError
from ..client.chat import Chat, Content, Message, Thinking, ToolCalls
from ..client.images import extract_images
from ..modelfile.options import parse_parameter
from ..templates.capabilities import EMBEDDING, VISION
from ..views import Transcript, describe
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


@dataclass
class RunOptions:
    keep_alive: str | None = None
    format: str | None = None
    think: bool | str | None = None  # None: the server's default for the model
    hide_thinking: bool = False
    verbose: bool = False
    insecure: bool = False  # for the pull of a model that is not here


class ChatSession:
    """`ollama run`'s session: a `Chat` whose replies stream to the terminal, and the `/` commands."""

    def __init__(self, client: Client, model: str, options: dict[str, Any], run: RunOptions, out: TextIO, err: TextIO | None = None) -> None:
        self.client, self.model, self.out = client, model, out
        self.err = err or sys.stderr
        self.run = run
        self.chat = Chat(model, options=dict(options))
        self.reads_images = False  # the model has a projector: image files named in a prompt go as images

    def body(self, **extra: Any) -> dict[str, Any]:
        """A request with this session's settings (the load before the first prompt)."""
        body: dict[str, Any] = {"model": self.model, "options": self.chat.options, **extra}
        if self.run.keep_alive is not None:
            body["keep_alive"] = self.run.keep_alive
        return body

    def _write(self, text: str) -> None:
        if text:
            self.out.write(text)
            self.out.flush()

    def ask(self, prompt: str) -> str:
        """Send one user turn, stream the reply (and its thinking) to the terminal; the conversation keeps it."""
        images: list[str] = []
        if self.reads_images:
            found = extract_images(prompt)
            for path in found.files:
                print(f"Added image '{path}'", file=self.err, flush=True)
            if found.images:
                prompt, images = found.prompt, found.images
        self.chat.format, self.chat.think, self.chat.keep_alive = self.run.format or None, self.run.think, self.run.keep_alive
        transcript = Transcript(color=self.out.isatty(), hide_thinking=self.run.hide_thinking)
        with self.chat.turn(self.client, Message("user", prompt, images=images)) as turn:
            for delta in turn:  # Ctrl+C ends the turn here: the server stops generating
                if isinstance(delta, Thinking):
                    self._write(transcript.thinking(delta.text))
                elif isinstance(delta, Content):
                    self._write(transcript.content(delta.text))
                elif isinstance(delta, ToolCalls):
                    self._write(transcript.tool_calls([(c.name, c.arguments) for c in delta.calls]))
        self._write("\n\n" if self.out.isatty() else "\n")
        if self.run.verbose and turn.stats is not None:
            print(turn.stats.summary(), file=self.err, flush=True)
        return turn.content

    def command(self, line: str) -> bool:
        """Handle a `/` command; False means leave."""
        words = line.split()
        head = words[0].lower()
        if head in ("/bye", "/exit"):
            return False
        if head in ("/?", "/help"):
            print(HELP, file=self.out)
        elif head == "/clear":
            self.chat.clear()
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
                self.chat.options[name] = value
                print(f"Set parameter '{name}' to '{raw}'", file=self.out)
        elif what == "system" and len(words) >= 2:
            self.chat.system = line.split(None, 2)[2]
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
            print(self.chat.system or info.get("system") or "No system message was specified for this model.", file=self.out)
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
