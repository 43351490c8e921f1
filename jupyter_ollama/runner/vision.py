"""Images through llama.cpp's multimodal library (libmtmd): a model's projector, and prompts with images.

A model with a projector (Ollama's `application/vnd.ollama.image.projector` layer) reads
images: the runner opens the projector with `mtmd_init_from_file`; a prompt's text, with
one media marker where each image goes, is cut by `mtmd_tokenize` into text chunks and
image chunks. The engine evaluates a slot's chunks up to its last image as one step
(`evaluate`: the projector encodes each image, its embeddings go into the slot's KV
cache) and the text after it as any prompt's tail, in the shared batch.

In a slot's token list an image's positions are `IMAGE_TOKEN`, which no real token equals:
a prefix shared with another request stops before the first image.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass, field
from typing import Any

import llama_cpp as L

from ..errors import BadRequest
from .llama import LlamaModel, logged_errors, quiet_log

IMAGE_TOKEN = -1


def _library() -> Any:
    """llama-cpp-python's bindings of libmtmd; a clear error where the library was not built."""
    try:
        import llama_cpp.mtmd_cpp as mtmd
    except (OSError, FileNotFoundError, RuntimeError) as err:
        raise BadRequest(
            "this model has a projector, but llama.cpp's multimodal library (libmtmd) is not installed: "
            f"run `make setup` (or python build_tools/build_mtmd.py) ({err})"
        ) from err
    mtmd.mtmd_log_set(quiet_log, ctypes.c_void_p(0))
    mtmd.mtmd_helper_log_set(quiet_log, ctypes.c_void_p(0))
    return mtmd


@dataclass
class MediaPrompt:
    """A prompt cut into chunks: `tokens` has an IMAGE_TOKEN per image position; `media_end` is where the
    last image's positions end (what `Vision.evaluate` puts in the KV cache; the rest is plain text)."""

    chunks: Any
    tokens: list[int]
    media_end: int
    _free: Any = field(repr=False, default=None)

    def close(self) -> None:
        if self.chunks is not None:
            self._free(self.chunks)
            self.chunks = None

    def __del__(self) -> None:  # a request cancelled before it was admitted still frees its chunks
        self.close()


class Vision:
    """A model's projector, open for as long as the runner lives."""

    def __init__(self, model: LlamaModel, projector_path: str, threads: int, use_gpu: bool) -> None:
        self.mtmd = _library()
        params = self.mtmd.mtmd_context_params_default()
        params.use_gpu = use_gpu
        params.n_threads = max(threads, 1)
        params.print_timings = False
        logged_errors(clear=True)
        self.ctx = self.mtmd.mtmd_init_from_file(projector_path.encode(), model.ptr, params)
        if not self.ctx:  # llama.cpp's own reason: `mtmd_init_from_file: error: mismatch between text model ...`
            reasons = [line.split("error: ", 1)[1].splitlines()[0] for line in logged_errors() if "error: " in line]
            raise BadRequest(f"llama.cpp refused the projector: {reasons[0] if reasons else 'see the server log'}")
        if not self.mtmd.mtmd_support_vision(self.ctx):
            self.close()
            raise BadRequest("the projector has no vision encoder")
        if self.mtmd.mtmd_decode_use_mrope(self.ctx):  # positions per image row and column: not in this engine yet
            self.close()
            raise BadRequest("this projector places images with M-RoPE positions, which this runner does not support")
        self.marker = self.mtmd.mtmd_default_marker().decode()
        self.lock = threading.Lock()  # tokenizing (request threads) and encoding (the engine thread) share the context

    def tokenize(self, text: str, images: list[bytes], add_special: bool = True) -> MediaPrompt:
        """`text` holds one marker per image, in order; 400 for an image the library cannot read.
        `add_special`: the vocabulary's BOS first (False where the text starts with it)."""
        mtmd = self.mtmd
        bitmaps = []
        try:
            for i, data in enumerate(images):
                buf = (ctypes.c_ubyte * len(data)).from_buffer_copy(data)
                bitmap = mtmd.mtmd_helper_bitmap_init_from_buf(self.ctx, buf, len(data), False)
                if not bitmap:
                    raise BadRequest(f"images[{i}]: not an image llama.cpp can read (PNG, JPEG, BMP, GIF, ...)")
                bitmaps.append(bitmap)
            chunks = mtmd.mtmd_input_chunks_init()
            prompt = mtmd.mtmd_input_text()
            encoded = text.encode()
            prompt.text, prompt.text_len = encoded, len(encoded)
            prompt.add_special, prompt.parse_special = add_special, True
            array = (mtmd.mtmd_bitmap_p_ctypes * max(len(bitmaps), 1))(*bitmaps)
            with self.lock:
                status = mtmd.mtmd_tokenize(self.ctx, chunks, ctypes.byref(prompt), array, len(bitmaps))
            if status != 0:
                mtmd.mtmd_input_chunks_free(chunks)
                raise BadRequest(f"the images do not match the prompt's image places ({len(bitmaps)} images)"
                                 if status == 1 else "llama.cpp could not preprocess the images")
        finally:
            for bitmap in bitmaps:
                mtmd.mtmd_bitmap_free(bitmap)
        return self._flatten(chunks)

    def _flatten(self, chunks: Any) -> MediaPrompt:
        mtmd = self.mtmd
        tokens: list[int] = []
        media_end = 0
        for i in range(mtmd.mtmd_input_chunks_size(chunks)):
            chunk = mtmd.mtmd_input_chunks_get(chunks, i)
            if mtmd.mtmd_input_chunk_get_type(chunk) == mtmd.MTMD_INPUT_CHUNK_TYPE_TEXT:
                count = ctypes.c_size_t(0)
                ptr = mtmd.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(count))
                tokens.extend(ptr[: count.value])
            else:
                tokens.extend([IMAGE_TOKEN] * mtmd.mtmd_input_chunk_get_n_pos(chunk))
                media_end = len(tokens)
        return MediaPrompt(chunks, tokens, media_end, mtmd.mtmd_input_chunks_free)

    def evaluate(self, ctx: Any, media: MediaPrompt, seq_id: int, n_batch: int) -> None:
        """Put the prompt up to its last image into sequence `seq_id`'s KV cache, from position 0."""
        mtmd = self.mtmd
        n_past = L.llama_pos(0)
        try:
            with self.lock:
                for i in range(mtmd.mtmd_input_chunks_size(media.chunks)):
                    if n_past.value >= media.media_end:
                        break
                    chunk = mtmd.mtmd_input_chunks_get(media.chunks, i)
                    status = mtmd.mtmd_helper_eval_chunk_single(self.ctx, ctx, chunk, n_past.value, seq_id, n_batch,
                                                                False, ctypes.byref(n_past))
                    if status != 0:
                        raise RuntimeError(f"llama.cpp could not evaluate the image (status {status})")
        finally:
            media.close()
        if n_past.value != media.media_end:
            raise RuntimeError(f"the image took {n_past.value} positions, {media.media_end} expected")

    def close(self) -> None:
        if self.ctx:
            self.mtmd.mtmd_free(self.ctx)
            self.ctx = None
