"""`jupyter-ollama run`: one prompt, or an interactive chat like `ollama run`."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from ..client import Client, ClientError
from ..store.options import parse_parameter
from ..views import describe

HELP = """Available Commands:
  /set parameter ...     Set a parameter
  /set system <string>   Set system message
  /show info             Show details for this model
  /show modelfile        Show Modelfile for this model
  /show parameters       Show parameters for this model
  /show system           Show system message
  /show template         Show prompt template
  /clear                 Clear session context
  /bye                   Exit
  /?, /help              Help for a command

Use \"\"\" to begin a multi-line message."""


class ChatSession:
    def __init__(self, client: Client, model: str, options: dict[str, Any], keep_alive: str | None, fmt: str | None, out: TextIO) -> None:
        self.client, self.model, self.out = client, model, out
        self.options = dict(options)
        self.keep_alive, self.format = keep_alive, fmt
        self.messages: list[dict[str, Any]] = []
        self.system: str | None = None

    def body(self, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "options": self.options, **extra}
        if self.keep_alive is not None:
            body["keep_alive"] = self.keep_alive
        if self.format:
            body["format"] = self.format
        return body

    def ask(self, prompt: str) -> str:
        """Send one user turn, stream the reply to the terminal, keep it in the history."""
        turn = ([{"role": "system", "content": self.system}] if self.system else []) + self.messages
        turn.append({"role": "user", "content": prompt})
        parts = []
        for event in self.client.stream("/api/chat", self.body(messages=turn)):
            piece = event.get("message", {}).get("content", "")
            parts.append(piece)
            self.out.write(piece)
            self.out.flush()
        self.out.write("\n\n" if self.out.isatty() else "\n")
        reply = "".join(parts)
        self.messages += [{"role": "user", "content": prompt}, {"role": "assistant", "content": reply}]
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
        elif head == "/set" and len(words) >= 4 and words[1] == "parameter":
            name, raw = words[2], " ".join(words[3:])
            try:
                value = parse_parameter(name, raw)
            except Exception as err:  # a bad value is reported, the session goes on
                print(f"Couldn't set parameter: {getattr(err, 'message', err)}", file=self.out)
            else:
                self.options[name] = value
                print(f"Set parameter '{name}' to '{raw}'", file=self.out)
        elif head == "/set" and len(words) >= 3 and words[1] == "system":
            self.system = line.split(None, 2)[2]
            print("Set system message.", file=self.out)
        elif head == "/show" and len(words) == 2:
            self.show(words[1])
        else:
            print(f"Unknown command '{line}'. Type /? for help", file=self.out)
        return True

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


def run(
    model: str, prompt: str | None, keep_alive: str | None, fmt: str | None,
    stdin: TextIO = sys.stdin, out: TextIO = sys.stdout, client: Client | None = None,
) -> int:
    client = client or Client()
    client.request("POST", "/api/show", {"model": model})  # a clear "not found" before anything else
    session = ChatSession(client, model, {}, keep_alive, fmt, out)
    if prompt is None and not stdin.isatty():
        prompt = stdin.read()  # `echo hi | jupyter-ollama run m`
    if prompt:
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
        except ClientError as err:
            print(f"Error: {err.message}", file=out)
