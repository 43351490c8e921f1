"""The plan of a blob download: its parts, their on-disk records, and the transfer settings.

Ollama splits a blob into at most 16 parts of 100 MB to 1 GB and keeps one JSON
record per part next to the partial file, `sha256-<hex>-partial-<N>`:
`{"N","Offset","Size","Completed"}`. The settings can be overridden from the
environment (`OLLAMA_PULL_PART_SIZE`, `OLLAMA_PULL_RETRIES`,
`OLLAMA_PULL_RETRY_DELAY`), which tests use to exercise parts on small blobs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .. import envconfig

MAX_PARTS = 16
MIN_PART_SIZE = 100_000_000
MAX_PART_SIZE = 1_000_000_000
RECORD_INTERVAL = 0.5  # seconds between rewrites of a part record while it downloads


@dataclass(frozen=True)
class TransferSettings:
    """Ollama's constants, overridable from the environment (tests use small parts, fast retries)."""

    part_size: int | None = None  # fixed part size; default: total/16 within 100 MB..1 GB
    retries: int = envconfig.PULL_RETRIES
    retry_delay: float = envconfig.PULL_RETRY_DELAY  # doubled on each retry, as Ollama does
    stall_timeout: float = 30.0

    @classmethod
    def from_env(cls) -> TransferSettings:
        return cls(
            part_size=envconfig.pull_part_size(),
            retries=envconfig.pull_retries(),
            retry_delay=envconfig.pull_retry_delay(),
        )

    def part_size_for(self, total: int) -> int:
        if self.part_size:
            return max(1, self.part_size)
        return min(max(total // MAX_PARTS, MIN_PART_SIZE), MAX_PART_SIZE)


@dataclass
class Part:
    n: int
    offset: int
    size: int
    completed: int = 0

    @property
    def start(self) -> int:
        return self.offset + self.completed

    @property
    def stop(self) -> int:
        return self.offset + self.size

    def to_json(self) -> bytes:
        return json.dumps({"N": self.n, "Offset": self.offset, "Size": self.size, "Completed": self.completed}).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes) -> Part:
        body = json.loads(data)
        return cls(int(body["N"]), int(body["Offset"]), int(body["Size"]), int(body["Completed"]))
