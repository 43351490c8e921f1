"""Content-addressed blobs: `blobs/sha256-<hex>`, written atomically.

Every write goes to a temporary file in the blobs folder, is hashed on the way,
checked against the digest it claims, and only then renamed into place. A blob
path therefore always holds exactly the bytes its name promises; a crash or a
bad upload leaves at most a temporary file, which `sweep_temporary()` clears.

A temporary file is named after the process writing it (`.upload-<host>.<pid
namespace>.<pid>.<token>`), so that a server starting on a shared models folder
removes only the files of processes that are gone, never another server's upload,
quantization or import in progress (owners.py says how, and why names rather than locks).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from ..digests import sha256_file
from ..errors import BadRequest
from .owners import abandoned, owned_name

log = logging.getLogger("jupyter_ollama")

_DIGEST = re.compile(r"sha256[:-]([0-9a-fA-F]{64})")
TEMP_PREFIX = ".upload-"
INVALID_DIGEST = "invalid digest format"


def normalize_digest(digest: str) -> str:
    """`sha256:<lowercase hex>`; 400 `invalid digest format` for anything else."""
    match = _DIGEST.fullmatch(digest) if isinstance(digest, str) else None
    if match is None:
        raise BadRequest(INVALID_DIGEST)
    return "sha256:" + match.group(1).lower()


class BlobWriter:
    """Streams one blob to a temporary file; `commit()` verifies and renames it."""

    def __init__(self, store: BlobStore, expected: str | None) -> None:
        self._store = store
        self.expected = expected
        self.size = 0
        self._hash = hashlib.sha256()
        self._temp = store.temp_path()
        self._file: BinaryIO | None = open(self._temp, "wb")

    def write(self, data: bytes) -> None:
        assert self._file is not None, "blob writer already closed"
        self._file.write(data)
        self._hash.update(data)
        self.size += len(data)

    def commit(self) -> str:
        """Verify against the expected digest and move into place; returns the digest."""
        self._close()
        digest = "sha256:" + self._hash.hexdigest()
        if self.expected is not None and digest != self.expected:
            self.abort()
            raise BadRequest(f'digest mismatch, expected "{self.expected}", got "{digest}"')
        os.chmod(self._temp, 0o644)
        os.replace(self._temp, self._store.path(digest))
        return digest

    def abort(self) -> None:
        try:
            self._close()
        except OSError:  # a full disk fails the flush too; the file goes anyway
            pass
        finally:
            self._file = None
            self._temp.unlink(missing_ok=True)

    def _close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        """The file of a digest; the digest is validated, so this never leaves the folder."""
        return self.root / normalize_digest(digest).replace(":", "-")

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def size(self, digest: str) -> int:
        return self.path(digest).stat().st_size

    def writer(self, expected: str | None = None) -> BlobWriter:
        return BlobWriter(self, normalize_digest(expected) if expected is not None else None)

    def put_bytes(self, data: bytes) -> tuple[str, bool]:
        """Store small content (a template, params, a config); returns (digest, created)."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if self.exists(digest):
            return digest, False
        writer = self.writer(digest)
        try:
            writer.write(data)
            writer.commit()
        except OSError:
            writer.abort()
            raise
        return digest, True

    def temp_path(self) -> Path:
        """A fresh temporary file name in the blobs folder (same file system), named after this process."""
        return self.root / owned_name(TEMP_PREFIX, secrets.token_hex(8))

    def put_file(self, temp: Path, claim: Callable[[str], object] | None = None) -> str:
        """Move a finished temporary file into place under its digest; returns the digest.

        `claim` is called with the digest before the file takes its name (a create holds it there)."""
        digest = sha256_file(temp)
        with open(temp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(temp, 0o644)
        if claim is not None:
            claim(digest)
        os.replace(temp, self.path(digest))
        return digest

    def read_bytes(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def remove(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)

    def digests(self) -> set[str]:
        found = set()
        for entry in self.root.iterdir():
            match = _DIGEST.fullmatch(entry.name)
            if match and entry.is_file():
                found.add("sha256:" + match.group(1).lower())
        return found

    def sweep_temporary(self) -> int:
        """Remove the temporary files that no live process owns (called at start-up); returns how many went.

        Another server's upload in progress on a shared folder stays; a crashed one's goes."""
        swept = 0
        for entry in self.root.glob(TEMP_PREFIX + "*"):
            if abandoned(entry, entry.name.removeprefix(TEMP_PREFIX)):
                try:
                    entry.unlink(missing_ok=True)
                    swept += 1
                except PermissionError:  # another user's, in a folder we may not write
                    log.warning("cannot remove %s, left by a process that is gone", entry)
        if swept:
            log.info("removed %d temporary file(s) left in %s by processes that are gone", swept, self.root)
        return swept
