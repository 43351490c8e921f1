"""Errors that reach a client, each carrying the HTTP status Ollama answers with.

The store, the Modelfile parser and the manager raise these; the API layer turns
them into `{"error": message}` with `status` (or one error line once a stream has
started). Anything else escaping a handler is a bug, reported as a 500 without a
traceback.
"""

from __future__ import annotations


class OllamaError(Exception):
    """An error with the HTTP status and message a client should see."""

    status: int = 500

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class BadRequest(OllamaError):
    status = 400


# Ollama's words (llm/llama_server.go) for a prompt that does not fit, where it does not shift.
PROMPT_TOO_LONG = ("the prompt is longer than the context length currently available to the model; shorten the prompt, "
                   "adjust the context length in settings, or use a model with a longer context length")


class PromptTooLong(BadRequest):
    """A prompt of `tokens` tokens for a slot of `limit`: refused, never cut in silence. Each route words it
    its own way (OpenAI's `context_length_exceeded`, Anthropic's "prompt is too long")."""

    def __init__(self, tokens: int, limit: int) -> None:
        super().__init__(f"{PROMPT_TOO_LONG} ({tokens} tokens > {limit})")
        self.tokens, self.limit = tokens, limit


class Unauthorized(OllamaError):
    status = 401


class Forbidden(OllamaError):
    status = 403


class NotFound(OllamaError):
    status = 404


class TooLarge(OllamaError):
    status = 413


class TooManyRequests(OllamaError):
    """A requester past one of its limits (OLLAMA_USER_MAX_QUEUE, OLLAMA_USER_TOKENS_PER_HOUR): 429, with the
    seconds to wait before trying again, which the API sends as Retry-After."""

    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Busy(OllamaError):
    status = 503
