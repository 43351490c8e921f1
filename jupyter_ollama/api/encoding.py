"""Compressed request bodies (`Content-Encoding: gzip`, `deflate`, `zstd`), as Codex sends them.

A body is decoded with the same cap as a plain one (OLLAMA_MAX_BODY_SIZE): decoding
stops one byte past the cap, so a small bomb never becomes a large allocation.
"""

from __future__ import annotations

import io
import zlib

from ..errors import BadRequest

ENCODINGS = ("gzip", "x-gzip", "deflate", "zstd", "identity")


def _zlib(body: bytes, wbits: int, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    data = inflater.decompress(body, limit + 1)
    if len(data) <= limit and not inflater.eof:
        raise zlib.error("the compressed data ends early")
    return data


def _deflate(body: bytes, limit: int) -> bytes:
    try:  # HTTP's deflate is zlib-wrapped; some clients send the raw stream
        return _zlib(body, zlib.MAX_WBITS, limit)
    except zlib.error:
        return _zlib(body, -zlib.MAX_WBITS, limit)


def _zstd(body: bytes, limit: int) -> bytes:
    import zstandard  # only when a client sends zstd

    try:
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body)) as reader:
            data = reader.read(limit + 1)  # read no further than the cap: a bomb stops here
        if len(data) <= limit:  # within the cap: decode again, whole, to see that the frame ends
            whole = zstandard.ZstdDecompressor().decompressobj()
            whole.decompress(body)
            if not whole.eof:
                raise zstandard.ZstdError("the compressed data ends early")
        return data
    except zstandard.ZstdError as err:
        raise zlib.error(str(err)) from None


def decoded(body: bytes, header: str, limit: int) -> bytes | None:
    """`body` as it was before the encodings `header` names (applied in order, so undone last first);
    None when it decodes to more than `limit` bytes. 400 for an unknown encoding or damaged data."""
    encodings = [e.strip().lower() for e in header.split(",") if e.strip()]
    for encoding in reversed(encodings):
        if encoding not in ENCODINGS:
            raise BadRequest(f"unsupported Content-Encoding {encoding!r}: send gzip, deflate, zstd or none")
        try:
            if encoding in ("gzip", "x-gzip"):
                body = _zlib(body, 16 + zlib.MAX_WBITS, limit)
            elif encoding == "deflate":
                body = _deflate(body, limit)
            elif encoding == "zstd":
                body = _zstd(body, limit)
        except zlib.error as err:
            raise BadRequest(f"the request body is not valid {encoding} data: {err}") from None
        if len(body) > limit:
            return None
    return body
