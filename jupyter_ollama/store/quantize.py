"""Quantizing a model layer at create time (`ollama create -q`), with llama.cpp's quantizer.

The quantizer runs in a process of its own (`quantize_worker`), so the server's loop and
threads never wait on it and a crash in llama.cpp costs this create only. Progress is
reported as Ollama's `quantizing F16 model to Q4_K_M` lines, counting the source's tensor
bytes as llama.cpp gets through them.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadRequest, OllamaError
from .gguf import GGUFInfo
from .progress import Throttle

# Target names -> llama_ftype. Ollama's ParseFileType accepts F32, F16, BF16, Q8_0, Q4_K_S and
# Q4_K_M (Q4_K as its alias); llama.cpp's other classic types are accepted too.
QUANT_TYPES = {
    "F32": 0, "F16": 1, "BF16": 32, "Q8_0": 7, "Q4_K_S": 14, "Q4_K_M": 15,
    "Q4_0": 2, "Q4_1": 3, "Q5_0": 8, "Q5_1": 9, "Q2_K": 10, "Q3_K_S": 11, "Q3_K_M": 12,
    "Q3_K_L": 13, "Q5_K_S": 16, "Q5_K_M": 17, "Q6_K": 18,
}  # fmt: skip
ALIASES = {"Q4_K": "Q4_K_M"}
# Only unquantized weights are quantized (Ollama's rule: requantizing loses quality twice).
SOURCE_TYPES = ("F16", "BF16", "F32")
ONLY_FROM_UNQUANTIZED = "quantization is only supported for F16, BF16 and F32 models"
# Ollama's placeholder digest on these lines: it keys the client's progress bar.
PROGRESS_DIGEST = "0000000000000000000"


@dataclass(frozen=True)
class QuantType:
    name: str  # Ollama's spelling, e.g. Q4_K_M
    ftype: int  # llama_ftype


def parse_quant_type(text: Any) -> QuantType:
    """Case-insensitive, as Ollama upper-cases it; 400 with the supported list otherwise."""
    name = text.upper() if isinstance(text, str) else repr(text)
    name = ALIASES.get(name, name)
    if name not in QUANT_TYPES:
        supported = ", ".join(QUANT_TYPES)
        raise BadRequest(f"unsupported quantization type {name} - supported types are {supported}")
    return QuantType(name, QUANT_TYPES[name])


def source_type(info: GGUFInfo) -> str:
    """The GGUF's file type by Ollama's name; a missing or zero `general.file_type` is F32."""
    return info.quantization_level if info.file_type else "F32"


def check_source(info: GGUFInfo) -> str:
    kind = source_type(info)
    if kind not in SOURCE_TYPES:
        raise BadRequest(ONLY_FROM_UNQUANTIZED)
    return kind


def quantize_file(
    source: Path, target: Path, info: GGUFInfo, want: QuantType, progress: Callable[[dict[str, Any]], None],
) -> None:
    """Write `source` quantized to `want` at `target`, reporting progress; raises on failure.

    A full disk raises OSError(ENOSPC) so the caller answers it as every other write does.
    """
    status = f"quantizing {source_type(info)} model to {want.name}"
    total = source.stat().st_size
    sizes = {t.name: t.nbytes or 0 for t in info.tensors}
    tensor_bytes = max(1, sum(sizes.values()))
    done, current = 0, ""
    throttle = Throttle()

    def report(completed_bytes: int, force: bool = False) -> None:
        if force or throttle.ready():
            completed = int(total * completed_bytes / tensor_bytes)
            progress({"status": status, "digest": PROGRESS_DIGEST, "total": total, "completed": completed})

    report(0, force=True)
    command = [sys.executable, "-m", "jupyter_ollama.store.quantize_worker", str(source), str(target), str(want.ftype), str(threads())]
    failure: dict[str, Any] = {}
    output: list[str] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as worker:
        try:
            assert worker.stdout is not None
            for line in worker.stdout:
                event = _event(line)
                if event is None:
                    output.append(line.rstrip())
                elif "tensor" in event:
                    done += sizes.get(current, 0)
                    current = event["tensor"]
                    report(done)
                elif "error" in event:
                    failure = event
            code = worker.wait()
        finally:
            if worker.poll() is None:
                worker.kill()
    if code == 0:
        report(tensor_bytes, force=True)
        return
    if failure.get("no_space"):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
    if failure:  # llama.cpp refused the file: the input's fault
        raise BadRequest(f"quantizing to {want.name} failed: {failure.get('error')}")
    reason = output[-1] if output else f"exit status {code}"
    raise OllamaError(f"quantizing to {want.name} failed: the quantizer stopped ({reason})", status=500)


def threads() -> int:
    """The CPUs this process may use (llama.cpp would take every core of the machine)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _event(line: str) -> dict[str, Any] | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None
