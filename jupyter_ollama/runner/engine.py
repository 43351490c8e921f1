"""The continuous-batching engine: one llama.cpp context, N slots, one decode per step.

One engine thread loops: admit waiting requests into free slots (the slot whose
cached tokens share the longest prefix with the new prompt; when another slot holds
a longer one, its KV cache is copied instead of computed again), build one batch
holding one token per generating slot plus prompt chunks for prefilling slots,
run one `llama_decode`, sample each slot with its own chain, and hand the text
to the request's callback as the protocol's events (`Piece`s, then one `Done` or `Failed`). Long prompts are prefilled in chunks, so slots that
are already streaming keep streaming while a new prompt is read. A greedy slot
whose newest tokens appeared before also decodes a guess of what follows them
(`lookup.py`) and keeps the part the model confirms: several tokens per step.
With a draft model (Modelfile DRAFT, `draftmodel.py`) the guesses of greedy slots
come from it instead, checked the same way.
With a prompt cache (`prompt_cache.py`), a long prompt's KV is saved once it is read,
and a prompt whose beginning was read before, by a slot since reused or by a runner
since unloaded, restores it into its slot when that beats what the slots hold.
A thinking model asked for a `format` samples freely until its thinking ends, then
from the grammar: its slot swaps sampler chains in place (`thinkfirst.py`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import llama_cpp as L

from ..errors import BadRequest
from ..runners.protocol import Done, Failed, Piece, SlotState
from .draftmodel import DraftModel, load_draft
from .llama import LlamaModel, batch_add
from .lookup import NgramDrafter, common_prefix
from .prompt_cache import SAVE_MIN, Hit, PromptCache
from .prompt_cache import Settings as CacheSettings
from .sampling import SamplerChain, SamplingOptions
from .seqstate import BadState, probe_layout, restore, snapshot
from .textstream import TextStream
from .thinkfirst import ThinkFirst, Verdict
from .vision import MediaPrompt, Vision

log = logging.getLogger("jupyter_ollama.runner")

DRAFT_NUM_PREDICT = 8  # tokens guessed per step by default (the `draft_num_predict` option; 0 turns guessing off)

# What a request hears: Pieces of text, then one final event, Done or Failed (runner/server.py streams them as they are).
EngineEvent = Piece | Done | Failed


@dataclass
class Completion:
    """One generation request. `on_event` is called from the engine thread."""

    tokens: list[int]
    options: SamplingOptions
    on_event: Callable[[EngineEvent], object]
    grammar: str | None = None
    think_first: ThinkFirst | None = None  # with a grammar: the model thinks unconstrained first (thinkfirst.py)
    stop: list[str] = field(default_factory=list)
    num_predict: int = -1
    num_keep: int = 4
    shift: bool = True  # False: stop at the end of the slot's context instead of shifting
    cut_prompt: bool = False  # a prompt longer than the slot is cut (the server refuses it otherwise)
    draft_max: int = DRAFT_NUM_PREDICT  # tokens guessed per step for a greedy request (0: never guess)
    logprobs: bool = False
    top_logprobs: int = 0
    media: MediaPrompt | None = None  # a prompt with images: `tokens` are its tokens (runner/vision.py)
    cancelled: bool = False
    # filled in by the engine
    generated: list[int] = field(default_factory=list)
    dropped: int = 0  # prompt tokens cut to fit the slot
    links: list[bytes] | None = None  # the prompt's hash chain, once looked up in the prompt cache
    cached: Hit | None = None  # the prompt cache's best entry for it, read before admission
    reused: int = 0  # prompt tokens whose KV was not computed: held by the slot, copied, or restored
    restored: int = 0  # of those, restored from the prompt cache
    cache_tier: str = ""  # "ram" or "disk" when restored; "miss" when the cache had nothing that paid
    saved: float = 0.0  # seconds of prompt processing the restore saved (estimated)

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class Slot:
    id: int
    cached: list[int] = field(default_factory=list)  # tokens whose KV this sequence holds
    request: Completion | None = None
    media: MediaPrompt | None = None  # images admitted, to go into the KV cache at the next step
    pending: list[int] = field(default_factory=list)  # prompt tokens still to prefill
    split_last: bool = False  # the prompt's last token is read in a step of its own (see _admit)
    window: int = 0  # restored from a sliding-window model's state: its window layers hold positions from here on
    next_token: int | None = None  # sampled, to be decoded next step
    sampler: SamplerChain | None = None
    held: SamplerChain | None = None  # the grammar's chain, waiting for the thinking to end (think_first)
    text: TextStream | None = None
    drafter: NgramDrafter | None = None  # greedy requests only: a guess is checked against the greedy choice
    draft: list[int] = field(default_factory=list)  # guessed tokens in this step's batch, after next_token
    draft_pause: int = 0  # steps to wait before guessing again, after a guess that did not pay (DRAFT_USEFUL)
    draft_misses: int = 0  # guesses in a row that did not pay
    draft_size: int = 0  # how many tokens to guess next: grows while guesses hold, shrinks to what held
    started: float = 0.0
    first_token: float = 0.0
    last_used: float = 0.0

    @property
    def state(self) -> str:
        if self.request is None:
            return "idle"
        return "prefill" if self.pending else "generating"


# Below this many tokens, computing a prefix again costs about what copying a slot's KV stream does.
MIN_SHARED_PREFIX = 32
RATE_MIN = 64  # prompts computing fewer tokens than this say little about how fast prompts are read
DRAFT_PAUSE_MAX = 32  # a slot whose guesses keep failing guesses less and less often (where it does not pay)
# A guess that keeps fewer tokens than this did not pay for its larger batch and its checks (measured: counting,
# where guesses keep about one token, ran 20% slower guessing every step than not guessing).
DRAFT_USEFUL = 2
# Logits computed in a batch of several tokens can differ from one token's alone in the last bits: where the
# two likeliest tokens are closer than this, the position is computed again alone, so greedy stays exact.
NEAR_TIE = 0.05


class BatchEngine:
    def __init__(self, model: LlamaModel, n_slots: int, n_ctx_slot: int, n_batch: int = 512,
                 n_threads: int = 1, n_threads_batch: int | None = None, share_prefixes: bool = True,
                 kv_cache_type: str = "f16", flash_attention: bool | None = None, draft_path: str | None = None,
                 vision: Vision | None = None, prompt_cache: CacheSettings | None = None) -> None:
        self.model = model
        self.vision = vision
        self.share_prefixes = share_prefixes
        self.n_slots = n_slots
        self.n_ctx_slot = n_ctx_slot
        self.n_batch = n_batch
        self.threads = (n_threads, n_threads_batch or n_threads)  # decode, batch
        self._threads_applied = self.threads
        self.ctx = model.new_context(n_ctx=n_ctx_slot * n_slots, n_seq_max=n_slots, n_batch=n_batch, threads=self.threads,
                                     kv_cache_type=kv_cache_type, flash_attention=flash_attention)
        self.memory = L.llama_get_memory(self.ctx)
        self.n_swa = L.llama_model_n_swa(model.ptr)  # the width of its sliding-window layers' window (0: none)
        self.can_shift = bool(L.llama_memory_can_shift(self.memory))
        self.batch = L.llama_batch_init(n_batch, 0, 1)
        self.slots = [Slot(i) for i in range(n_slots)]
        self.cache = self._open_cache(prompt_cache, kv_cache_type)
        self._donors: set[int] = set()  # slots whose stream is copied to another at the next decode (this admission)
        # A draft model guesses for greedy slots instead of prompt lookup; without one that works, no guess at all.
        self.drafts: DraftModel | None = None
        self._draft_error = ""
        if draft_path:
            self.drafts, self._draft_error = load_draft(
                draft_path, n_slots=n_slots, n_ctx_slot=n_ctx_slot, n_batch=n_batch, threads=self.threads,
                n_vocab=L.llama_vocab_n_tokens(model.vocab), kv_cache_type=kv_cache_type, flash_attention=flash_attention)
        self.waiting: deque[Completion] = deque()
        self.cond = threading.Condition()
        self.closing = False
        self.tokens_predicted_total = 0
        self.prompt_tokens_total = 0
        self.prompt_tokens_shared_total = 0  # prompt tokens whose KV was copied from another slot
        self.prompt_tokens_restored_total = 0  # prompt tokens whose KV was restored from the prompt cache
        self.tokens_drafted_total = 0  # tokens guessed (prompt lookup or the draft model), and those the model confirmed
        self.tokens_draft_accepted_total = 0
        self.thread = threading.Thread(target=self._run, name="engine", daemon=True)
        self.thread.start()

    # -- public, any thread ---------------------------------------------------

    def submit(self, request: Completion) -> None:
        if len(request.tokens) == 0:
            raise BadRequest("the prompt is empty after tokenization")
        if request.links is None:
            self.find_cached(request)  # a disk entry is read here, on the caller's thread
        with self.cond:
            self.waiting.append(request)
            self.cond.notify()

    def find_cached(self, request: Completion) -> None:
        """Cut the prompt to fit if it asked to be, and look it up in the prompt cache: a disk entry is read into
        memory and checked here, on the caller's thread, so the engine thread only restores it."""
        request.tokens = self._fit(request)
        cache = self.cache
        if cache is None or request.media is not None or request.links is not None:
            return
        request.links = cache.chain(request.tokens)
        # What the slots hold of it now (they change before admission: the engine decides then).
        held = max(common_prefix(list(s.cached), request.tokens) for s in self.slots)
        request.cached = cache.find(request.tokens, request.links, held)

    def flush_cache(self, timeout: float) -> None:
        """Wait, up to `timeout` seconds, for the prompt cache's disk writes queued so far."""
        if self.cache is not None:
            self.cache.flush(timeout)

    def cache_report(self) -> dict[str, Any]:
        """The prompt cache's bytes, entries and counters (/api/ps, /metrics); {} without one."""
        return self.cache.report() if self.cache is not None else {}

    def _open_cache(self, settings: CacheSettings | None, kv_cache_type: str) -> PromptCache | None:
        if settings is None or (settings.ram_budget <= 0 and (settings.disk_dir is None or settings.disk_budget <= 0)):
            return None
        if self.model.pooling_type() != L.LLAMA_POOLING_TYPE_NONE:  # an embedding model: no prompt to continue
            return None
        if L.llama_model_is_recurrent(self.model.ptr) or L.llama_model_is_hybrid(self.model.ptr):
            log.info("prompt cache off: a recurrent model's state cannot be cut back to a prefix")
            return None
        try:
            layout = probe_layout(self.ctx, max(self.model.bos, 0), kv_cache_type, self.n_slots)
            return PromptCache(settings, layout, self.n_slots, self.n_ctx_slot, self.n_swa)
        except (BadState, OSError) as err:
            log.warning("prompt cache off: %s", err)
            return None

    def set_threads(self, n_threads: int, n_threads_batch: int) -> None:
        """Taken up by the engine thread before its next decode."""
        self.threads = (max(n_threads, 1), max(n_threads_batch, 1))

    def slot_states(self) -> list[SlotState]:
        with self.cond:
            return [SlotState(id=s.id, state=s.state, n_ctx=self.n_ctx_slot, n_past=len(s.cached)) for s in self.slots]

    @property
    def draft_error(self) -> str:
        """Why the draft model given does not guess, or did not last time; "" when it works or there is none."""
        return self.drafts.error if self.drafts else self._draft_error

    def close(self) -> None:
        with self.cond:
            self.closing = True
            self.cond.notify()
        self.thread.join(timeout=30)
        for slot in self.slots:
            for chain in (slot.sampler, slot.held):
                if chain:
                    chain.close()
        L.llama_batch_free(self.batch)
        L.llama_free(self.ctx)
        if self.drafts is not None:
            self.drafts.close()
        if self.cache is not None:
            self.cache.close()

    # -- the engine thread ----------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                with self.cond:
                    self._drop_cancelled()
                    self._admit()
                    while not self.closing and not any(s.request for s in self.slots):
                        self.cond.wait()
                        self._drop_cancelled()
                        self._admit()
                    if self.closing:
                        self._fail_all("the model is being unloaded")
                        return
                self._step()
            except Exception as err:  # never let the loop die: fail what is in flight, keep serving
                self._fail_all(f"llama.cpp engine error: {err}")

    def _fail_all(self, message: str) -> None:
        for slot in self.slots:
            if slot.request:
                self._finish(slot, error=message)
                self._forget(slot)
        waiting, self.waiting = self.waiting, deque()
        for request in waiting:
            request.on_event(Failed(message))

    def _drop_cancelled(self) -> None:
        for request in [r for r in self.waiting if r.cancelled]:  # never admitted: still one final event
            if request.media is not None:
                request.media.close()
            request.on_event(Done(done_reason="cancel", prompt_eval_count=0, prompt_eval_duration=0, eval_count=0, eval_duration=0))
        self.waiting = deque(r for r in self.waiting if not r.cancelled)
        for slot in self.slots:
            if slot.request and slot.request.cancelled:
                self._finish(slot, reason="cancel")
                self._forget(slot)  # a cancelled slot's KV is freed at once

    def _admit(self) -> None:
        copied: set[int] = set()  # slots whose KV arrives by a copy at the next decode: no donors yet
        self._donors = set()
        while self.waiting:
            free = [s for s in self.slots if s.request is None]
            if not free:
                return
            request = self.waiting.popleft()
            tokens = request.tokens  # cut to fit at submit, where asked
            prefix = {s.id: self._reusable(s, common_prefix(s.cached, tokens)) for s in self.slots}  # what each slot holds
            slot = max(free, key=lambda s: (prefix[s.id], -s.last_used))
            hit, request.cached = request.cached, None
            # Images go in whole, from position 0, at the next step (_evaluate_media); then the text after them.
            held = self._take_cached(slot, request, hit, prefix, copied) if request.media is None else 0
            reuse = min(held, len(tokens) - 1)  # >= 1 token to evaluate
            request.reused = reuse
            if reuse == 0:
                slot.window = 0  # read from the start: every layer holds every position again
            L.llama_memory_seq_rm(self.memory, slot.id, reuse, -1)
            slot.cached = tokens[:reuse]
            slot.pending = tokens[reuse:]
            # A prompt long enough to be cached reads its last token alone, as a restore of it does later: batched
            # logits differ from one token's in the last bits, and so the same prompt gets the same answer whether
            # it was read, found in its slot or restored (alone on the engine), cache on or off.
            cacheable = self.cache.settings.min_save if self.cache is not None else SAVE_MIN
            slot.split_last = request.media is None and len(tokens) >= cacheable
            slot.media = request.media
            slot.request = request
            slot.next_token = None
            try:
                # A grammar that waits for the thinking is built now all the same: a bad one fails before any output.
                slot.held = (SamplerChain(self.model.vocab, request.options, request.grammar)
                             if request.grammar and request.think_first else None)
                slot.sampler = SamplerChain(self.model.vocab, request.options, None if slot.held else request.grammar)
            except BadRequest as err:
                if slot.held:
                    slot.held.close()
                    slot.held = None
                request.on_event(Failed(err.message))
                slot.request = None
                continue
            slot.text = TextStream(request.stop)
            greedy = slot.sampler.argmax and request.draft_max > 0 and request.media is None
            slot.drafter = NgramDrafter(tokens) if greedy else None
            # The first guess is short (a wrong one costs little); it doubles while guesses hold.
            slot.draft, slot.draft_pause, slot.draft_misses, slot.draft_size = [], 0, 0, min(2, request.draft_max)
            slot.started = time.perf_counter()
            slot.first_token = 0.0
            request.generated = []
            self.prompt_tokens_total += len(tokens)

    def _reusable(self, slot: Slot, common: int) -> int:
        """How much of the `common` tokens a slot shares with a prompt it can keep. A slot restored from the state of a
        model with sliding-window layers has those layers' newest positions only (from `slot.window`): the token after
        the kept ones must see a whole window, so cut back further than that, the slot is read again from the start."""
        if slot.window and common < slot.window + self.n_swa - 1:
            return 0
        return common

    def _take_cached(self, slot: Slot, request: Completion, hit: Hit | None, prefix: dict[int, int], copied: set[int]) -> int:
        """How much of the prompt the slot's KV holds: a prefix restored from the prompt cache, when that beats what
        the slots hold (`_take_prefix`) by enough tokens to pay for the time it takes (`PromptCache.pays`)."""
        cache = self.cache
        if cache is None:
            return self._take_prefix(slot, request.tokens, prefix, copied)
        donors = [s.id for s in self.slots if s is not slot and s.id not in copied] if self.share_prefixes else []
        best = max([prefix[slot.id], *(prefix[d] for d in donors)])
        gain = hit.usable - best if hit is not None else 0
        # A slot whose stream is being copied to another keeps its bytes until that copy is made, at the next decode.
        if hit is not None and slot.id not in self._donors and cache.pays(gain, len(hit.state)):
            start = time.perf_counter()
            if restore(self.ctx, slot.id, hit.state):
                seconds = time.perf_counter() - start
                cache.rates.note("restore", seconds / len(hit.state))
                request.restored, request.cache_tier = hit.usable, hit.tier
                slot.window = hit.entry.window
                request.saved = max(0.0, gain * cache.rates.prefill - seconds)
                cache.record_hit(hit, request.saved, seconds)
                self.prompt_tokens_restored_total += hit.usable
                return hit.usable
            cache.discard(hit.entry, "llama.cpp refused it")
            self._forget(slot)  # llama.cpp emptied the sequence
            prefix[slot.id] = 0
        if len(request.tokens) - 1 - best >= MIN_SHARED_PREFIX:
            request.cache_tier = "miss"
            cache.record_miss()
        return self._take_prefix(slot, request.tokens, prefix, copied)

    def _take_prefix(self, slot: Slot, tokens: list[int], prefix: dict[int, int], copied: set[int]) -> int:
        """How much of `tokens` the slot's KV holds: its own prefix, or a longer one copied from another slot.

        Slots have KV streams of their own, and llama.cpp copies between streams only whole: the
        donor's stream is copied (at the next decode) and what follows the shared prefix is dropped
        by the caller. Another slot's cache is valid between steps, busy or not. `prefix` is each
        slot's common prefix with `tokens`.
        """
        own = prefix[slot.id]
        if not self.share_prefixes:
            return own
        donors = [s for s in self.slots if s is not slot and s.id not in copied]
        donor = max(donors, key=lambda s: prefix[s.id], default=None)
        shared = prefix[donor.id] if donor is not None else 0
        if donor is None or shared < own + MIN_SHARED_PREFIX:
            return own
        L.llama_memory_seq_cp(self.memory, donor.id, slot.id, -1, -1)
        slot.cached, slot.window = list(donor.cached), donor.window
        copied.add(slot.id)
        self._donors.add(donor.id)
        self.prompt_tokens_shared_total += min(shared, len(tokens) - 1)
        return shared

    def _fit(self, request: Completion) -> list[int]:
        """A prompt that fits the slot, as it is. One that does not was asked to be cut (the server refused it
        otherwise): as Ollama cuts it, keep the first num_keep tokens, then the newest ones, leaving about half
        of the rest of the slot to generate into."""
        tokens, n_ctx = request.tokens, self.n_ctx_slot
        if len(tokens) < n_ctx or request.media is not None or not request.cut_prompt:
            return tokens
        keep = min(max(request.num_keep, 0), n_ctx - 1)
        limit = n_ctx - max((n_ctx - keep) // 2, 1)
        cut = tokens[:keep] + tokens[len(tokens) - (limit - keep) :]
        request.dropped = len(tokens) - len(cut)
        log.warning("truncating input prompt: %d tokens for a slot of %d, kept the first %d and the last %d (%d dropped)",
                    len(tokens), n_ctx, keep, limit - keep, request.dropped)
        return cut

    def _step(self) -> None:
        if self.threads != self._threads_applied:
            self._threads_applied = self.threads
            L.llama_set_n_threads(self.ctx, *self._threads_applied)
            if self.drafts is not None:
                self.drafts.set_threads(self._threads_applied)
        for slot in self.slots:
            if slot.request is not None and slot.media is not None:
                self._evaluate_media(slot)
        batch = self.batch
        batch.n_tokens = 0
        sample_at: list[tuple[Slot, int]] = []

        generating = []
        for slot in self.slots:
            if not slot.request or slot.pending or slot.next_token is None:
                continue
            if len(slot.cached) >= self.n_ctx_slot and not (slot.request.shift and self._shift(slot)):
                self._finish(slot, reason="length")
                continue
            generating.append(slot)
        guesses = self._model_guesses(generating)
        for slot in generating:
            token = slot.next_token
            assert token is not None  # `generating` holds only slots with a sampled token
            sample_at.append((slot, batch.n_tokens))
            batch_add(batch, token, len(slot.cached), slot.id, True)
            slot.cached.append(token)
            slot.draft = self._draft(slot, self.n_batch - batch.n_tokens, guesses.get(slot.id, []))
            for guess in slot.draft:  # each with its logits: the check samples after every one
                batch_add(batch, guess, len(slot.cached), slot.id, True)
                slot.cached.append(guess)
        # Prefill in chunks with what is left of the batch, oldest request first.
        prefilled: list[tuple[Slot, Completion]] = []  # slots whose prompt is read by this step
        for slot in sorted((s for s in self.slots if s.request and s.pending), key=lambda s: s.started):
            room = self.n_batch - batch.n_tokens
            if room <= 0:
                break
            if slot.split_last and len(slot.pending) > 1:
                room = min(room, len(slot.pending) - 1)
            chunk, slot.pending = slot.pending[:room], slot.pending[room:]
            start = len(slot.cached)
            for offset, token in enumerate(chunk):
                last = not slot.pending and offset == len(chunk) - 1
                if last:
                    sample_at.append((slot, batch.n_tokens))
                batch_add(batch, token, start + offset, slot.id, last)
            slot.cached.extend(chunk)
            if not slot.pending and slot.request is not None:
                prefilled.append((slot, slot.request))
        if batch.n_tokens == 0:
            return
        status = L.llama_decode(self.ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama_decode returned {status}")
        if self.cache is not None and prefilled:
            self._save_prompts(prefilled)  # before the first token: a client that hears "done" finds it saved
        for slot, index in sample_at:
            if slot.draft:
                self._check_draft(slot, index)
            else:
                self._sample(slot, index)

    def _save_prompts(self, prefilled: list[tuple[Slot, Completion]]) -> None:
        """Prompts just read go into the prompt cache when enough of them is new to it (`PromptCache.worth_saving`).

        The copy out of llama.cpp happens here, on the engine thread, between two decodes (the state must not change
        under it): a memory copy, 25-35 ms for 2,500 tokens of SmolLM2 on 2 busy cores, far less than one 512-token
        prefill step; the disk write happens on the cache's own thread. The slot's KV holds exactly the prompt now,
        before its first token is sampled."""
        cache = self.cache
        assert cache is not None
        now = time.perf_counter()
        for slot, request in prefilled:
            computed = len(request.tokens) - request.reused
            if computed >= RATE_MIN:
                cache.rates.note("prefill", (now - slot.started) / computed)
            if request.media is not None or request.links is None or not cache.worth_saving(request.tokens, request.links):
                continue
            start = time.perf_counter()
            try:
                state = snapshot(self.ctx, slot.id)
                cache.add(request.tokens, request.links, state, time.perf_counter() - start)
            except BadState as err:  # llama.cpp's format is not the one seqstate reads: no cache rather than a bad one
                log.warning("prompt cache off: a saved state did not read back (%s)", err)
                self.cache = None
                cache.close(timeout=0)
                return

    def _evaluate_media(self, slot: Slot) -> None:
        """The slot's prompt up to its last image into its KV cache: the images encoded, the text between them."""
        media, slot.media = slot.media, None
        assert media is not None and self.vision is not None
        end = media.media_end
        try:
            self.vision.evaluate(self.ctx, media, slot.id, self.n_batch)
        except RuntimeError as err:
            self._finish(slot, error=str(err))
            self._forget(slot)
            return
        slot.cached, slot.pending = slot.pending[:end], slot.pending[end:]

    def _draft(self, slot: Slot, room: int, guess: list[int]) -> list[int]:
        """A guess at the tokens after next_token, within the batch, the context and the reply's limit.

        `guess`: the draft model's, when the engine has one (then prompt lookup does not guess)."""
        if slot.drafter is None or slot.request is None:
            return []
        if slot.draft_pause > 0:
            slot.draft_pause -= 1
            return []
        size = min(self._draft_limit(slot.request, slot.draft_size, len(slot.cached)), room - 1)
        if size <= 0:
            return []
        if self.drafts is not None:
            return guess[:size]
        # The drafter's history ends with next_token (every sampled token goes in): what follows it?
        return slot.drafter.propose(size)

    def _draft_limit(self, request: Completion, size: int, held: int) -> int:
        """How many of `size` tokens to guess after the `held` tokens (next_token the last): within the context and the limit."""
        left = self._limit(request) - len(request.generated) - 1
        return min(size, self.n_ctx_slot - held, left)

    def _model_guesses(self, generating: list[Slot]) -> dict[int, list[int]]:
        """The draft model's guesses for the greedy slots that guess this step, by slot id; {} without a draft model."""
        if self.drafts is None:
            return {}
        wanted: dict[int, tuple[list[int], int]] = {}
        for slot in generating:
            if slot.drafter is None or slot.request is None or slot.draft_pause > 0 or slot.next_token is None:
                continue
            tokens = slot.cached + [slot.next_token]
            size = self._draft_limit(slot.request, slot.draft_size, len(tokens))
            if size > 0:
                wanted[slot.id] = (tokens, size)
        return self.drafts.guess(wanted)

    def _check_draft(self, slot: Slot, index: int) -> None:
        """Keep the guessed tokens greedy sampling confirms, one by one; drop the rest from the KV cache."""
        draft, slot.draft = slot.draft, []
        assert slot.sampler is not None
        # Counted as they are decided, before a token below can end the request: a client that hears "done"
        # and reads the counters (/metrics, /api/ps) finds them final.
        self.tokens_drafted_total += len(draft)
        first_guess = len(slot.cached) - len(draft)
        kept = 0
        keep = first_guess  # tokens whose KV stays: up to next_token, then the confirmed guesses
        for offset in range(len(draft) + 1):
            if slot.sampler.close_call(self.ctx, index + offset, NEAR_TIE):
                # Too close to call from batched logits: the token these came from goes in again, alone.
                keep = first_guess - 1 + offset
                slot.next_token = slot.cached[keep]
                slot.draft_pause = max(slot.draft_pause, 1)
                break
            token = self._sample(slot, index + offset)  # what plain decoding picks here
            if token is None or offset == len(draft) or token != draft[offset]:
                break
            kept += 1
            keep += 1
            self.tokens_draft_accepted_total += 1
        if len(slot.cached) > keep:
            L.llama_memory_seq_rm(self.memory, slot.id, keep, -1)
            del slot.cached[keep:]
        # Guess as far as guesses have been holding: a longer guess costs a larger batch.
        request = slot.request
        if request is not None:
            slot.draft_size = min(2 * len(draft), request.draft_max) if kept == len(draft) else kept + 1
        if kept < DRAFT_USEFUL:  # not worth its cost: wait before guessing again, longer each time
            slot.draft_misses += 1
            slot.draft_pause = min(2**slot.draft_misses, DRAFT_PAUSE_MAX)
        else:
            slot.draft_misses = 0

    def _limit(self, request: Completion) -> int:
        # Open-ended generation stops at 10 contexts' worth of tokens, as Ollama's runner does.
        return min(request.num_predict, 10 * self.n_ctx_slot) if request.num_predict > 0 else 10 * self.n_ctx_slot

    def _sample(self, slot: Slot, index: int) -> int | None:
        """Sample at `index` and hand the token on; the token, or None when the request ended with it."""
        request = slot.request
        assert request is not None and slot.sampler is not None and slot.text is not None
        token = slot.sampler.sample(self.ctx, index)
        if slot.held is not None and request.think_first is not None:
            verdict = request.think_first.feed(self.model.token_bytes(token), self.model.is_eog(token))
            if verdict is not Verdict.THINK:
                self._constrain(slot, [token] if verdict is Verdict.CONSTRAIN else [])
                if verdict is Verdict.RESAMPLE:  # no thinking in this output: its first token follows the grammar
                    token = slot.sampler.sample(self.ctx, index)
        now = time.perf_counter()
        if not slot.first_token:
            slot.first_token = now
        if self.model.is_eog(token):
            self._finish(slot, reason="stop")
            return None
        request.generated.append(token)
        if slot.drafter is not None:
            slot.drafter.extend([token])
        self.tokens_predicted_total += 1
        text = slot.text.feed(self.model.token_bytes(token))
        if request.logprobs:
            request.on_event(Piece(text, [self._logprob_entry(slot.sampler, index, token, request.top_logprobs)]))
        elif text:
            request.on_event(Piece(text))
        if slot.text.stopped:
            self._finish(slot, reason="stop")
        elif len(request.generated) >= self._limit(request):
            self._finish(slot, reason="length")
        else:
            slot.next_token = token
            return token
        return None

    def _constrain(self, slot: Slot, more: list[int]) -> None:
        """The thinking is over: the slot samples from its grammar's chain from now on.

        `more`: the tokens sampled since the last one in `generated` that stay (the one that closed the thinking)."""
        request, held = slot.request, slot.held
        assert request is not None and held is not None and slot.sampler is not None
        held.remember(request.generated + more)  # repeat penalties go on counting the thinking
        slot.sampler.close()
        slot.sampler, slot.held = held, None
        slot.drafter = None  # guesses are checked on greedy slots without a grammar only

    def _logprob_entry(self, sampler: SamplerChain, index: int, token: int, top: int) -> dict[str, Any]:
        """Ollama's logprob entry for a sampled token: its text, bytes, log probability and the likeliest others."""

        def described(token: int, logprob: float) -> dict[str, Any]:
            data = self.model.token_bytes(token)
            return {"token": data.decode("utf-8", "replace"), "logprob": logprob, "bytes": list(data)}

        logprob, best = sampler.logprobs(self.ctx, index, token, top)
        entry = described(token, logprob)
        if top > 0:
            entry["top_logprobs"] = [described(t, lp) for t, lp in best]
        return entry

    def _shift(self, slot: Slot) -> bool:
        """Context shift: drop half of the tokens after num_keep so generation can go on."""
        request = slot.request
        if not self.can_shift or request is None:
            return False
        keep = min(max(request.num_keep, 0), self.n_ctx_slot // 2)
        discard = (len(slot.cached) - keep) // 2
        if discard <= 0:
            return False
        L.llama_memory_seq_rm(self.memory, slot.id, keep, keep + discard)
        L.llama_memory_seq_add(self.memory, slot.id, keep + discard, -1, -discard)
        slot.cached = slot.cached[:keep] + slot.cached[keep + discard :]
        if slot.window > keep:  # the window layers' positions moved down with the rest
            slot.window = max(slot.window - discard, keep)
        return True

    def _finish(self, slot: Slot, reason: str = "stop", error: str | None = None) -> None:
        request = slot.request
        if request is None:
            return
        events: list[EngineEvent] = []
        if error is not None:
            events.append(Failed(error))
        else:
            assert slot.text is not None
            tail = slot.text.flush()
            if tail:
                events.append(Piece(tail))
            end = time.perf_counter()
            first = slot.first_token or end
            events.append(
                Done(
                    done_reason=reason,
                    prompt_eval_count=len(request.tokens),
                    prompt_dropped=request.dropped,
                    prompt_cached=request.reused,
                    prompt_restored=request.restored,
                    prompt_cache=request.cache_tier,
                    prompt_cache_saved=int(request.saved * 1e9),
                    prompt_eval_duration=int((first - slot.started) * 1e9),
                    eval_count=len(request.generated),
                    eval_duration=int((end - first) * 1e9),
                )
            )
        for chain in (slot.sampler, slot.held):
            if chain:
                chain.close()
        # The slot is free before its client hears "done": a client that asks /api/ps right after sees it idle.
        with self.cond:
            slot.sampler = slot.held = None
            slot.drafter = None
            if slot.media is not None:
                slot.media.close()
                slot.media = None
            slot.request = None
            slot.pending = []
            slot.next_token = None
            slot.last_used = time.monotonic()
        for event in events:
            request.on_event(event)

    def _forget(self, slot: Slot) -> None:
        L.llama_memory_seq_rm(self.memory, slot.id, -1, -1)
        slot.cached, slot.window = [], 0

