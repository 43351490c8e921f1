"""`jupyter-ollama`: Ollama's CLI, talking to the server at OLLAMA_HOST (`serve` runs one).

In a JupyterLab terminal, with OLLAMA_HOST unset, it talks to that Jupyter server's extension
(JUPYTER_OLLAMA_URL and JUPYTER_OLLAMA_TOKEN, which the extension exports).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import envconfig
from .._version import __version__
from ..client import Client, ClientError
from ..client.arguments import bare_think, parse_interspersed, parse_think
from ..client.progress import TransferProgress
from ..errors import OllamaError
from ..format import table
from ..views import describe, models_table, running_table, system_text


def cmd_serve(args: argparse.Namespace) -> int:
    from ..server import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpx2"):  # one line per runner or Hub call is noise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if envconfig.debug_level() >= 1:  # OLLAMA_DEBUG=1: our own debug lines (other libraries' stay at INFO)
        logging.getLogger("jupyter_ollama").setLevel(logging.DEBUG)
    asyncio.run(serve())
    return 0


def cmd_create(args: argparse.Namespace) -> int:
    from ..modelfile.parser import parse_modelfile

    path = Path(args.file or "Modelfile")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise ClientError(f"{err.strerror}: {path}") from err
    modelfile = parse_modelfile(text)
    client = Client()

    def upload(file: Path) -> str:
        print(f"gathering model components ({file.name})", flush=True)
        return client.upload_blob(file)

    body = modelfile.create_request(path.parent, upload)
    body["model"] = args.name
    if args.quantize:
        body["quantize"] = args.quantize
    progress = TransferProgress()
    for line in client.stream("/api/create", body):
        if progress.add(line).changed:  # a quantizing line repeats with its progress: said once
            print(progress.status, flush=True)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    print(table(*models_table(Client().request("GET", "/api/tags")["models"])))
    return 0


SHOW_FIELDS = ("modelfile", "parameters", "template", "system", "license")


def cmd_show(args: argparse.Namespace) -> int:
    info = Client().request("POST", "/api/show", {"model": args.name, "verbose": args.verbose})
    for field in SHOW_FIELDS:
        if getattr(args, field):
            print(info.get(field, ""))
            return 0
    print(describe(info))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from .run import RunOptions, run

    options = RunOptions(
        keep_alive=args.keepalive,
        format=args.format,
        think=parse_think(args.think),
        hide_thinking=args.hidethinking,
        verbose=args.verbose,
        insecure=args.insecure,
    )
    return run(args.name, args.prompt, options)


def cmd_ps(args: argparse.Namespace) -> int:
    print(table(*running_table(Client().request("GET", "/api/ps")["models"])))
    return 0


def cmd_system(args: argparse.Namespace) -> int:
    """The server's llama.cpp build (what and why), GPUs and RAM with the models on them; without a server, this machine's."""
    try:
        info = Client().request("GET", "/api/system")
    except ClientError as err:
        if err.status != -1:  # the server answered: its error stands
            raise
        from ..scheduler.system import read

        print("(no server answers: this machine, with no model loaded)")
        info = read([])
    print(system_text(info))
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    Client().request("POST", "/api/generate", {"model": args.name, "keep_alive": 0})
    return 0


def cmd_cp(args: argparse.Namespace) -> int:
    Client().request("POST", "/api/copy", {"source": args.source, "destination": args.destination})
    print(f"copied '{args.source}' to '{args.destination}'")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    client = Client()
    for name in args.names:
        client.request("DELETE", "/api/delete", {"model": name})
        print(f"deleted '{name}'")
    return 0


def cmd_launch(args: argparse.Namespace) -> int:
    from .launch import launch

    return launch(args.agent, args.model, args.args, config_only=args.config)


def cmd_transfer(args: argparse.Namespace) -> int:
    from . import transfer

    return getattr(transfer, args.command)(args.name, args.insecure)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jupyter-ollama", description="Large language models in Jupyter, the Ollama way.")
    parser.add_argument("-v", "--version", action="version", version=f"jupyter-ollama {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, handler: Callable[[argparse.Namespace], int], help: str, aliases: tuple[str, ...] = (),
            **more: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, aliases=list(aliases), **more)
        p.set_defaults(handler=handler)
        return p

    # As `ollama serve --help`, every environment variable with its default and meaning.
    add("serve", cmd_serve, "Start the server (on OLLAMA_HOST, default 127.0.0.1:11434)", ("start",),
        epilog=envconfig.help_text(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p = add("create", cmd_create, "Create a model from a Modelfile")
    p.add_argument("name")
    p.add_argument("-f", "--file", help='Name of the Modelfile (default "Modelfile")')
    p.add_argument("-q", "--quantize", help="Quantize model to this level")
    p = add("run", cmd_run, "Run a model")
    p.add_argument("name")
    p.add_argument("prompt", nargs="*")
    p.add_argument("--keepalive", help="Duration to keep a model loaded (e.g. 5m)")
    p.add_argument("--format", help='Response format (e.g. "json")')
    p.add_argument("--verbose", action="store_true", help="Show timings for response")
    p.add_argument(
        "--think",
        metavar="VALUE",  # a bare --think is --think=true, see main()
        help="Enable thinking mode: true/false or high/medium/low for supported models",
    )
    p.add_argument("--hidethinking", action="store_true", help="Hide thinking output (if provided)")
    p.add_argument("--insecure", action="store_true", help="Use an insecure registry (to pull a model that is not here)")
    add("ps", cmd_ps, "List running models")
    add("system", cmd_system, "Show the llama.cpp build (CUDA or CPU, and why), GPUs and RAM with the models on them")
    p = add("stop", cmd_stop, "Stop a running model")
    p.add_argument("name")
    add("list", cmd_list, "List models", ("ls",))
    p = add("show", cmd_show, "Show information for a model")
    p.add_argument("name")
    for field in SHOW_FIELDS:
        p.add_argument(f"--{field}", action="store_true", help=f"Show the {field} of a model")
    p.add_argument("--verbose", action="store_true", help="Show detailed model information")
    p = add("cp", cmd_cp, "Copy a model")
    p.add_argument("source")
    p.add_argument("destination")
    p = add("rm", cmd_rm, "Remove a model")
    p.add_argument("names", nargs="+")
    p = add("launch", cmd_launch, "Launch a coding agent (Claude Code, Codex, opencode) on a model here")
    p.add_argument("agent", choices=("claude", "codex", "opencode"))
    p.add_argument("-m", "--model", help="The model, one with tools (its full name is what the agent gets)")
    p.add_argument("--config", action="store_true", help="Only write the agent's settings, and print where")
    p.epilog = 'Arguments after -- go to the agent: jupyter-ollama launch claude --model m -- -p "Say hi"'
    for verb, text in (("pull", "Pull a model from a registry"), ("push", "Push a model to a registry")):
        p = add(verb, cmd_transfer, text)
        p.add_argument("name")
        p.add_argument("--insecure", action="store_true", help="Use an insecure registry")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = bare_think(sys.argv[1:] if argv is None else argv)
    passed: list[str] = []
    if argv[:1] == ["launch"] and "--" in argv:  # the agent's own arguments, whatever they look like
        argv, passed = argv[: argv.index("--")], argv[argv.index("--") + 1 :]
    args = parse_interspersed(parser, argv)
    args.args = passed
    if not getattr(args, "handler", None):
        parser.print_help()
        return 0
    try:
        return args.handler(args)
    except (ClientError, OllamaError) as err:
        print(f"Error: {err.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
