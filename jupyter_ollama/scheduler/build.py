"""Which llama.cpp this server runs: the ggml backends it was built with, and why that build.

`make setup` chooses CUDA or the CPU (see the Makefile) and writes its choice and reason into
the virtual environment; llama.cpp itself says what it can do (`llama_supports_gpu_offload`,
`llama_print_system_info`). A llama-cpp-python installed some other way has no record: the
build is still read from the library, the reason is then unknown.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from typing import TypedDict

RECORD = "jupyter-ollama-llama-build.txt"  # in sys.prefix: `key=value` lines (backend, reason, cmake_args)


class LlamaBuild(TypedDict):
    backends: list[str]  # ggml's backends in the library, e.g. ["CUDA", "CPU"]
    gpu_offload: bool  # llama_supports_gpu_offload(): layers can go to a GPU
    cuda_architectures: str  # the CUDA architectures compiled for ("900"); "" in a CPU build
    reason: str  # why this build, as `make setup` recorded it; "" when it was installed another way
    cmake_args: str  # what it was built with, as recorded


def parse_system_info(text: str) -> dict[str, dict[str, str]]:
    """llama_print_system_info() -> {backend: {feature: value}}.

    The text is `NAME : KEY = VALUE | KEY = VALUE | NAME : ...`, one group per ggml backend.
    """
    backends: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for part in text.split("|"):
        name, sep, rest = part.partition(" : ")
        if sep:
            current = backends.setdefault(name.strip(), {})
            part = rest
        key, sep, value = part.partition("=")
        if sep and current is not None:
            current[key.strip()] = value.strip()
    return backends


def read_record(path: Path) -> dict[str, str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    return {key.strip(): value.strip() for key, sep, value in (line.partition("=") for line in lines) if sep}


@lru_cache(maxsize=1)
def llama_build() -> LlamaBuild:
    """Read once per process: the library does not change under a running server."""
    record = read_record(Path(sys.prefix) / RECORD)
    try:
        import llama_cpp

        offload = bool(llama_cpp.llama_supports_gpu_offload())
        info = parse_system_info(llama_cpp.llama_print_system_info().decode(errors="replace"))
    except Exception as err:  # a library that does not load: say so rather than fail /api/system
        return {
            "backends": [],
            "gpu_offload": False,
            "cuda_architectures": "",
            "cmake_args": record.get("cmake_args", ""),
            "reason": f"llama-cpp-python does not load: {err}",
        }
    return {
        "backends": list(info),
        "gpu_offload": offload,
        "cuda_architectures": info.get("CUDA", {}).get("ARCHS", ""),
        "reason": record.get("reason", ""),
        "cmake_args": record.get("cmake_args", ""),
    }
