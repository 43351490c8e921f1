"""What the CLI and the `%ollama` magics show, from the API's replies: the same columns in both.

Each table is a header and rows of strings; the CLI prints it as text (`format.table`),
a notebook renders it as HTML. A reply streams as `Transcript` writes it, in the CLI and in
a terminal's IPython alike.
"""

from __future__ import annotations

import json
from typing import Any

from .format import human_bytes, human_number, human_time

Table = tuple[list[str], list[list[str]]]


def models_table(models: list[dict[str, Any]]) -> Table:
    """`ollama list`: /api/tags models."""
    rows = [[m["name"], m["digest"][:12], human_bytes(m["size"]), human_time(m.get("modified_at"))] for m in models]
    return ["NAME", "ID", "SIZE", "MODIFIED"], rows


def is_remote(model: dict[str, Any]) -> bool:
    """A model served by engines elsewhere (its /api/ps entry has `device: remote` and its pool)."""
    return model.get("device") == "remote" or isinstance(model.get("remote"), dict)


def processor(model: dict[str, Any]) -> str:
    """Ollama's PROCESSOR column: where a loaded model's memory is (`remote`: on its engines)."""
    if is_remote(model):
        return "remote"
    vram, size = model.get("size_vram", 0), model.get("size", 0) or 1
    if vram == 0:
        return "100% CPU"
    if vram >= size:
        return "100% GPU"
    cpu = round(100 * (size - vram) / size)
    return f"{cpu}%/{100 - cpu}% CPU/GPU"


def slots(busy: Any, total: Any) -> str:
    """`busy/total`, `busy/?` where the total is unknown (a remote engine that does not say)."""
    return f"{busy if isinstance(busy, int) else '?'}/{total if isinstance(total, int) and total > 0 else '?'}"


def short_host(url: str) -> str:
    return url.removeprefix("http://").rstrip("/")


def engines(model: dict[str, Any]) -> str:
    """A remote model's ENGINES cell: `2/2 up`, or `1/2 up; down: 127.0.0.1:8081 (why)`."""
    pool = model.get("remote") or {}
    listed = pool.get("engines") or []
    if not listed:
        hosts = model.get("remote_host") or []
        return f"{len(hosts) if isinstance(hosts, list) else 1} (not checked yet)"
    up = sum(e.get("state") == "up" for e in listed)
    down = [f"{short_host(e.get('host', '?'))}" + (f" ({e['error']})" if e.get("error") else "")
            for e in listed if e.get("state") == "down"]
    return f"{up}/{len(listed)} up" + (f"; down: {', '.join(down)}" if down else "")


def running_row(m: dict[str, Any]) -> list[str]:
    if is_remote(m):
        pool = m.get("remote") or {}
        return [m["name"], m.get("digest", "")[:12], "-", "remote", "-",
                slots(pool.get("slots_busy", m.get("slots_busy")), pool.get("slots_total", m.get("slots_total"))),
                str(m.get("requests_queued", 0)), human_time(m.get("expires_at"), "Never"), engines(m)]
    return [m["name"], m["digest"][:12], human_bytes(m["size"]), processor(m), str(m.get("context_length", "")),
            f"{m.get('slots_busy', 0)}/{m.get('slots_total', 0)}", str(m.get("requests_queued", 0)),
            human_time(m.get("expires_at"), "Never")]


def running_table(models: list[dict[str, Any]]) -> Table:
    """`ollama ps` with our slots and queue: /api/ps models. With a remote model, an ENGINES column:
    how many of its pool's engines are up, and which are down and why."""
    header = ["NAME", "ID", "SIZE", "PROCESSOR", "CONTEXT", "SLOTS", "QUEUED", "UNTIL"]
    rows = [running_row(m) for m in models]
    if any(is_remote(m) for m in models):
        header.append("ENGINES")
        rows = [row + [""] * (len(header) - len(row)) for row in rows]
    return header, rows


def describe(info: dict[str, Any]) -> str:
    """The summary `ollama show NAME` prints."""
    details, model_info = info.get("details", {}), info.get("model_info", {})
    arch = model_info.get("general.architecture") or details.get("family", "")
    rows = [
        ("architecture", arch),
        ("parameters", details.get("parameter_size", "")),
        ("context length", model_info.get(f"{arch}.context_length", "")),
        ("embedding length", model_info.get(f"{arch}.embedding_length", "")),
        ("quantization", details.get("quantization_level", "")),
    ]
    sections = [("Model", [(k, str(v)) for k, v in rows if v != ""])]
    sections.append(("Capabilities", [(c, "") for c in info.get("capabilities", [])]))
    if info.get("projector_info"):
        sections.append(("Projector", projector_rows(info["projector_info"])))
    params = [line.split(None, 1) for line in info.get("parameters", "").splitlines() if line.strip()]
    if params:
        sections.append(("Parameters", [(p[0], p[1] if len(p) > 1 else "") for p in params]))
    if info.get("system"):
        sections.append(("System", [(line, "") for line in info["system"].splitlines()[:2]]))
    if info.get("license"):
        sections.append(("License", [(line, "") for line in info["license"].splitlines()[:2]]))
    out = []
    for title, pairs in sections:
        out.append(f"  {title}")
        width = max((len(k) for k, _ in pairs), default=0)
        out.extend(f"    {k.ljust(width)}    {v}".rstrip() for k, v in pairs)
        out.append("")
    return "\n".join(out)


def projector_rows(projector: dict[str, Any]) -> list[tuple[str, str]]:
    """`ollama show`'s Projector section: its kind, size, width and the width it projects to."""
    arch = projector.get("general.architecture") or ""
    rows = [("architecture", arch)] if arch else []
    if isinstance(projector.get("general.parameter_count"), int):
        rows.append(("parameters", human_number(projector["general.parameter_count"])))
    for key, label in (("embedding_length", "embedding length"), ("projection_dim", "dimensions")):
        value = next((projector[k] for k in (f"{arch}.vision.{key}", f"{arch}.audio.{key}") if k in projector), None)
        if value is not None:
            rows.append((label, str(value)))
    return rows


def llama_build_line(build: dict[str, Any]) -> str:
    """`llama.cpp: CUDA (architectures 900) + CPU: GPU offload. Why: ...` from /api/system's `llama_build`."""
    archs = build.get("cuda_architectures") or ""
    backends = " + ".join(f"{b} (architectures {archs})" if b == "CUDA" and archs else b for b in build.get("backends", []))
    offload = "GPU offload" if build.get("gpu_offload") else "CPU only"
    why = f" Why: {build['reason']}." if build.get("reason") else ""
    return f"llama.cpp: {backends or 'unknown'}: {offload}.{why}"


def system_text(info: dict[str, Any]) -> str:
    """`jupyter-ollama system`: the llama.cpp build, then each GPU and RAM with the models on them."""
    lines = [llama_build_line(info.get("llama_build") or {"gpu_offload": info.get("gpu_offload")})]
    for gpu in info.get("gpus", []):
        busy = "" if gpu.get("utilization") is None else f", {gpu['utilization']}% busy"
        lines.append(f"GPU {gpu['index']} {gpu['name']}: {human_bytes(gpu['memory_used'])} / "
                     f"{human_bytes(gpu['memory_total'])} used{busy}")
        for m in gpu.get("models", []):
            measured = "" if m.get("measured") is None else f", NVML measured {human_bytes(m['measured'])}"
            lines.append(f"  {m['name']}: {m.get('layers', '?')} layers, {human_bytes(m.get('estimated', m['size']))} "
                         f"estimated{measured}")
    if not info.get("gpus"):
        lines.append(f"GPU: {info.get('gpu_error') or 'none'}")
    ram = info.get("ram") or {}
    if ram:
        limit = f" (container limit, {ram['source']})" if ram.get("source", "host") != "host" else ""
        lines.append(f"RAM: {human_bytes(ram['used'])} / {human_bytes(ram['total'])} used{limit}")
        lines.extend(f"  {m['name']}: {human_bytes(m['size'])}" for m in ram.get("models", []))
    for e in info.get("evictions", [])[-5:]:
        lines.append(f"evicted {e['model']}{' from ' + e['device'] if e['device'] else ''}: {e['reason']}")
    return "\n".join(lines)


GREY, BOLD, DEFAULT = "\033[38;5;245m", "\033[1m", "\033[0m"


class Transcript:
    """A reply as `ollama run` prints it (cmd/cmd.go `chat`): the thinking between `Thinking...` and
    `...done thinking.` (grey on a terminal), then the answer; tool calls it did not offer, said as such.

    Each method gives the text to write for one piece, in order; `hide_thinking` leaves the thinking out.
    """

    def __init__(self, color: bool = False, hide_thinking: bool = False) -> None:
        self.color, self.hide_thinking = color, hide_thinking
        self._thinking = False  # the thinking part is open
        self._at_line_start = True

    def thinking(self, text: str) -> str:
        if self.hide_thinking or not text:
            return ""
        opening = ""
        if not self._thinking:
            opening = f"{GREY}{BOLD}Thinking...\n{DEFAULT}{GREY}" if self.color else "Thinking...\n"
            self._thinking = True
        self._at_line_start = text.endswith("\n")
        return opening + text

    def content(self, text: str) -> str:
        return self._close() + text if text else ""

    def tool_calls(self, calls: list[tuple[str, Any]]) -> str:
        """Ollama's renderToolCalls: the CLI offers no tools, so a call names a function that does not exist."""
        if not calls:
            return ""
        if not self.color:
            return self._close() + "\n".join(tool_call_lines(calls))
        explain, value = GREY + BOLD, DEFAULT
        lines = tool_call_lines(calls, explain, value)
        return self._close() + explain + "\n".join(lines) + DEFAULT

    def _close(self) -> str:
        if not self._thinking:
            return ""
        self._thinking = False
        closing = f"{GREY}{BOLD}...done thinking.\n\n{DEFAULT}" if self.color else "...done thinking.\n\n"
        return ("" if self._at_line_start else "\n") + closing


def tool_call_lines(calls: list[tuple[str, Any]], explain: str = "", value: str = "") -> list[str]:
    """One line per call (name, arguments), in Ollama's words; `explain`/`value`: its terminal colours."""
    return [f"  Model called a non-existent function '{value}{name}{explain}()' with arguments: "
            f"{value}{json.dumps(arguments, separators=(',', ':'), ensure_ascii=False)}{explain}"
            for name, arguments in calls]
