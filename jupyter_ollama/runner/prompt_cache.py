"""The prompt cache: the KV of prompts read before, kept after their slot moves on, in RAM and on disk.

llama-server keeps such a cache in host RAM (`--cache-ram`); Ollama has none (its KV save/restore,
ollama#16836, was never merged). Here an entry is the state of one slot's sequence right after a long
prompt was read (`llama_state_seq_get_data`): the KV of that token prefix. It goes into a RAM tier
with a byte budget (least recently used out first) and is written to disk by a thread of its own
(`cachefiles`: temporary file, rename, checksum), where it outlives the runner: an unload, a server
restart, a kernel restart. A new prompt looks for the entry that shares the longest prefix with it (a
hash chain over 32-token blocks finds it) and, when that beats what the slots hold, the engine restores
it into the slot (`llama_state_seq_set_data`) instead of computing it.

When an entry is saved: as soon as a prompt of which at least 256 tokens are in no entry yet has been read,
before its first token is sampled. The slot's KV then holds exactly that prompt; a client that hears "done"
and unloads the model finds it saved; a runner that dies later (a crash, a kill) loses nothing already
written. Not at unload: the runner leaves as soon as the manager closes its stdin, and writing gigabytes
then would hold the unload up (and a crash would lose them). Not when a slot is reused: its prompt is in
the cache already, and what it generated reaches the cache as part of the next prompt (a chat's next
turn, an agent's next call) once 256 tokens of that are new. The copy out of llama.cpp pauses the engine,
every slot, for one memory copy: 25-35 ms for 2,500 tokens of SmolLM2 (55 MiB) on 2 busy cores, where
one 512-token prefill step of that prompt took 10 s; the disk write is the writer thread's.

Entries are keyed by what their values depend on: the model's blob digest, the context's KV layout
(cache type, V transposed or not with flash attention, the layers' types and row sizes, llama.cpp's
version: `Layout`) and the tokens. A slot's context size does not enter: a state restores into any slot
that has room for it. Nothing read from disk reaches llama.cpp before its checksum, its header and its
structure (`seqstate.parse`) were checked; a file that fails is removed, never served.
"""

from __future__ import annotations

import hashlib
import logging
import queue
import shutil
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import cachefiles, seqstate
from .seqstate import BadState, Layout, SeqState

log = logging.getLogger("jupyter_ollama.runner")

BLOCK = 32  # tokens per link of the hash chain
MIN_RESTORE = 32  # fewer tokens than this are computed again (as slots share prefixes: engine.MIN_SHARED_PREFIX)
SAVE_MIN = 256  # a prompt is saved when at least this many of its tokens are not in the cache yet
PENDING_MAX = 1 << 30  # bytes waiting for the disk writer, past which a save is skipped (a slow disk)
DISK_RESERVE = 1 << 30  # a write never leaves the disk with less free than this (the models live there too)
# Until measured: reading a prompt costs about 1 ms a token, a restore copies 1 GB/s and a disk entry is read and
# checked at 500 MB/s (then they are the runner's own, averaged: `Rates`).
PRIOR_PREFILL = 1e-3
PRIOR_RESTORE = 1e-9
PRIOR_DISK = 2e-9


@dataclass(frozen=True)
class Settings:
    """What the runner is told (LoadConfig): whose cache, how much RAM, where on disk and how much."""

    model_digest: str
    ram_budget: int  # bytes; 0: no RAM tier
    disk_dir: Path | None = None  # the cache's root (every model's); None: no disk tier
    disk_budget: int = 0  # bytes for the whole root; 0: no disk tier
    min_save: int = SAVE_MIN  # tokens new to the cache for a prompt to be saved (tests use fewer)


@dataclass
class Entry:
    key: str
    tokens: np.ndarray  # int32: the prefix whose KV this is
    window: int  # a sliding-window cache holds every position from here on (0: all)
    size: int  # bytes of the state in this runner's layout
    state: np.ndarray | None = None  # in RAM (the RAM tier, or waiting for its disk write)
    parsed: SeqState | None = None
    path: Path | None = None  # on disk
    in_ram: bool = False  # counted in the RAM tier
    writing: bool = False  # queued for the disk writer

    @property
    def n(self) -> int:
        return len(self.tokens)


@dataclass(frozen=True)
class Hit:
    """An entry found for a prompt, its state in memory: `usable` tokens of the prompt are in it."""

    entry: Entry
    state: np.ndarray
    usable: int
    tier: str  # "ram" or "disk"


@dataclass
class Stats:
    hits_ram: int = 0
    hits_disk: int = 0
    misses: int = 0
    tokens_restored: int = 0
    seconds_saved: float = 0.0  # estimated: the restored tokens' prefill time, less the restores'
    saves: int = 0
    save_seconds: float = 0.0  # on the engine thread, copying states out of llama.cpp
    restore_seconds: float = 0.0  # on the engine thread, copying states in
    disk_writes: int = 0
    discarded: int = 0  # entries found damaged or mismatched, removed


@dataclass
class Rates:
    """Seconds a token of prompt takes to compute, and a byte of state to restore and to read from disk, as this
    runner measured them."""

    prefill: float = PRIOR_PREFILL
    restore: float = PRIOR_RESTORE
    disk: float = PRIOR_DISK
    measured: dict[str, bool] = field(default_factory=dict)

    def note(self, name: str, value: float) -> None:
        old = getattr(self, name)
        setattr(self, name, value if not self.measured.get(name) else 0.7 * old + 0.3 * value)
        self.measured[name] = True


def chain(seed: bytes, tokens: list[int] | np.ndarray) -> list[bytes]:
    """The hash of every whole block of `tokens` with all before it: equal links mean equal prefixes."""
    data = np.asarray(tokens, dtype="<i4").tobytes()
    links, link = [], seed
    step = 4 * BLOCK
    for start in range(0, len(data) - step + 1, step):
        link = hashlib.blake2b(link + data[start : start + step], digest_size=16).digest()
        links.append(link)
    return links


def common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    n = min(len(a), len(b))
    differ = np.flatnonzero(a[:n] != b[:n])
    return int(differ[0]) if differ.size else n


# -- the cache --------------------------------------------------------------------------


class PromptCache:
    """Entries in RAM and on disk for one runner's model and layout; thread-safe.

    The engine thread saves (`add`) and restores; request threads look entries up (`find`, which
    reads a disk entry into memory off the engine thread); a writer thread writes entries to disk."""

    def __init__(self, settings: Settings, layout: Layout, n_stream: int, n_ctx_slot: int, n_swa: int) -> None:
        self.settings = settings
        self.layout = layout
        self.n_stream = n_stream
        self.n_ctx_slot = n_ctx_slot
        self.n_swa = n_swa
        self.seed = hashlib.sha256(f"{settings.model_digest}|{layout.tag}".encode()).digest()[:16]
        self.lock = threading.RLock()
        self.entries: OrderedDict[str, Entry] = OrderedDict()  # least recently used first
        self.by_link: dict[bytes, set[str]] = {}
        self.ram_bytes = 0
        self.pending_bytes = 0  # states waiting for the writer and not in the RAM tier
        self.stats = Stats()
        self.rates = Rates()
        digest = settings.model_digest.replace(":", "-")
        self.disk = settings.disk_dir is not None and settings.disk_budget > 0
        self.folder = settings.disk_dir / digest / layout.tag if self.disk and settings.disk_dir else None
        self._scanned_at = -1
        self._writes: queue.Queue[Entry | None] = queue.Queue()
        self._writer: threading.Thread | None = None
        self._loading = threading.Lock()
        if self.folder is not None:
            cachefiles.sweep_temporary(self.folder)
            self._scan()
            self._writer = threading.Thread(target=self._write_loop, name="prompt-cache-writer", daemon=True)
            self._writer.start()

    @property
    def root(self) -> Path | None:
        return self.settings.disk_dir if self.disk else None

    # -- looking up ------------------------------------------------------------------

    def chain(self, tokens: list[int]) -> list[bytes]:
        return chain(self.seed, tokens)

    def min_usable(self, entry: Entry) -> int:
        """The fewest tokens of `entry` a prompt can keep. A model with sliding-window layers (Gemma 2 and 3, gpt-oss)
        saves those layers' newest n_swa positions only: the token after the kept ones must still see a whole window
        (positions from p - n_swa + 1), so a state of n tokens serves the same prompt again (n - 1 kept) or a longer
        one, not a prompt that parts from it earlier (llama-server keeps checkpoints for that)."""
        return entry.window + self.n_swa - 1 if entry.window else 0

    def _best(self, prompt: np.ndarray, links: list[bytes], limit: int) -> tuple[Entry, int] | None:
        """The entry that holds the longest usable prefix of `prompt` (at most `limit` tokens of it)."""
        for depth in range(len(links), 0, -1):
            best: tuple[Entry, int] | None = None
            for key in self.by_link.get(links[depth - 1], ()):
                entry = self.entries[key]
                if entry.n > self.n_ctx_slot:
                    continue
                usable = min(common_prefix(entry.tokens, prompt), limit)
                if usable < self.min_usable(entry):
                    continue
                if best is None or (usable, -entry.size) > (best[1], -best[0].size):
                    best = (entry, usable)
            if best is not None:
                return best
        return None

    def covered(self, tokens: list[int], links: list[bytes]) -> int:
        """How many tokens of `tokens` an entry already holds."""
        with self.lock:
            best = self._best(np.asarray(tokens, dtype=np.int32), links, len(tokens))
        return best[1] if best else 0

    def pays(self, gain: int, size: int, disk: bool = False) -> bool:
        """Restoring a state of `size` bytes (read from disk first, with `disk`) beats computing `gain` tokens of
        prompt: by MIN_RESTORE tokens, and in time as this runner measures it."""
        rates = self.rates
        return gain >= MIN_RESTORE and gain * rates.prefill > size * (rates.restore + (rates.disk if disk else 0.0))

    def find(self, tokens: list[int], links: list[bytes], held: int = 0) -> Hit | None:
        """The entry sharing the longest prefix with `tokens` (all but the last, whose logits are needed), with its
        state in memory, when restoring it pays (`pays`) against the `held` tokens the slots hold. A disk entry is
        read and checked here, on the caller's thread; one that fails is removed and the next best looked for."""
        self._refresh()
        prompt = np.asarray(tokens, dtype=np.int32)
        while True:
            with self.lock:
                best = self._best(prompt, links, len(tokens) - 1)
                if best is None:
                    return None
                entry, usable = best
                if entry.state is not None:
                    if not self.pays(usable - held, len(entry.state)):
                        return None
                    self.entries.move_to_end(entry.key)
                    if entry.path is not None:
                        cachefiles.touch(entry.path)
                    return Hit(entry, entry.state, usable, "ram")
                if not self.pays(usable - held, entry.size, disk=True):
                    return None
            with self._loading:  # one disk read at a time: two requests for one entry read it once
                with self.lock:
                    state = entry.state
                if state is None:
                    start = time.perf_counter()
                    state = self._load(entry)
                    if state is not None:
                        self.rates.note("disk", (time.perf_counter() - start) / len(state))
            if state is not None:
                with self.lock:
                    self.entries.move_to_end(entry.key)
                return Hit(entry, state, usable, "disk")

    def _load(self, entry: Entry) -> np.ndarray | None:
        """A disk entry's state in this runner's layout, checked; None (and the entry removed) if it fails a check."""
        path = entry.path
        if path is None:
            self._forget(entry, disk=True)
            return None
        try:
            header, tokens, state = cachefiles.read(path)
            self._check(header, path, tokens)
            if not np.array_equal(tokens, entry.tokens):
                raise cachefiles.BadEntry("its tokens changed")
            parsed = seqstate.parse(state, 1)
            self._check_state(parsed, len(tokens), header.window)
        except FileNotFoundError:
            self._forget(entry, disk=True)
            return None
        except (cachefiles.BadEntry, BadState, OSError) as err:
            self.discard(entry, str(err))
            return None
        native = seqstate.rewrite(state, parsed, self.n_stream) if self.n_stream != 1 else np.frombuffer(state, np.uint8)
        cachefiles.touch(path)
        with self.lock:
            entry.size = len(native)
            if self.entries.get(entry.key) is entry and entry.state is None and self._make_room(len(native)):
                entry.state, entry.parsed, entry.in_ram = native, seqstate.parse(native, self.n_stream), True
                self.ram_bytes += len(native)
        return native

    def _check(self, header: cachefiles.Header, path: Path, tokens: np.ndarray) -> None:
        """A file's header against this runner's model and layout, and its name against its tokens."""
        if header.model != self.settings.model_digest:
            raise cachefiles.BadEntry(f"saved for another model ({header.model})")
        if header.layout != self.layout.tag:
            raise cachefiles.BadEntry(f"saved from another KV layout ({header.layout})")
        if path.name != self.key_of(tokens) + cachefiles.SUFFIX:
            raise cachefiles.BadEntry("its name is not its tokens'")
        if header.window and not self.n_swa:
            raise cachefiles.BadEntry("a sliding window for a model without one")

    def _check_state(self, parsed: SeqState, n_tokens: int, window: int) -> None:
        if parsed.magic != self.layout.magic or parsed.signature != self.layout.signature:
            raise BadState("its KV layout is not this context's")
        if parsed.n_tokens != n_tokens:
            raise BadState(f"it holds {parsed.n_tokens} positions for {n_tokens} tokens")
        if parsed.window != window:
            raise BadState("its window is not the one its header says")

    def key_of(self, tokens: np.ndarray) -> str:
        """An entry's name: a hash of the seed and every one of its tokens."""
        return hashlib.blake2b(self.seed + np.asarray(tokens, dtype="<i4").tobytes(), digest_size=20).hexdigest()

    def record_hit(self, hit: Hit, saved: float, seconds: float) -> None:
        """A restore the engine made: counted, and the entry used now."""
        with self.lock:
            if hit.tier == "ram":
                self.stats.hits_ram += 1
            else:
                self.stats.hits_disk += 1
            self.stats.tokens_restored += hit.usable
            self.stats.seconds_saved += saved
            self.stats.restore_seconds += seconds

    def record_miss(self) -> None:
        with self.lock:
            self.stats.misses += 1

    # -- saving ----------------------------------------------------------------------

    def worth_saving(self, tokens: list[int], links: list[bytes]) -> bool:
        """A prompt is saved when at least `min_save` of its tokens are in no entry yet."""
        least = self.settings.min_save
        if len(tokens) < least or len(tokens) > self.n_ctx_slot:
            return False
        return len(tokens) - self.covered(tokens, links) >= least

    def add(self, tokens: list[int], links: list[bytes], state: np.ndarray, seconds: float) -> Entry | None:
        """A slot's state after it read `tokens` (`snapshot`): into the RAM tier and the disk writer's queue."""
        self.stats.saves += 1
        self.stats.save_seconds += seconds
        parsed = seqstate.parse(state, self.n_stream)
        self._check_state(parsed, len(tokens), parsed.window)
        array = np.asarray(tokens, dtype=np.int32)
        entry = Entry(self.key_of(array), array, parsed.window, len(state), state, parsed)
        with self.lock:
            if entry.key in self.entries:
                self.entries.move_to_end(entry.key)
                return self.entries[entry.key]
            self._supersede(entry, links)
            if self._make_room(entry.size):
                entry.in_ram = True
                self.ram_bytes += entry.size
            if self.folder is not None and (entry.in_ram or self.pending_bytes + entry.size <= PENDING_MAX):
                entry.writing = True
                if not entry.in_ram:
                    self.pending_bytes += entry.size
                self._writes.put(entry)
            if not entry.in_ram and not entry.writing:
                return None
            self._register(entry, links)
        return entry

    def _supersede(self, entry: Entry, links: list[bytes]) -> None:
        """Entries whose tokens all begin `entry`'s go: it holds all they hold (not so with a sliding window, whose
        states can only be cut back within the window)."""
        if entry.window or self.n_swa:
            return
        shorter = {key for link in links for key in self.by_link.get(link, ())}
        for key in shorter:
            old = self.entries[key]
            if old.n <= entry.n and not old.window and common_prefix(old.tokens, entry.tokens) == old.n:
                self._remove(old, disk=True)

    def _make_room(self, size: int) -> bool:
        """Evict the least recently used RAM entries until `size` more bytes fit the budget; False if they never can."""
        budget = self.settings.ram_budget
        if size > budget:
            return False
        for entry in list(self.entries.values()):
            if self.ram_bytes + size <= budget:
                break
            if entry.in_ram:
                self._drop_from_ram(entry)
        return self.ram_bytes + size <= budget

    def _drop_from_ram(self, entry: Entry) -> None:
        self._leave_ram(entry)
        if entry.writing:
            return
        entry.state = entry.parsed = None
        if entry.path is None:
            self._remove(entry, disk=False)

    def _leave_ram(self, entry: Entry) -> None:
        if not entry.in_ram:
            return
        entry.in_ram = False
        self.ram_bytes -= entry.size
        if entry.writing:  # the writer still needs it: it counts as pending until written
            self.pending_bytes += entry.size

    def _register(self, entry: Entry, links: list[bytes]) -> None:
        self.entries[entry.key] = entry
        for link in links[: entry.n // BLOCK]:
            self.by_link.setdefault(link, set()).add(entry.key)

    def _remove(self, entry: Entry, disk: bool) -> None:
        """Out of the index (and RAM); with `disk`, its file too."""
        if self.entries.get(entry.key) is not entry:
            return
        del self.entries[entry.key]
        for link in chain(self.seed, entry.tokens):
            keys = self.by_link.get(link)
            if keys is not None:
                keys.discard(entry.key)
                if not keys:
                    del self.by_link[link]
        self._leave_ram(entry)
        if not entry.writing:
            entry.state = entry.parsed = None
        if disk and entry.path is not None:
            entry.path.unlink(missing_ok=True)
            entry.path = None

    def _forget(self, entry: Entry, disk: bool) -> None:
        with self.lock:
            if disk:
                entry.path = None
            if not entry.in_ram:
                self._remove(entry, disk=False)

    def discard(self, entry: Entry, reason: str) -> None:
        """A damaged or mismatched entry: removed from RAM and disk, never served."""
        log.warning("prompt cache: removed an entry of %d tokens (%s): %s", entry.n, entry.path or "in RAM", reason)
        with self.lock:
            self.stats.discarded += 1
            if self.entries.get(entry.key) is entry:
                self._remove(entry, disk=True)
            elif entry.path is not None:
                entry.path.unlink(missing_ok=True)

    # -- the disk tier ---------------------------------------------------------------

    def _scan(self) -> None:
        """Index the entries on disk (their headers only); remove those that are not what they claim."""
        folder = self.folder
        if folder is None:
            return
        try:
            self._scanned_at = folder.stat().st_mtime_ns
            names = {p.name: p for p in folder.iterdir() if p.name.endswith(cachefiles.SUFFIX)}
        except FileNotFoundError:
            return
        with self.lock:
            known = {e.path.name for e in self.entries.values() if e.path is not None}
            for entry in [e for e in self.entries.values() if e.path is not None and e.path.name not in names]:
                self._forget(entry, disk=True)  # removed by another runner's cap
        for name, path in names.items():
            if name in known:
                continue
            try:
                header, tokens = cachefiles.read_header(path)
                self._check(header, path, tokens)
            except FileNotFoundError:
                continue
            except (cachefiles.BadEntry, OSError) as err:
                log.warning("prompt cache: removed %s: %s", path, err)
                self.stats.discarded += 1
                path.unlink(missing_ok=True)
                continue
            # Its size here, as far as the header tells: one stream on disk, this runner's streams in memory.
            size = header.state + len(self.layout.signature) * 4 * (self.n_stream - 1)
            entry = Entry(self.key_of(tokens), tokens, header.window, size, path=path)
            with self.lock:
                if entry.key not in self.entries:
                    self._register(entry, chain(self.seed, tokens))
                    self.entries.move_to_end(entry.key, last=False)  # older than anything used since this start

    def _refresh(self) -> None:
        """Files written or removed by other runners since the last look."""
        folder = self.folder
        if folder is None:
            return
        try:
            changed = folder.stat().st_mtime_ns != self._scanned_at
        except FileNotFoundError:
            changed = self._scanned_at != -1
        if changed:
            self._scan()

    def _write_loop(self) -> None:
        while True:
            entry = self._writes.get()
            try:
                if entry is None:
                    return
                self._write(entry)
            finally:
                self._writes.task_done()

    def _write(self, entry: Entry) -> None:
        folder, root = self.folder, self.root
        assert folder is not None and root is not None
        with self.lock:
            state, parsed = entry.state, entry.parsed
            alive = self.entries.get(entry.key) is entry
        path = None
        if alive and state is not None and parsed is not None:
            header = cachefiles.Header(self.settings.model_digest, self.layout.tag, entry.n,
                                       seqstate.size_for(parsed, 1), entry.window)
            try:
                folder.mkdir(parents=True, exist_ok=True)
                free = shutil.disk_usage(folder).free
                if free - header.state < DISK_RESERVE or header.state > self.settings.disk_budget:
                    log.info("prompt cache: not written to disk (%d bytes, %d free)", header.state, free)
                else:
                    path = cachefiles.write(folder, entry.key, header, entry.tokens, seqstate.pieces(state, parsed, 1))
                    self.stats.disk_writes += 1
            except OSError as err:
                log.warning("prompt cache: could not write %s: %s", folder, err)
        with self.lock:
            entry.writing = False
            if not entry.in_ram:
                self.pending_bytes -= entry.size
                entry.state = entry.parsed = None
            if self.entries.get(entry.key) is entry:
                entry.path = path
                if path is None and not entry.in_ram:
                    self._remove(entry, disk=False)
            elif path is not None:  # superseded or discarded while being written
                path.unlink(missing_ok=True)
        if path is not None:
            removed = set(cachefiles.enforce_cap(root, self.settings.disk_budget))
            if removed:
                with self.lock:
                    for gone in [e for e in self.entries.values() if e.path in removed]:
                        self._forget(gone, disk=True)

    def flush(self, timeout: float) -> bool:
        """Wait (up to `timeout` seconds) for the disk writes queued so far; True when all are done."""
        deadline = time.monotonic() + timeout
        while self._writes.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.02)
        return not self._writes.unfinished_tasks

    def close(self, timeout: float = 30) -> None:
        self.flush(timeout)
        if self._writer is not None:
            self._writes.put(None)
            self._writer.join(timeout=5)

    # -- what /api/ps and /metrics show ---------------------------------------------

    def report(self) -> dict[str, Any]:
        with self.lock:
            ram = [e for e in self.entries.values() if e.in_ram]
            disk = [e for e in self.entries.values() if e.path is not None]
            disk_bytes = 0
            for entry in disk:
                try:
                    disk_bytes += entry.path.stat().st_size if entry.path else 0
                except OSError:
                    pass
            return {
                "ram_budget": self.settings.ram_budget,
                "ram_bytes": self.ram_bytes,
                "ram_entries": len(ram),
                "disk_budget": self.settings.disk_budget if self.disk else 0,
                "disk_bytes": disk_bytes,
                "disk_entries": len(disk),
                **{k: v for k, v in self.stats.__dict__.items()},
            }

