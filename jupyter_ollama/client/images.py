"""Image files named in a prompt, as `ollama run` finds them for a model that reads images.

Ollama's CLI (cmd/interactive.go `extractFileData`) looks for paths that start with `/`,
`./` or a drive letter and end in an image extension; each one that exists and is a JPEG,
PNG or WebP is read, sent as an image, and taken out of the prompt's text. A path that is
not there stays in the text as written.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path

from .http import ClientError

# Ollama's pattern (wav is audio, which no model reads here).
_PATH = re.compile(r"(?:[a-zA-Z]:)?(?:\./|/|\\)[\S\\ ]+?\.(?i:jpg|jpeg|png|webp)\b")
_ESCAPED = re.compile(r"\\([ ()\[\]{}$&;'\\*?~])")  # a shell-escaped character: `\ ` is a space
MAX_IMAGE_BYTES = 100 << 20  # Ollama's limit


@dataclass
class PromptImages:
    prompt: str
    images: list[str] = field(default_factory=list)  # base64, as the API takes them
    files: list[str] = field(default_factory=list)  # as written in the prompt, unescaped


def _kind(head: bytes) -> str | None:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return None


def extract_images(prompt: str, cwd: Path | None = None) -> PromptImages:
    """The prompt without the image files it names, and those images; relative paths from `cwd`."""
    found = PromptImages(prompt)
    for written in _PATH.findall(prompt):
        name = _ESCAPED.sub(r"\1", written)
        path = Path(name) if cwd is None or Path(name).is_absolute() else cwd / name
        try:
            with path.open("rb") as file:
                data = file.read(MAX_IMAGE_BYTES + 1)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as err:
            raise ClientError(f"Couldn't process file: {name}: {err.strerror}") from None
        if _kind(data[:16]) is None:
            raise ClientError(f"Couldn't process file: {name}: not a JPEG, PNG or WebP image")
        if len(data) > MAX_IMAGE_BYTES:
            raise ClientError(f"Couldn't process file: {name}: file size exceeds maximum limit (100MB)")
        for text in (f"'{name}'", f"'{written}'", written):
            found.prompt = found.prompt.replace(text, "")
        found.images.append(base64.b64encode(data).decode())
        found.files.append(name)
    found.prompt = found.prompt.strip()
    return found
