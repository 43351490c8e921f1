"""`%ollama` and `%%ollama`: models from a notebook cell.

    %ollama run MODEL PROMPT        stream an answer into the cell (the reply is the cell's value);
                                    image files it names (./cat.png) go to a model that reads images
    %%ollama run MODEL              the cell body is the prompt
    %ollama chat MODEL PROMPT       a conversation kept per model in this kernel (--reset clears it)
    %ollama chat MODEL --widget     a chat widget: streaming Markdown, Stop, model picker
    %ollama pull MODEL              a progress widget in a notebook, bars in a terminal (--insecure: http registry)
    %ollama gpu                     the server's GPUs and RAM, split by loaded model, refreshed every second
    %ollama list | ps | show MODEL | rm MODEL | cp SRC DST | stop MODEL
    %%ollama create NAME            the cell body is a Modelfile
    %ollama host                    which server is in use and how it was found

Options for run/chat: --system TEXT, --format json, -o key=value (any Ollama
option), --keepalive 5m, --think[=false|high|medium|low], --hidethinking, --insecure.
A thinking model's thoughts show quoted above its answer (--hidethinking leaves
them out). `{name}` in a prompt is replaced by that variable of the notebook. A
model that is not here yet is pulled first, as `ollama run` does. Kernel > Interrupt
stops a reply and keeps what arrived.
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path
from typing import Any, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from ..client import ClientError
from ..client.arguments import bare_think, parse_interspersed, parse_think
from ..client.chat import Chat, Content, Message, Thinking, ToolCalls
from ..client.images import extract_images
from ..client.progress import TransferProgress
from ..discovery import Endpoint, find_server
from ..errors import BadRequest, OllamaError
from ..format import INTERRUPTED, human_bytes
from ..modelfile.options import parse_parameter
from ..modelfile.parser import parse_modelfile
from ..templates.capabilities import VISION
from ..views import describe, models_table, running_table
from .display import LiveText, PartialReply, Progress, Reply, Table, in_notebook


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse would exit the kernel's process
        raise UsageError(f"%ollama: {message}")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%ollama", add_help=False)
    sub = parser.add_subparsers(dest="command")
    for name in ("run", "chat"):
        p = sub.add_parser(name, add_help=False)
        p.add_argument("model")
        p.add_argument("prompt", nargs="*")
        p.add_argument("--system")
        p.add_argument("--format")
        p.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE")
        p.add_argument("--keepalive")
        p.add_argument("--think", metavar="VALUE")  # a bare --think is --think=true (bare_think)
        p.add_argument("--hidethinking", action="store_true")
        p.add_argument("--insecure", action="store_true")  # a model not here is pulled first, over http
        if name == "chat":
            p.add_argument("--reset", action="store_true")
            p.add_argument("--widget", action="store_true")
    for name in ("pull", "show", "rm", "stop", "create"):
        p = sub.add_parser(name, add_help=False)
        p.add_argument("model")
        if name == "pull":
            p.add_argument("--insecure", action="store_true")
    p = sub.add_parser("cp", add_help=False)
    p.add_argument("source")
    p.add_argument("destination")
    for name in ("list", "ls", "ps", "gpu", "host", "help"):
        sub.add_parser(name, add_help=False)
    return parser


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}")


def interpolate(text: str, namespace: dict[str, Any]) -> str:
    """`{name}` and `{obj.attr}` from the notebook's variables; anything else (JSON braces) is left alone."""

    def value(match: re.Match[str]) -> str:
        first, *rest = match.group(1).split(".")
        if first not in namespace:
            return match.group(0)
        obj = namespace[first]
        for attr in rest:
            if not hasattr(obj, attr):
                return match.group(0)
            obj = getattr(obj, attr)
        return str(obj)

    return _PLACEHOLDER.sub(value, text)


@magics_class
class OllamaMagics(Magics):
    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.chats: dict[str, Chat] = {}  # `%ollama chat`: one conversation per model

    @property
    def user_ns(self) -> dict[str, Any]:
        """The notebook's variables, for `{name}` in prompts and Modelfiles."""
        assert self.shell is not None  # magics are registered on a shell
        return self.shell.user_ns

    @property
    def endpoint(self) -> Endpoint:
        return find_server()

    @line_cell_magic
    def ollama(self, line: str, cell: str | None = None) -> Any:
        try:
            args = parse_interspersed(_parser(), bare_think(shlex.split(line)))
        except ValueError as err:  # unbalanced quotes
            raise UsageError(f"%ollama: {err}") from None
        command = args.command or "help"
        handler = getattr(self, f"do_{'list' if command == 'ls' else command}")
        try:
            return handler(args, cell)
        except ClientError as err:
            raise UsageError(f"Error: {err.message}") from None
        except BadRequest as err:  # a Modelfile or parameter refused before anything was sent
            raise UsageError(f"Error: {err}") from None

    # -- talking to a model -----------------------------------------------------

    def _options(self, args: argparse.Namespace) -> dict[str, Any]:
        options = {}
        for item in args.option:
            key, sep, raw = item.partition("=")
            if not sep:
                raise UsageError(f"%ollama: -o takes key=value, got {item!r}")
            try:
                options[key.strip()] = parse_parameter(key.strip(), raw.strip())
            except OllamaError as err:
                raise UsageError(f"%ollama: -o {item}: {err.message}") from None
        return options

    def _prompt(self, args: argparse.Namespace, cell: str | None) -> str:
        text = cell if cell is not None and cell.strip() else " ".join(args.prompt)
        if not text.strip():
            raise UsageError(f"%ollama {args.command}: give a prompt after the model, or use %%ollama {args.command} MODEL")
        return interpolate(text, self.user_ns)

    def _stream_chat(self, args: argparse.Namespace, chat: Chat, asked: Message) -> Reply:
        """One turn of `chat` with this magic's settings, streamed into the cell; the reply is the value."""
        chat.options, chat.format = self._options(args), args.format or None
        chat.keep_alive, chat.think = args.keepalive or None, parse_think(args.think)
        live = LiveText(hide_thinking=args.hidethinking)
        interrupted = False
        with self.endpoint.client() as client:
            turn = chat.turn(client, asked)
            try:
                for delta in turn:
                    if isinstance(delta, Thinking):
                        live.add_thinking(delta.text)
                    elif isinstance(delta, Content):
                        live.add(delta.text)
                    elif isinstance(delta, ToolCalls):
                        live.add_tool_calls([(call.name, call.arguments) for call in delta.calls])
            except KeyboardInterrupt:  # Kernel > Interrupt
                interrupted = True
            finally:
                turn.close()  # hangs up now: the server stops generating and frees the slot
                # A whole answer is the cell's value, rendered as Markdown: the live view goes.
                # An interrupted one stays where it is, as far as it got.
                live.close(keep=interrupted)
        kind = PartialReply if interrupted else Reply
        if interrupted:
            print(INTERRUPTED)
        # The value is what the cell shows (an interrupt may land between a piece's arrival and its display).
        return kind.of(live.text, is_json=bool(args.format), thinking=live.thinking, calls=live.calls)

    def _asking(self, model: str, prompt: str) -> Message:
        """The user's message: image files it names go as images where the model reads them (as `ollama run`)."""
        found = extract_images(prompt, Path.cwd())
        if not found.images:
            return Message("user", prompt)
        with self.endpoint.client() as client:
            capabilities = client.request("POST", "/api/show", {"model": model}).get("capabilities") or []
        if VISION not in capabilities:
            return Message("user", prompt)
        for path in found.files:
            print(f"Added image '{path}'")
        return Message("user", found.prompt, images=found.images)

    def do_run(self, args: argparse.Namespace, cell: str | None) -> Reply | None:
        prompt = self._prompt(args, cell)
        if not self._ensure_model(args.model, args.insecure):
            return None
        return self._stream_chat(args, Chat(args.model, system=args.system or ""), self._asking(args.model, prompt))

    def do_chat(self, args: argparse.Namespace, cell: str | None) -> Any:
        if args.widget:
            return self._chat_widget(args, cell)
        chat = self.chats.setdefault(args.model, Chat(args.model))
        if args.reset:
            chat.clear()
            chat.system = ""
            if not args.prompt and not (cell and cell.strip()):
                print(f"Forgot the conversation with {args.model}.")
                return None
        if args.system and not chat.messages:
            chat.system = args.system
        prompt = self._prompt(args, cell)
        if not self._ensure_model(args.model, args.insecure):
            return None
        return self._stream_chat(args, chat, self._asking(args.model, prompt))

    def _chat_widget(self, args: argparse.Namespace, cell: str | None) -> Any:
        if not in_notebook():
            raise UsageError("%ollama chat --widget needs a notebook; in a terminal, use %ollama chat MODEL PROMPT")
        unsupported = [
            flag
            for flag, value in (("--format", args.format), ("--keepalive", args.keepalive), ("--think", args.think),
                                ("--hidethinking", args.hidethinking), ("--reset", args.reset))
            if value
        ]
        if unsupported:
            raise UsageError(f"%ollama chat --widget: {', '.join(unsupported)} not supported with --widget (use --system and -o)")
        from ..widgets import ChatWidget

        widget = ChatWidget(args.model, system=args.system or "", options=self._options(args), endpoint=self.endpoint)
        text = cell if cell is not None and cell.strip() else " ".join(args.prompt)
        if text.strip():
            widget.send_message(interpolate(text, self.user_ns))
        return widget

    # -- managing models ----------------------------------------------------------

    def do_pull(self, args: argparse.Namespace, cell: str | None) -> None:
        self._pull(args.model, args.insecure)

    def _pull(self, model: str, insecure: bool = False) -> bool:
        """Pull with progress: a widget in a notebook, lines in a terminal. False (said) if interrupted.

        The next cell may use the model: the pull finishes first, as `ollama pull` does.
        """
        if not in_notebook():
            progress = Progress()
            with self.endpoint.client() as client:
                events = client.stream("/api/pull", {"model": model, "insecure": insecure})
                try:
                    for event in events:
                        progress.update(event)
                except KeyboardInterrupt:
                    print(INTERRUPTED)
                    return False
                finally:
                    events.close()  # the server stops the download and keeps the parts
            return True
        from IPython.display import display

        from ..widgets import PullWidget

        widget = PullWidget(model, insecure=insecure, endpoint=self.endpoint)
        display(widget)
        if widget.wait():
            return True
        if widget.cancelled:  # Kernel > Interrupt: wait() said so
            return False
        raise UsageError(f"Error: {widget.error}")

    def _ensure_model(self, model: str, insecure: bool = False) -> bool:
        """Ollama's `run`: a model that is not here yet is pulled first, with progress. False (said) if interrupted."""
        with self.endpoint.client() as client:
            if client.has_model(model):
                return True
        return self._pull(model, insecure)

    def do_gpu(self, args: argparse.Namespace, cell: str | None) -> Any:
        if in_notebook():
            from ..widgets import GpuMonitor

            return GpuMonitor(endpoint=self.endpoint)
        info = self.endpoint.client().request("GET", "/api/system")
        for gpu in info.get("gpus", []):
            busy = "n/a" if gpu.get("utilization") is None else f"{gpu['utilization']}%"
            print(f"GPU {gpu['index']} {gpu['name']}: {human_bytes(gpu['memory_used'])} / {human_bytes(gpu['memory_total'])} used, {busy} busy")
            for m in gpu.get("models", []):
                print(f"  {m['name']}: {human_bytes(m['size'])}")
        if not info.get("gpus"):
            print(f"No NVIDIA GPU on the server: models run on the CPU ({info.get('gpu_error')})")
        ram = info["ram"]
        print(f"RAM: {human_bytes(ram['used'])} / {human_bytes(ram['total'])} used, CPU {info.get('cpu_percent', 0):.0f}%")
        for m in ram.get("models", []):
            print(f"  {m['name']}: {human_bytes(m['size'])}")

    def do_list(self, args: argparse.Namespace, cell: str | None) -> Table:
        return Table(
            *models_table(self.endpoint.client().request("GET", "/api/tags")["models"]),
            empty="No models yet: %ollama pull NAME, or %%ollama create NAME with a Modelfile.",
        )

    def do_ps(self, args: argparse.Namespace, cell: str | None) -> Table:
        return Table(
            *running_table(self.endpoint.client().request("GET", "/api/ps")["models"]), empty="No model is loaded: %ollama run NAME loads one."
        )

    def do_show(self, args: argparse.Namespace, cell: str | None) -> None:
        info = self.endpoint.client().request("POST", "/api/show", {"model": args.model})
        print(describe(info))
        return None

    def do_rm(self, args: argparse.Namespace, cell: str | None) -> None:
        self.endpoint.client().request("DELETE", "/api/delete", {"model": args.model})
        print(f"deleted '{args.model}'")

    def do_cp(self, args: argparse.Namespace, cell: str | None) -> None:
        self.endpoint.client().request("POST", "/api/copy", {"source": args.source, "destination": args.destination})
        print(f"copied '{args.source}' to '{args.destination}'")

    def do_stop(self, args: argparse.Namespace, cell: str | None) -> None:
        self.endpoint.client().request("POST", "/api/generate", {"model": args.model, "keep_alive": 0})
        print(f"stopped '{args.model}'")

    def do_create(self, args: argparse.Namespace, cell: str | None) -> None:
        if not cell or not cell.strip():
            raise UsageError("%%ollama create NAME: the cell body is the Modelfile (FROM /path/to/model.gguf ...)")
        client = self.endpoint.client()
        modelfile = parse_modelfile(interpolate(cell, self.user_ns))
        body = modelfile.create_request(Path.cwd(), client.upload_blob)
        body["model"] = args.model
        if "from" in body and not self._ensure_model(body["from"]):  # FROM a model not here: Ollama pulls it
            return
        progress = TransferProgress()
        for line in client.stream("/api/create", body):
            step = progress.add(line)
            if step.changed and (step.status in ("parsing GGUF", "writing manifest", "success") or step.status.startswith("creating")):
                print(step.status)

    def do_host(self, args: argparse.Namespace, cell: str | None) -> None:
        endpoint = self.endpoint
        print(f"{endpoint.url} ({endpoint.how})")

    def do_help(self, args: argparse.Namespace, cell: str | None) -> None:
        print(__doc__)
