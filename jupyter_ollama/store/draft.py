"""A model's draft model (Modelfile DRAFT, /api/create `draft_files`): checked at create, before it is stored.

The runner reads the draft's guesses as the model's own token ids, so the two must share a
vocabulary. As llama.cpp's speculative decoding checks it (common_speculative_are_compatible):
the same tokenizer kind, the same special tokens, vocabularies within 128 tokens of each other
(padding), and the same text for every token id both have.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import BadRequest
from .gguf import GGUFInfo, read_gguf

REMOTE_DRAFT = "DRAFT cannot be used with remote models"  # Ollama's errRemoteDraftUnsupported
MAX_VOCAB_DIFFERENCE = 128  # llama.cpp's SPEC_VOCAB_MAX_SIZE_DIFFERENCE
SPECIAL_TOKENS = ("bos", "eos")


def vocabulary_difference(model: GGUFInfo, draft: GGUFInfo) -> str | None:
    """How the draft's vocabulary differs from the model's, in words; None when the draft can guess for it."""
    kinds = [info.get("tokenizer.ggml.model") for info in (model, draft)]
    if kinds[0] != kinds[1]:
        return f"its tokenizer is {kinds[1]!r}, the model's is {kinds[0]!r}"
    tokens = [_tokens(info) for info in (model, draft)]
    if not tokens[0] or not tokens[1]:
        return "one of them has no vocabulary in its GGUF"
    if abs(len(tokens[0]) - len(tokens[1])) > MAX_VOCAB_DIFFERENCE:
        return f"it has {len(tokens[1])} tokens, the model {len(tokens[0])}"
    for special in SPECIAL_TOKENS:
        ids = [info.get(f"tokenizer.ggml.{special}_token_id") for info in (model, draft)]
        if ids[0] != ids[1]:
            return f"its {special.upper()} token is {ids[1]}, the model's is {ids[0]}"
    for index, (ours, theirs) in enumerate(zip(tokens[0], tokens[1], strict=False)):
        if ours != theirs:
            return f"token {index} is {theirs!r} in it, {ours!r} in the model"
    return None


def check_draft(model_path: Path, draft_path: Path) -> None:
    """Refuse (400) a draft whose vocabulary is not the model's."""
    why = vocabulary_difference(read_gguf(model_path), read_gguf(draft_path))
    if why is not None:
        raise BadRequest(f"the draft model's vocabulary differs from the model's: {why}; "
                         "a draft model must use the same tokenizer")


def _tokens(info: GGUFInfo) -> list[Any]:
    tokens = info.kv.get("tokenizer.ggml.tokens")
    return tokens if isinstance(tokens, list) else []
