"""Turning sampled token bytes into streamed text: UTF-8 across token boundaries, stop strings.

A token may end in the middle of a multi-byte character, and a stop string may
span tokens. Text is therefore released only when it is complete UTF-8 and can
no longer be the start of a stop string; the check looks at the held-back tail
only, never at the whole reply.
"""

from __future__ import annotations

import codecs


class TextStream:
    def __init__(self, stop: list[str] | None = None) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stop = [s for s in (stop or []) if s]
        self._longest = max((len(s) for s in self._stop), default=0)
        self._held = ""
        self.stopped = False

    def feed(self, data: bytes) -> str:
        """Add a token's bytes; return the text now safe to show ('' if none)."""
        if self.stopped:
            return ""
        self._held += self._decoder.decode(data)
        if not self._stop:
            out, self._held = self._held, ""
            return out
        for stop in self._stop:
            index = self._held.find(stop)
            if index != -1:
                self.stopped = True
                out, self._held = self._held[:index], ""
                return out
        keep = self._partial_stop_length()
        cut = len(self._held) - keep
        out, self._held = self._held[:cut], self._held[cut:]
        return out

    def flush(self) -> str:
        """At the end of generation: whatever is still held (never a stop string)."""
        if self.stopped:
            return ""
        out = self._held + self._decoder.decode(b"", final=True)
        self._held = ""
        return out

    def _partial_stop_length(self) -> int:
        """Length of the longest tail of the held text that begins some stop string."""
        tail = self._held[-self._longest :] if self._longest else ""
        for size in range(min(len(tail), self._longest), 0, -1):
            suffix = tail[-size:]
            if any(stop.startswith(suffix) for stop in self._stop):
                return size
        return 0
