"""A completion in Ollama's API (Ollama, another jupyter-ollama): the request body, and its stream read back.

Chat-shaped prompts go to `/api/chat`, which renders them with the engine's own template;
a raw prompt, a suffix or a Modelfile TEMPLATE go to `/api/generate`, which takes those.
The engine splits thinking and tool calls itself; they come back as fields of each `Piece`.
"""

from __future__ import annotations

from typing import Any

from ..runners.protocol import CompletionEvent, CompletionRequest, Done, EmbedRequest, Piece


def completion_body(job: CompletionRequest, model: str) -> tuple[str, dict[str, Any]]:
    """The path and body to send for `job` to an engine that calls the model `model`."""
    prompt = job.prompt
    body: dict[str, Any] = {"model": model, "stream": True}
    if job.options:
        body["options"] = job.options
    if job.format:
        body["format"] = job.format
    if job.logprobs:
        body.update(logprobs=True, top_logprobs=job.top_logprobs)
    if not job.truncate:
        body["truncate"] = False
    if not job.shift:
        body["shift"] = False
    elif job.cut_prompt:
        body["shift"] = True
    if prompt.raw is not None:
        return "/api/generate", {**body, "prompt": prompt.raw, "raw": True}
    if prompt.think is not None:
        body["think"] = prompt.think
    if prompt.suffix or prompt.template:
        # /api/generate's shape: one system prompt and one user prompt, as our generate handler built them.
        system = "\n".join(m.get("content", "") for m in prompt.messages if m.get("role") == "system")
        users = [m for m in prompt.messages if m.get("role") == "user"]
        extra = {k: v for k, v in (("system", system), ("template", prompt.template), ("suffix", prompt.suffix)) if v}
        images = users[-1].get("images") if users else None
        return "/api/generate", {**body, "prompt": users[-1].get("content", "") if users else "", **extra,
                                 **({"images": images} if images else {})}
    chat = {**body, "messages": prompt.messages}
    if prompt.tools:
        chat["tools"] = prompt.tools
    return "/api/chat", chat


def _part(data: dict[str, Any]) -> dict[str, Any]:
    """Where a line's text is: `message` (chat) or the line itself (generate)."""
    message = data.get("message")
    return message if isinstance(message, dict) else data


def read_line(data: dict[str, Any]) -> CompletionEvent | str:
    """One line of the engine's stream as our event; a str is an error the engine reported."""
    if data.get("error"):
        return str(data["error"])
    part = _part(data)
    content = part.get("content", part.get("response", "")) or ""
    if data.get("done"):
        return Done(
            done_reason=str(data.get("done_reason") or "stop"),
            prompt_eval_count=int(data.get("prompt_eval_count") or 0),
            prompt_eval_duration=int(data.get("prompt_eval_duration") or 0),
            eval_count=int(data.get("eval_count") or 0),
            eval_duration=int(data.get("eval_duration") or 0),
        )
    return Piece(content, data.get("logprobs") or None, part.get("thinking") or "", part.get("tool_calls") or None)


def final_piece(data: dict[str, Any]) -> Piece | None:
    """The text a final (`done`) line may still carry, as a Piece before the Done."""
    part = _part(data)
    content = part.get("content", part.get("response", "")) or ""
    calls = part.get("tool_calls") or None
    if content or part.get("thinking") or calls or data.get("logprobs"):
        return Piece(content, data.get("logprobs") or None, part.get("thinking") or "", calls)
    return None


def embed_body(request: EmbedRequest, model: str) -> tuple[str, dict[str, Any]]:
    """`/api/embed` normalizes as we do; the legacy unnormalized vectors come from `/api/embeddings`, one by one."""
    return "/api/embed", {"model": model, "input": request.inputs, "truncate": request.truncate}
