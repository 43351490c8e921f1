"""Prompt-lookup drafting: guess the next tokens from where the newest n-gram appeared before.

Outputs that repeat their input (edits, extraction, code, "repeat this passage") continue
the way the earlier occurrence did. The engine decodes the guess together with the token it
knows, keeps the guessed tokens the model itself picks (greedy), and drops the rest from the
KV cache: the text is exactly plain decoding's, produced several tokens per step.
"""

from __future__ import annotations

NGRAM_SIZES = (3, 2)  # the longer match first: it predicts better


def common_prefix(a: list[int], b: list[int]) -> int:
    """How many tokens two sequences share from their start (list slices compare in C: halving is fast)."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    same, differ = 0, n  # a[:same] == b[:same], a[:differ] != b[:differ]
    while differ - same > 1:
        mid = (same + differ) // 2
        if a[same:mid] == b[same:mid]:
            same = mid
        else:
            differ = mid
    return same


class NgramDrafter:
    """The tokens a sequence has read and written, indexed by the n-grams in them."""

    def __init__(self, tokens: list[int]) -> None:
        self.history: list[int] = []
        # n-gram -> the index of the token that followed its latest occurrence
        self._follows: dict[int, dict[tuple[int, ...], int]] = {n: {} for n in NGRAM_SIZES}
        self.extend(tokens)

    def extend(self, tokens: list[int]) -> None:
        history = self.history
        for token in tokens:
            history.append(token)
            end = len(history) - 1  # the n-gram just before `token` is now known to be followed by it
            for n, follows in self._follows.items():
                if end >= n:
                    follows[tuple(history[end - n : end])] = end

    def propose(self, limit: int) -> list[int]:
        """Up to `limit` tokens that followed the newest n-gram last time; [] when it is new."""
        history = self.history
        for n, follows in self._follows.items():
            if len(history) < n:
                continue
            start = follows.get(tuple(history[-n:]))
            if start is not None:
                return history[start : start + limit]
        return []
