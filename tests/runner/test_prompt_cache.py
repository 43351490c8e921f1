"""The prompt cache on the real SmolLM2: a prompt read by one engine is restored by another (another slot count, another
context size), answers exactly as it did; damaged or mismatched entries are removed, never served; the tiers keep to
their budgets, least recently used out first."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import llama_cpp as L
import numpy as np
import pytest

from jupyter_ollama.runner import cachefiles, seqstate
from jupyter_ollama.runner.engine import BatchEngine
from jupyter_ollama.runner.llama import LlamaModel, batch_add
from jupyter_ollama.runner.prompt import prompt_tokens
from jupyter_ollama.runner.prompt_cache import Settings
from jupyter_ollama.runner.seqstate import snapshot
from jupyter_ollama.runners.protocol import Done, Prompt

from .events import complete

DIGEST = "sha256:" + "5" * 64  # the model's blob digest, as the scheduler passes it
MIN_SAVE = 64  # tokens: small prompts keep the tests fast (the default is 256)


def document(n: int) -> str:
    colours = ["red", "blue", "green", "white"]
    return " ".join(f"Box {i}{'ABCDEFG'[n % 7]} is {colours[(i + n) % 4]}." for i in range(12))


def prompt(model: LlamaModel, question: str, n: int = 0) -> list[int]:
    spec = {"messages": [{"role": "user", "content": f"{document(n)}\n{question}"}]}
    return prompt_tokens(model, Prompt.of(spec), 1024, True)[1]


def engine(model: LlamaModel, folder: Path | None, ram: int = 64 << 20, disk: int = 1 << 30, slots: int = 1,
           n_ctx: int = 512, digest: str = DIGEST) -> BatchEngine:
    settings = Settings(digest, ram, folder if disk else None, disk, min_save=MIN_SAVE)
    return BatchEngine(model, n_slots=slots, n_ctx_slot=n_ctx, n_batch=512, n_threads=1, prompt_cache=settings)


def ask(running: BatchEngine, tokens: list[int], n: int = 12) -> tuple[str, Done]:
    """Greedy, `n` tokens at most: the text and the final event."""
    _, collector, final = complete(running, list(tokens), timeout=120, num_predict=n)
    assert isinstance(final, Done), final
    return collector.text, final


def entry_files(folder: Path) -> list[Path]:
    return sorted(path for path, _, _ in cachefiles.files(folder))


@pytest.fixture(scope="module")
def first_read(model: LlamaModel, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One prompt read by an engine of 2 slots of 512 tokens: its cache folder, tokens, answer and entry file."""
    folder = tmp_path_factory.mktemp("cache")
    tokens = prompt(model, "Which boxes are blue?")
    reader = engine(model, folder, slots=2)
    try:
        text, final = ask(reader, tokens)
        report = reader.cache_report()
    finally:
        reader.close()  # waits for the disk write
    assert final.prompt_cache == "miss" and final.prompt_restored == 0
    assert report["saves"] == 1 and report["ram_entries"] == 1 and report["disk_writes"] == 1
    [path] = entry_files(folder)
    return {"folder": folder, "tokens": tokens, "text": text, "path": path}


def copy_of(first_read: dict[str, Any], tmp_path: Path) -> tuple[Path, Path]:
    """The first read's cache folder, copied (a test may damage it): the folder and its entry's path."""
    folder = tmp_path / "cache"
    shutil.copytree(first_read["folder"], folder)
    return folder, folder / first_read["path"].relative_to(first_read["folder"])


def test_a_prompt_read_before_is_restored_and_answers_the_same(model, first_read, tmp_path):
    folder, _ = copy_of(first_read, tmp_path)
    tokens = first_read["tokens"]
    restorer = engine(model, folder, slots=3, n_ctx=1024)  # another slot count, another context size
    try:
        text, final = ask(restorer, tokens)  # from disk (a new runner: nothing in RAM)
        assert (final.prompt_cache, final.prompt_restored) == ("disk", len(tokens) - 1)
        assert final.prompt_cached == len(tokens) - 1 and final.prompt_eval_count == len(tokens)
        assert text == first_read["text"]  # token for token

        other = prompt_tokens(model, Prompt.of({"messages": [{"role": "user", "content": "Name a fruit."}]}), 1024, True)[1]
        ask(restorer, other, n=4)  # takes the slot (it shares the most with it: the template's preamble)
        text, final = ask(restorer, tokens)  # from RAM now: the disk read put it there
        assert (final.prompt_cache, final.prompt_restored) == ("ram", len(tokens) - 1)
        assert text == first_read["text"]
        report = restorer.cache_report()
        assert (report["hits_disk"], report["hits_ram"], report["tokens_restored"]) == (1, 1, 2 * (len(tokens) - 1))
        assert report["saves"] == 0 and report["seconds_saved"] > 0 and report["discarded"] == 0
    finally:
        restorer.close()


def test_a_prompt_that_shares_a_beginning_restores_that_much(model, first_read, tmp_path):
    folder, _ = copy_of(first_read, tmp_path)
    tokens = prompt(model, "Which boxes are green?")  # the same document, another question
    shared = next(i for i, (a, b) in enumerate(zip(tokens, first_read["tokens"], strict=False)) if a != b)
    restorer = engine(model, folder)
    try:
        _, final = ask(restorer, tokens, n=2)
        assert (final.prompt_cache, final.prompt_restored) == ("disk", shared)
        assert restorer.cache_report()["saves"] == 0  # too little of it is new to be worth an entry
    finally:
        restorer.close()


def test_a_sliding_window_state_serves_the_same_prompt_not_one_that_parts_from_it_earlier(gemma, tmp_path):
    """Gemma 3 saves its sliding-window layers' newest 512 positions only: a longer prompt than that is restored for
    the same prompt again, and computed for one that differs from it further back than the window reaches.

    (The restored window's cells are laid out anew, so attention sums in another order than in the slot that read
    it: like a batch of another shape, the last bits differ, and the answer is not compared token for token here.)"""
    tools = " ".join(f"Tool {i} reads file {i}." for i in range(60))
    tokens = gemma.tokenize(f"You are a coding agent. {tools} Which tool reads file 7?")
    n_swa = L.llama_model_n_swa(gemma.ptr)
    assert len(tokens) > n_swa
    first = engine(gemma, tmp_path, n_ctx=1024)
    try:
        ask(first, tokens, n=1)
        assert first.cache is not None
        [saved] = first.cache.entries.values()
        assert saved.window == len(tokens) - n_swa  # the window layers' part holds the last n_swa positions
    finally:
        first.close()
    again = engine(gemma, tmp_path, n_ctx=1024)
    try:
        restored_text, final = ask(again, tokens, n=4)
        assert (final.prompt_cache, final.prompt_restored) == ("disk", len(tokens) - 1) and restored_text
        parted = tokens[:200] + gemma.tokenize(" Which tool reads file 9?", add_bos=False)
        _, final = ask(again, parted, n=1)
        assert final.prompt_restored == 0 and final.prompt_cached < 200  # computed: the window was not there
    finally:
        again.close()


def q8_0_state(model: LlamaModel, tokens: list[int]) -> np.ndarray:
    """The state of `tokens` read by a context with a q8_0 KV cache (one slot)."""
    ctx = model.new_context(n_ctx=512, n_seq_max=1, n_batch=512, threads=(1, 1), kv_cache_type="q8_0")
    batch = L.llama_batch_init(len(tokens), 0, 1)
    try:
        for i, token in enumerate(tokens):
            batch_add(batch, token, i, 0, False)
        assert L.llama_decode(ctx, batch) == 0
        return snapshot(ctx, 0)
    finally:
        L.llama_batch_free(batch)
        L.llama_free(ctx)


@pytest.mark.parametrize("damage", ["truncated", "a byte flipped", "another model's", "another KV type's"])
def test_a_damaged_or_mismatched_entry_is_removed_and_never_served(model, first_read, tmp_path, damage):
    folder, path = copy_of(first_read, tmp_path)
    tokens = first_read["tokens"]
    header, saved, state = cachefiles.read(path)
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:-1000])
    elif damage == "a byte flipped":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x10
        path.write_bytes(bytes(data))
    elif damage == "another model's":  # whole and checksummed, under this model's name, but saved for another
        other = cachefiles.Header("sha256:" + "6" * 64, header.layout, header.tokens, header.state, header.window)
        cachefiles.write(path.parent, path.name.removesuffix(cachefiles.SUFFIX), other, saved, [state])
    else:  # a q8_0 cache's state whose header claims this layout: its own structure gives it away
        quantized = q8_0_state(model, tokens)
        canonical = seqstate.rewrite(quantized, seqstate.parse(quantized, 1), 1)
        forged = cachefiles.Header(header.model, header.layout, header.tokens, len(canonical), header.window)
        cachefiles.write(path.parent, path.name.removesuffix(cachefiles.SUFFIX), forged, saved, [canonical.data])
    damaged = path.read_bytes()
    restorer = engine(model, folder)
    try:
        text, final = ask(restorer, tokens)
        assert (final.prompt_cache, final.prompt_restored) == ("miss", 0)  # computed, not restored
        assert text == first_read["text"]  # and right
        report = restorer.cache_report()
        assert report["discarded"] == 1 and report["hits_disk"] == 0
    finally:
        restorer.close()
    # Removed; the prompt just read was saved again in its place, whole.
    assert path.read_bytes() != damaged and np.array_equal(cachefiles.read(path)[1], saved)


def distinct_prompts(model: LlamaModel, count: int) -> list[list[int]]:
    return [prompt(model, "Which boxes are red?", n) for n in range(1, count + 1)]


def test_the_ram_tier_stays_inside_its_budget_least_recently_used_out_first(model, first_read):
    size = cachefiles.read_header(first_read["path"])[0].state  # one entry of about this many bytes
    budget = int(2.5 * size)
    prompts = distinct_prompts(model, 3)
    running = engine(model, None, ram=budget, disk=0)
    try:
        held = []
        for tokens in prompts[:2]:
            ask(running, tokens, n=1)
            report = running.cache_report()
            held.append((report["ram_bytes"], report["ram_entries"]))
        assert held[1][1] == 2 and held[1][0] <= budget
        _, final = ask(running, prompts[0], n=1)  # used again: the most recent now
        assert final.prompt_cache == "ram"
        ask(running, prompts[2], n=1)  # no room for a third: the least recently used goes
        report = running.cache_report()
        assert report["ram_entries"] == 2 and report["ram_bytes"] <= budget
        assert report["disk_entries"] == 0 and report["disk_budget"] == 0
        _, kept = ask(running, prompts[0], n=1)
        _, evicted = ask(running, prompts[1], n=1)
        assert (kept.prompt_cache, evicted.prompt_cache) == ("ram", "miss")
        assert running.cache_report()["ram_bytes"] <= budget
    finally:
        running.close()


def test_the_disk_cap_removes_the_least_recently_used(model, first_read, tmp_path):
    size = first_read["path"].stat().st_size
    prompts = distinct_prompts(model, 3)
    running = engine(model, tmp_path, ram=0, disk=int(2.5 * size))  # no RAM tier: every restore reads the disk
    assert running.cache is not None
    name = {running.cache.key_of(np.asarray(tokens)) + cachefiles.SUFFIX: i for i, tokens in enumerate(prompts)}
    try:
        for tokens in prompts[:2]:
            ask(running, tokens, n=1)
            running.flush_cache(30)
        assert sorted(name[p.name] for p in entry_files(tmp_path)) == [0, 1]
        _, final = ask(running, prompts[0], n=1)  # read from disk: used now
        assert final.prompt_cache == "disk"
        ask(running, prompts[2], n=1)
        running.flush_cache(30)
        assert sorted(name[p.name] for p in entry_files(tmp_path)) == [0, 2]  # the least recently used went
        report = running.cache_report()
        assert report["disk_entries"] == 2 and report["disk_bytes"] <= int(2.5 * size) and report["ram_bytes"] == 0
        _, kept = ask(running, prompts[0], n=1)
        _, evicted = ask(running, prompts[1], n=1)
        assert (kept.prompt_cache, evicted.prompt_cache) == ("disk", "miss")
    finally:
        running.close()
