"""A loaded llama.cpp model through llama-cpp-python's low-level API: load, tokenize, contexts."""

from __future__ import annotations

import ctypes
import math
import os
import threading
from typing import Any

import llama_cpp as L

from ..envconfig import debug_level
from ..errors import BadRequest

_backend_ready = False
_KV_TYPES = {"f16": L.GGML_TYPE_F16, "q8_0": L.GGML_TYPE_Q8_0, "q4_0": L.GGML_TYPE_Q4_0}


_GGML_LOG_DEBUG, _GGML_LOG_ERROR, _GGML_LOG_CONT = 1, 4, 5  # ggml.h: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5
_keeping = False  # whether the message a CONT line continues was shown
_errors: list[str] = []  # llama.cpp's error lines since the last load began: its reasons for refusing


def shown(level: int, debug: int) -> bool:
    """Whether a llama.cpp log line of `level` is shown at OLLAMA_DEBUG level `debug` (envconfig.debug_level): its
    errors always; the rest of its log at 1; its own debug lines (every tensor at load) at 2 only."""
    return level == _GGML_LOG_ERROR or (debug >= 1 and level != _GGML_LOG_DEBUG) or debug >= 2


@L.llama_log_callback
def quiet_log(level: int, text: bytes, user_data: Any) -> None:
    # llama.cpp logs every tensor at load and warns about harmless defaults: keep errors, the rest on request.
    global _keeping
    if level != _GGML_LOG_CONT:
        _keeping = shown(level, debug_level())
    if _keeping:
        os.write(2, text)
    if level == _GGML_LOG_ERROR:
        _errors.append(text.decode("utf-8", "replace").strip())


def _load_failure_reason() -> str:
    """llama.cpp's own reason, from its log: `llama_model_load: error loading model: unknown model architecture: 'x'`."""
    for line in _errors:
        if "error loading model: " in line:
            return line.rsplit("error loading model: ", 1)[1]
    return _errors[0].split(": ", 1)[-1] if _errors else "see the server log (OLLAMA_DEBUG=1 for llama.cpp's own)"


def logged_errors(clear: bool = False) -> list[str]:
    """llama.cpp's error lines since the last clear (its reasons for refusing a file); `clear`: start afresh."""
    lines = list(_errors)
    if clear:
        _errors.clear()
    return lines


def init_backend() -> None:
    global _backend_ready
    if not _backend_ready:
        L.llama_log_set(quiet_log, ctypes.c_void_p(0))
        L.llama_backend_init()
        _backend_ready = True


def batch_add(batch: Any, token: int, pos: int, seq: int, logits: bool) -> None:
    """Append one token of sequence `seq` at position `pos` to a `llama_batch`; `logits`: compute them there."""
    i = batch.n_tokens
    batch.token[i] = token
    batch.pos[i] = pos
    batch.n_seq_id[i] = 1
    batch.seq_id[i][0] = seq
    batch.logits[i] = logits
    batch.n_tokens = i + 1


class LlamaModel:
    def __init__(self, path: str, n_gpu_layers: int = -1, use_mmap: bool | None = None,
                 tensor_split: list[float] | None = None, main_gpu: int = 0) -> None:
        init_backend()
        params = L.llama_model_default_params()
        params.n_gpu_layers = n_gpu_layers if n_gpu_layers >= 0 else 999
        params.main_gpu = main_gpu
        if tensor_split:
            # llama.cpp reads llama_max_devices() floats; the array must outlive the load call.
            self._tensor_split = (ctypes.c_float * L.llama_max_devices())(*tensor_split)
            params.tensor_split = self._tensor_split
        if use_mmap is not None:
            params.use_mmap = use_mmap
        _errors.clear()
        self.ptr = L.llama_model_load_from_file(path.encode(), params)
        if not self.ptr:
            raise BadRequest(f"llama.cpp refused the model: {_load_failure_reason()}")
        self.vocab = L.llama_model_get_vocab(self.ptr)
        self.n_ctx_train = L.llama_model_n_ctx_train(self.ptr)
        self.n_embd = L.llama_model_n_embd(self.ptr)
        self._piece_cache: dict[int, bytes] = {}
        self._embed_ctx: Any = None
        self._embed_lock = threading.Lock()

    def new_context(self, n_ctx: int, n_seq_max: int, n_batch: int, threads: tuple[int, int], embeddings: bool = False,
                    kv_cache_type: str = "f16", flash_attention: bool | None = None) -> Any:
        """A context; `threads` is (decode, batch), never llama.cpp's fixed default of 4.

        A quantized KV cache needs flash attention (llama.cpp refuses a quantized V cache
        without it), so asking for one turns flash attention on unless told off.
        """
        params = L.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = n_batch
        params.n_ubatch = n_batch
        params.n_seq_max = n_seq_max
        params.kv_unified = False  # each slot gets its own n_ctx, as Ollama's parallel slots do
        params.n_threads, params.n_threads_batch = threads
        params.type_k = params.type_v = _KV_TYPES[kv_cache_type]
        if flash_attention is None and kv_cache_type != "f16":
            flash_attention = True
        params.flash_attn_type = {None: L.LLAMA_FLASH_ATTN_TYPE_AUTO, True: L.LLAMA_FLASH_ATTN_TYPE_ENABLED,
                                  False: L.LLAMA_FLASH_ATTN_TYPE_DISABLED}[flash_attention]
        if embeddings:
            params.embeddings = True
            if L.llama_model_has_encoder(self.ptr) or self.pooling_type() == L.LLAMA_POOLING_TYPE_NONE:
                params.pooling_type = L.LLAMA_POOLING_TYPE_MEAN
        ctx = L.llama_init_from_model(self.ptr, params)
        if not ctx:
            raise BadRequest(f"llama.cpp could not create a context of {n_ctx} tokens (out of memory?)")
        return ctx

    def pooling_type(self) -> int:
        # The model's own pooling (an embedding model declares one in its GGUF).
        key = b"%s.pooling_type" % self.architecture().encode()
        value = self.meta(key.decode())
        return int(value) if value not in (None, "") else L.LLAMA_POOLING_TYPE_NONE

    def architecture(self) -> str:
        return self.meta("general.architecture") or ""

    def meta(self, key: str) -> str | None:
        buf = ctypes.create_string_buffer(512)
        n = L.llama_model_meta_val_str(self.ptr, key.encode(), buf, len(buf))
        return buf.value.decode("utf-8", "replace") if n >= 0 else None

    def chat_template(self) -> str | None:
        raw = L.llama_model_chat_template(self.ptr, None)
        return raw.decode("utf-8") if raw else None

    def tokenize(self, text: str, special: bool = True, add_bos: bool = True) -> list[int]:
        data = text.encode("utf-8")
        size = len(data) + 16
        buf = (L.llama_token * size)()
        n = L.llama_tokenize(self.vocab, data, len(data), buf, size, add_bos, special)
        if n < 0:
            size = -n
            buf = (L.llama_token * size)()
            n = L.llama_tokenize(self.vocab, data, len(data), buf, size, add_bos, special)
        return list(buf[:n])

    def token_bytes(self, token: int, special: bool = False) -> bytes:
        cached = self._piece_cache.get(token) if not special else None
        if cached is not None:
            return cached
        buf = ctypes.create_string_buffer(64)
        n = L.llama_token_to_piece(self.vocab, token, buf, 64, 0, special)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = L.llama_token_to_piece(self.vocab, token, buf, -n, 0, special)
        piece = buf.raw[:n]
        if not special:
            self._piece_cache[token] = piece
        return piece

    def detokenize(self, tokens: list[int]) -> str:
        return b"".join(self.token_bytes(t) for t in tokens).decode("utf-8", "replace")

    def token_text(self, token: int) -> str:
        """A special token's text, e.g. the BOS string a chat template expects."""
        if token < 0:
            return ""
        return self.token_bytes(token, special=True).decode("utf-8", "replace")

    @property
    def bos(self) -> int:
        return L.llama_vocab_bos(self.vocab)

    @property
    def eos(self) -> int:
        return L.llama_vocab_eos(self.vocab)

    @property
    def adds_bos(self) -> bool:
        return bool(L.llama_vocab_get_add_bos(self.vocab))

    def is_eog(self, token: int) -> bool:
        return bool(L.llama_vocab_is_eog(self.vocab, token))

    def embed(self, texts: list[str], n_ctx: int, truncate: bool, threads: tuple[int, int],
              normalize: bool = True) -> tuple[list[list[float]], int]:
        """Embeddings (L2-normalized unless asked not to), one input at a time on a context of its own."""
        with self._embed_lock:
            if self._embed_ctx is None:
                self._embed_ctx = self.new_context(n_ctx=n_ctx, n_seq_max=1, n_batch=n_ctx, threads=threads, embeddings=True)
            ctx = self._embed_ctx
            L.llama_set_n_threads(ctx, *threads)
            # llama.cpp rounds the context up; one input must fit the batch and the asked-for context.
            limit = min(n_ctx, L.llama_n_ctx(ctx), L.llama_n_batch(ctx))
            vectors, total = [], 0
            batch = L.llama_batch_init(limit, 0, 1)
            try:
                for text in texts:
                    tokens = self.tokenize(text, special=True)
                    if len(tokens) > limit:
                        if not truncate:
                            raise BadRequest("the input length exceeds the context length")
                        tokens = tokens[:limit]
                    total += len(tokens)
                    L.llama_memory_clear(L.llama_get_memory(ctx), True)
                    batch.n_tokens = len(tokens)
                    for i, token in enumerate(tokens):
                        batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, i, 1
                        batch.seq_id[i][0], batch.logits[i] = 0, True
                    if L.llama_decode(ctx, batch) != 0:
                        raise BadRequest("llama.cpp could not compute the embedding")
                    ptr = L.llama_get_embeddings_seq(ctx, 0)
                    vector = [ptr[i] for i in range(self.n_embd)]
                    norm = (math.sqrt(sum(x * x for x in vector)) or 1.0) if normalize else 1.0
                    vectors.append([x / norm for x in vector])
            finally:
                L.llama_batch_free(batch)
            return vectors, total

    def close(self) -> None:
        if self._embed_ctx is not None:
            L.llama_free(self._embed_ctx)
            self._embed_ctx = None
        if self.ptr:
            L.llama_model_free(self.ptr)
            self.ptr = None
