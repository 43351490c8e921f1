"""The quantizer's own process: `python -m jupyter_ollama.store.quantize_worker SRC DST FTYPE THREADS`.

Runs llama.cpp's `llama_model_quantize` with its default parameters and the wanted ftype, and
reports on stdout, one JSON object a line: `{"tensor": name}` as llama.cpp starts each tensor,
then `{"error": text, "no_space": bool}` if it failed. Exit status 0 means the file is written.
A process of its own keeps llama.cpp's work (and any crash in it) off the server.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import sys

# llama.cpp's per-tensor line: `[   2/ 272] token_embd.weight   - [ 576, 49152, ...], type = f16, ...`
TENSOR_LINE = re.compile(r"^\[\s*(\d+)/\s*(\d+)\]\s+(\S+)")
LOG_LEVEL_ERROR = 4
# Less room than this left on the output's filesystem after a failed write: the disk was full.
NEARLY_FULL = 32 << 20


def emit(event: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def free_bytes(folder: str) -> int:
    stat = os.statvfs(folder)
    return stat.f_frsize * (stat.f_bfree if os.geteuid() == 0 else stat.f_bavail)


def main(argv: list[str]) -> int:
    source, target, ftype, threads = argv[0], argv[1], int(argv[2]), int(argv[3])
    import llama_cpp

    errors: list[str] = []

    @llama_cpp.llama_log_callback
    def on_log(level: int, text: bytes, _data: ctypes.c_void_p) -> None:
        line = text.decode("utf-8", errors="replace")
        match = TENSOR_LINE.match(line)
        if match:
            emit({"tensor": match.group(3)})
        elif level == LOG_LEVEL_ERROR and line.strip():
            errors.append(line.strip())

    llama_cpp.llama_log_set(on_log, ctypes.c_void_p())
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = threads
    status = llama_cpp.llama_model_quantize(source.encode(), target.encode(), ctypes.byref(params))
    if status == 0:
        return 0
    # llama.cpp's last error line says why: `llama_model_quantize: failed to quantize: <reason>`
    reason = errors[-1].split("failed to quantize: ", 1)[-1] if errors else f"llama.cpp returned {status}"
    emit({"error": reason, "no_space": free_bytes(os.path.dirname(target) or ".") < NEARLY_FULL})
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
