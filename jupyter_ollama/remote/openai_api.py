"""A completion in OpenAI's API (vLLM, SGLang, TGI, llama-server): the request body, and its SSE stream read back.

Ollama's options become OpenAI's fields (num_predict is max_tokens; top_k, min_p and
repeat_penalty go as the extra fields vLLM and llama-server take); `format` becomes
`response_format`; `think` becomes `reasoning_effort` or, when off, the chat template's
`enable_thinking`. Streamed tool-call fragments are gathered and come out whole, in
Ollama's shape, when the engine finishes them.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ..runners.protocol import CompletionEvent, CompletionRequest, Done, Piece

# Ollama option -> OpenAI (or vLLM/llama-server extra) field.
OPTION_FIELDS = {
    "temperature": "temperature", "top_p": "top_p", "top_k": "top_k", "min_p": "min_p", "seed": "seed",
    "stop": "stop", "frequency_penalty": "frequency_penalty", "presence_penalty": "presence_penalty",
    "repeat_penalty": "repetition_penalty",
}


def _message(message: dict[str, Any], index: int) -> dict[str, Any]:
    role, content = message.get("role", "user"), message.get("content") or ""
    out: dict[str, Any] = {"role": role, "content": content}
    if message.get("images"):
        out["content"] = [{"type": "text", "text": content}, *(
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{image}"}} for image in message["images"])]
    if message.get("tool_calls"):
        out["tool_calls"] = [
            {"id": call.get("id") or f"call_{index}_{i}", "type": "function",
             "function": {"name": call["function"]["name"], "arguments": json.dumps(call["function"].get("arguments") or {})}}
            for i, call in enumerate(message["tool_calls"])]
    if role == "tool":
        out["tool_call_id"] = message.get("tool_call_id") or message.get("tool_name") or ""
    return out


def completion_body(job: CompletionRequest, model: str) -> tuple[str, dict[str, Any]]:
    """The path and body to send for `job` to an engine that calls the model `model`."""
    prompt, options = job.prompt, job.options
    body: dict[str, Any] = {"model": model, "stream": True, "stream_options": {"include_usage": True}}
    body.update({field: options[key] for key, field in OPTION_FIELDS.items() if options.get(key) is not None})
    if int(options.get("num_predict") or -1) > 0:
        body["max_tokens"] = int(options["num_predict"])
    if job.format == "json":
        body["response_format"] = {"type": "json_object"}
    elif isinstance(job.format, dict):
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "response", "schema": job.format}}
    if prompt.raw is not None:
        if job.logprobs:
            body["logprobs"] = max(job.top_logprobs, 1)
        return "/v1/completions", {**body, "prompt": prompt.raw}
    if job.logprobs:  # llama-server gives no logprobs at all for top_logprobs 0: ask for one, drop it (StreamReader)
        body.update(logprobs=True, top_logprobs=max(job.top_logprobs, 1))
    if isinstance(prompt.think, str):
        body["reasoning_effort"] = prompt.think
    elif prompt.think is False:
        body["chat_template_kwargs"] = {"enable_thinking": False}
    body["messages"] = [_message(m, i) for i, m in enumerate(prompt.messages)]
    if prompt.tools:
        body["tools"] = prompt.tools
    return "/v1/chat/completions", body


def _logprobs(choice: dict[str, Any], top: int) -> list[dict[str, Any]] | None:
    """OpenAI's chat logprobs are Ollama's shape already, with `top` alternatives each; a completion's are
    parallel arrays."""
    logprobs = choice.get("logprobs")
    if not isinstance(logprobs, dict):
        return None
    if isinstance(logprobs.get("content"), list):
        entries = [e for e in logprobs["content"] if isinstance(e, dict)]
        return [{k: v for k, v in e.items() if k != "top_logprobs"} | (
            {"top_logprobs": (e.get("top_logprobs") or [])[:top]} if top else {}) for e in entries] or None
    tokens = logprobs.get("tokens") or []
    values = logprobs.get("token_logprobs") or []
    return [{"token": t, "logprob": v} for t, v in zip(tokens, values, strict=False)] or None


class StreamReader:
    """Reads one streamed completion's SSE lines into Pieces, then one Done with timings we measured."""

    def __init__(self, top_logprobs: int = 0) -> None:
        self.top_logprobs = top_logprobs  # alternatives per token the client asked for
        self.started = time.perf_counter_ns()
        self.first = 0
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish_reason = ""
        self.usage: dict[str, Any] = {}
        self.pieces = 0

    def line(self, text: str) -> list[CompletionEvent] | str:
        """Events for one line (often none); a str is an error the engine reported."""
        if not text.startswith("data:"):
            return []
        payload = text[5:].strip()
        if payload == "[DONE]":
            return []
        try:
            data = json.loads(payload)
        except ValueError:
            return f"a line that is not JSON: {payload[:80]!r}"
        if not isinstance(data, dict):
            return f"a line that is not an object: {payload[:80]!r}"
        if data.get("error"):
            error = data["error"]
            return str(error.get("message") if isinstance(error, dict) else error)
        if isinstance(data.get("usage"), dict):
            self.usage = data["usage"]
        events: list[CompletionEvent] = []
        for choice in data.get("choices") or []:
            delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
            content = delta.get("content") or choice.get("text") or ""
            thinking = delta.get("reasoning_content") or delta.get("reasoning") or ""
            for fragment in delta.get("tool_calls") or []:
                self._gather(fragment)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
            calls = self._finished_calls() if self.finish_reason else None
            logprobs = _logprobs(choice, self.top_logprobs)
            if content or thinking or calls or logprobs:
                self.first = self.first or time.perf_counter_ns()
                self.pieces += 1
                events.append(Piece(content, logprobs, thinking, calls))
        return events

    def _gather(self, fragment: dict[str, Any]) -> None:
        call = self.calls.setdefault(int(fragment.get("index") or 0), {"id": "", "name": "", "arguments": ""})
        function = fragment.get("function") or {}
        call["id"] = fragment.get("id") or call["id"]
        call["name"] += function.get("name") or ""
        call["arguments"] += function.get("arguments") or ""

    def _finished_calls(self) -> list[dict[str, Any]] | None:
        calls, self.calls = self.calls, {}
        out: list[dict[str, Any]] = []
        for _, call in sorted(calls.items()):
            try:
                arguments = json.loads(call["arguments"] or "{}")
            except ValueError:
                arguments = {"_raw": call["arguments"]}  # the engine streamed arguments that are not JSON
            out.append({**({"id": call["id"]} if call["id"] else {}),
                        "function": {"index": len(out), "name": call["name"], "arguments": arguments}})
        return out or None

    def done(self) -> Done:
        end = time.perf_counter_ns()
        first = self.first or end
        reason = {"tool_calls": "stop", "length": "length"}.get(self.finish_reason, "stop")
        return Done(
            done_reason=reason,
            prompt_eval_count=int(self.usage.get("prompt_tokens") or 0),
            prompt_eval_duration=first - self.started,
            eval_count=int(self.usage.get("completion_tokens") or self.pieces),
            eval_duration=end - first,
        )
