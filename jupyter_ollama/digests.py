"""Content digests, as Ollama names blobs (`sha256:<hex>`): the store verifies with them, clients upload by them."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    """`sha256:<hex>` of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(chunk_size):
            digest.update(chunk)
    return "sha256:" + digest.hexdigest()
