"""The continuous-batching engine on the real SmolLM2-135M: slots, sampling, stops, grammars, reuse, cancel."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import llama_cpp as L
import pytest

import jupyter_ollama.runner.engine as engine_module
from jupyter_ollama.errors import BadRequest
from jupyter_ollama.runner.engine import BatchEngine, Completion
from jupyter_ollama.runner.llama import LlamaModel
from jupyter_ollama.runner.prompt import prompt_tokens
from jupyter_ollama.runner.sampling import SamplingOptions, grammar_for_format
from jupyter_ollama.runner.thinkfirst import ThinkFirst
from jupyter_ollama.runners.protocol import Done, Failed, Prompt

from .events import GREEDY, Collector, complete, start

N_SLOTS = 3
N_CTX_SLOT = 512


def tokens_of(model, spec: dict, n_ctx: int, truncate: bool = True) -> list[int]:  # type: ignore[no-untyped-def]
    """The tokens the runner would give the engine for a prompt spec."""
    return prompt_tokens(model, Prompt.of(spec), n_ctx, truncate)[1]


class RecordingEngine(BatchEngine):
    """The real engine, noting each admission: (slot id, request, reused tokens, tokens to prefill)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.admissions: list[tuple[int, Completion, int, int]] = []
        super().__init__(*args, **kwargs)

    def _admit(self) -> None:
        before = {slot.id: slot.request for slot in self.slots}
        super()._admit()
        for slot in self.slots:
            if slot.request is not None and slot.request is not before[slot.id]:
                self.admissions.append((slot.id, slot.request, len(slot.cached), len(slot.pending)))

    def admission_of(self, request: Completion) -> tuple[int, int, int]:
        found = [(slot, reused, pending) for slot, r, reused, pending in self.admissions if r is request]
        assert len(found) == 1, found
        return found[0]


@pytest.fixture(scope="module")
def engine(model: LlamaModel) -> RecordingEngine:
    running = RecordingEngine(model, n_slots=N_SLOTS, n_ctx_slot=N_CTX_SLOT, n_batch=512, n_threads=1)
    yield running
    running.close()


@pytest.fixture(autouse=True)
def idle_engine(request):
    """Every test starts and ends with nothing running (a leftover request would skew the next test)."""
    if "engine" not in request.fixturenames:
        yield
        return
    engine = request.getfixturevalue("engine")
    yield
    deadline = time.monotonic() + 30
    while any(s.state != "idle" for s in engine.slot_states()) or engine.waiting:
        assert time.monotonic() < deadline, engine.slot_states()
        time.sleep(0.01)


def chat(model: LlamaModel, content: str) -> list[int]:
    return tokens_of(model, {"messages": [{"role": "user", "content": content}]}, N_CTX_SLOT)


# -- batching ---------------------------------------------------------------------


def test_five_requests_on_three_slots_all_complete(engine, model):
    prompts = [
        "Write a sentence about the sea.",
        "Write a sentence about mountains.",
        "Write a sentence about a city.",
        "Write a sentence about the forest.",
        "Write a sentence about the desert.",
    ]
    runs = [start(engine, chat(model, p), num_predict=24) for p in prompts]
    most_busy = 0
    deadline = time.monotonic() + 60
    while not all(c.finished.is_set() for _, c in runs):
        assert time.monotonic() < deadline
        busy = sum(1 for s in engine.slot_states() if s.state != "idle")
        most_busy = max(most_busy, busy)
        time.sleep(0.002)
    assert most_busy == N_SLOTS  # three ran at once, never more

    for completion, collector in runs:
        final = collector.wait()
        assert isinstance(final, Done) and final.done_reason in ("stop", "length")
        assert final.eval_count == len(completion.generated) > 0
        assert final.prompt_eval_count == len(completion.tokens)
        assert final.prompt_eval_duration >= 0 and final.eval_duration >= 0
        assert re.search(r"[A-Za-z]{3,}", collector.text), collector.text
    slots_used = {engine.admission_of(c)[0] for c, _ in runs}
    assert slots_used == set(range(N_SLOTS))
    assert all(s.state == "idle" for s in engine.slot_states())


def test_slot_states_shape(engine):
    states = engine.slot_states()
    assert [s.id for s in states] == list(range(N_SLOTS))
    for s in states:
        assert s.state == "idle" and s.n_ctx == N_CTX_SLOT and 0 <= s.n_past <= N_CTX_SLOT


def test_empty_prompt_is_rejected(engine):
    with pytest.raises(BadRequest):
        engine.submit(Completion(tokens=[], options=GREEDY, on_event=lambda e: None))


# -- sampling ---------------------------------------------------------------------


def test_greedy_is_deterministic(engine, model):
    tokens = chat(model, "Tell me a story about a dragon.")
    _, first, _ = complete(engine, tokens, num_predict=24)
    _, second, _ = complete(engine, tokens, num_predict=24)
    assert first.text and first.text == second.text


def test_same_seed_same_text(engine, model):
    tokens = chat(model, "Tell me a story about a wizard.")
    options = SamplingOptions(temperature=0.8, seed=42)
    _, first, _ = complete(engine, tokens, num_predict=24, options=options)
    _, second, _ = complete(engine, tokens, num_predict=24, options=options)
    assert first.text and first.text == second.text


def test_num_predict_gives_exactly_n_tokens(engine, model):
    completion, collector, final = complete(engine, chat(model, "Write a long essay about the history of Rome."), num_predict=7)
    assert final.done_reason == "length"
    assert final.eval_count == 7 and len(completion.generated) == 7
    assert collector.text == model.detokenize(completion.generated)


def test_stop_string_ends_generation_and_is_never_shown(engine, model):
    tokens = chat(model, "Count from 1 to 20 separated by commas.")
    _, free, _ = complete(engine, tokens, num_predict=40)
    assert "5." in free.text  # greedy SmolLM2 writes "1. 1\n2. 2\n..."
    _, stopped, final = complete(engine, tokens, num_predict=40, stop=["5."])
    assert final.done_reason == "stop"
    assert "5." not in stopped.text
    assert stopped.text == free.text[: free.text.index("5.")]


# -- grammars ---------------------------------------------------------------------


def test_json_format_parses(engine, model):
    _, collector, final = complete(
        engine, chat(model, "Reply in JSON with keys city and country for Paris."),
        grammar=grammar_for_format("json"), num_predict=96,
    )
    assert final.done_reason == "stop"
    assert isinstance(json.loads(collector.text), dict)


def test_json_schema_format_has_typed_keys(engine, model):
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    _, collector, final = complete(
        engine, chat(model, "Describe a person named Alice aged 30 as JSON."),
        grammar=grammar_for_format(schema), num_predict=96,
    )
    assert final.done_reason == "stop"
    value = json.loads(collector.text)
    assert isinstance(value["name"], str)
    assert isinstance(value["age"], int) and not isinstance(value["age"], bool)


def test_unparsable_grammar_is_an_error_event(engine, model):
    _, collector = start(engine, chat(model, "Hi"), grammar="root ::= (")
    final = collector.wait()
    assert isinstance(final, Failed) and not collector.pieces
    assert all(s.state == "idle" for s in engine.slot_states())


# -- KV reuse, cancellation, long prompts -------------------------------------------


# -- thinking, then a grammar ---------------------------------------------------------

# One earlier turn that thought in <think> tags: the tiny model then thinks one sentence and closes the tag itself.
SHOT = ("<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>2+2 is 4.</think>4<|im_end|>\n"
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n")
PLACE = {"type": "object", "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
         "required": ["city", "country"]}


def raw(model: LlamaModel, text: str) -> list[int]:
    return tokens_of(model, {"raw": text}, N_CTX_SLOT)


def think_then(engine: BatchEngine, model: LlamaModel, prompt: str, opened: bool, **kwargs: Any) -> str:
    _, collector, final = complete(engine, raw(model, prompt), grammar=grammar_for_format(PLACE), num_predict=48,
                                   think_first=ThinkFirst("<think>", "</think>", opened=opened), **kwargs)
    assert final.done_reason == "stop", collector.text
    return collector.text


def test_the_grammar_applies_after_the_thinking_the_prompt_opened(engine, model):
    _, free, _ = complete(engine, raw(model, SHOT + "<think>"), num_predict=48)
    thought, answer = free.text.split("</think>")
    assert thought == "The capital of France is Paris." and answer == "4"  # unconstrained, it answers as before
    text = think_then(engine, model, SHOT + "<think>", opened=True)
    # The thinking is the free text, token for token; the answer after the tag follows the schema.
    assert text.startswith(thought + "</think>")
    assert json.loads(text.split("</think>")[1])["city"] == "Paris"
    # Sampled, with penalties that go on counting the thinking: still free text first, then the grammar's JSON.
    sampled = SamplingOptions(temperature=0.5, seed=3, repeat_penalty=1.1)
    text = think_then(engine, model, SHOT + "<think>", opened=True, options=sampled)
    thought, answer = text.split("</think>")
    # (llama-cpp-python's schema grammar lets a string hold a raw newline, which strict JSON refuses.)
    assert re.search(r"[A-Za-z]{3,}", thought) and set(json.loads(answer, strict=False)) == {"city", "country"}


def test_the_grammar_applies_after_the_thinking_the_model_opened(engine, model):
    prompt = "<|im_start|>system\nAlways think first in <think></think>.<|im_end|>\n" + SHOT
    _, free, _ = complete(engine, raw(model, prompt), num_predict=16)
    assert free.text.startswith("<think>")  # the template did not open it: the model does
    text = think_then(engine, model, prompt, opened=False)
    assert text.startswith("<think>The capital of France is Paris.</think>"), text
    assert set(json.loads(text.split("</think>")[1])) == {"city", "country"}


def test_an_output_that_does_not_think_follows_the_grammar_from_its_first_token(engine, model):
    prompt = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    _, free, _ = complete(engine, raw(model, prompt), num_predict=8)
    assert free.text.startswith("The capital")  # no <think>: the first token already rules thinking out
    assert set(json.loads(think_then(engine, model, prompt, opened=False))) == {"city", "country"}


def test_a_bad_grammar_that_waits_for_the_thinking_fails_before_any_output(engine, model):
    _, collector = start(engine, raw(model, SHOT), grammar="root ::= (", think_first=ThinkFirst("<think>", "</think>", False))
    final = collector.wait()
    assert isinstance(final, Failed) and not collector.pieces


def test_identical_prompt_reuses_the_slot_prefix(engine, model):
    tokens = chat(model, "Prefix reuse: name three fruits.")
    first, _, _ = complete(engine, tokens, num_predict=8)
    slot, _, _ = engine.admission_of(first)
    assert engine.slots[slot].cached[: len(tokens)] == tokens

    second, _, _ = complete(engine, tokens, num_predict=8)
    again, reused, pending = engine.admission_of(second)
    assert again == slot  # the slot holding the longest common prefix was chosen
    assert (reused, pending) == (len(tokens) - 1, 1)  # only the last prompt token was evaluated again

    # A different question shares the chat template's system preamble, and only that.
    other = chat(model, "Prefix reuse: name three colours.")
    third, _, _ = complete(engine, other, num_predict=4)
    _, reused, pending = engine.admission_of(third)
    common = next(i for i, (a, b) in enumerate(zip(tokens, other, strict=False)) if a != b)
    assert reused == common and pending == len(other) - common


def test_cancel_mid_generation_frees_the_slot(engine, model):
    completion, collector = start(engine, chat(model, "Write a long essay about the history of Rome."), num_predict=400)
    deadline = time.monotonic() + 30
    while len(collector.pieces) < 3:
        assert time.monotonic() < deadline and not collector.finished.is_set()
        time.sleep(0.005)
    completion.cancel()
    final = collector.wait()
    assert isinstance(final, Done) and final.done_reason == "cancel"
    assert final.eval_count < 400
    slot, _, _ = engine.admission_of(completion)
    states = engine.slot_states()
    assert all(s.state == "idle" for s in states)
    assert states[slot].n_past == 0 and engine.slots[slot].cached == []


def test_cancel_while_waiting_for_a_slot(engine, model):
    """A request cancelled before it got a slot still gets its one final event."""
    busy = [start(engine, chat(model, f"Write a long essay about topic {i}."), num_predict=400) for i in range(N_SLOTS)]
    queued, collector = start(engine, chat(model, "Never admitted."), num_predict=8)
    deadline = time.monotonic() + 30
    while sum(1 for s in engine.slot_states() if s.state != "idle") < N_SLOTS:
        assert time.monotonic() < deadline
        time.sleep(0.002)
    assert queued in engine.waiting
    queued.cancel()
    final = collector.wait(timeout=10)
    assert isinstance(final, Done) and final.done_reason == "cancel" and not collector.pieces
    assert all(r is not queued for _, r, _, _ in engine.admissions)
    for completion, c in busy:
        completion.cancel()
        assert isinstance(final := c.wait(), Done) and final.done_reason == "cancel"


def test_prompt_longer_than_the_slot_is_cut_only_when_asked(engine, model):
    tokens = model.tokenize("The quick brown fox jumps over the lazy dog. " * 120, add_bos=False)
    assert len(tokens) > N_CTX_SLOT
    # Asked (a request with `shift: true`): cut as Ollama cuts it, num_keep and the newest, half the rest left free.
    completion, collector, final = complete(engine, tokens, num_predict=8, cut_prompt=True)
    assert final.done_reason == "length" and final.eval_count == 8
    read = N_CTX_SLOT - (N_CTX_SLOT - 4) // 2
    assert final.prompt_eval_count == read and final.prompt_dropped == len(tokens) - read
    slot, reused, pending = engine.admission_of(completion)
    assert reused + pending == read
    kept = engine.slots[slot].cached
    assert kept[:4] == tokens[:4]  # num_keep: the start of the prompt survives
    assert kept[read - 8 : read] == tokens[-8:]  # and so does its end


def test_utf8_pieces_are_whole_characters(engine, model):
    tokens = model.tokenize("Emoji list: 😀 😃 😄 😁 😆", add_bos=False)
    _, collector, _ = complete(engine, tokens, num_predict=16)
    text = collector.text
    assert any(ord(ch) > 0x2000 for ch in text), text  # the model answers with emoji
    assert "\ufffd" not in text
    for piece in collector.pieces:
        assert isinstance(piece, str)
        assert piece.encode("utf-8").decode("utf-8") == piece  # no lone surrogates, no split characters
    assert text.encode("utf-8").decode("utf-8") == text


# -- engines of their own ---------------------------------------------------------


def test_context_shift_lets_generation_run_past_the_slot(model):
    small = BatchEngine(model, n_slots=1, n_ctx_slot=64, n_batch=64, n_threads=1)
    try:
        assert small.can_shift
        tokens = model.tokenize("Once upon a time", add_bos=False)
        completion, collector = start(small, tokens, num_predict=80)
        final = collector.wait()
        assert final.done_reason == "length" and final.eval_count == 80 == len(completion.generated)
        assert small.slot_states()[0].n_past <= 64
        assert small.slots[0].cached[:4] == tokens[:4]  # num_keep survives the shift
    finally:
        small.close()


def test_close_ends_running_and_waiting_requests_with_an_error(model):
    small = BatchEngine(model, n_slots=1, n_ctx_slot=128, n_batch=128, n_threads=1)
    tokens = model.tokenize("Once upon a time", add_bos=False)
    running, first = start(small, tokens, num_predict=10_000)
    waiting, second = start(small, tokens, num_predict=10)
    assert first.first_content.wait(30)
    small.close()
    assert isinstance(first.wait(5), Failed) and isinstance(second.wait(5), Failed)
    assert not small.thread.is_alive()


# -- prefix sharing between slots -----------------------------------------------------

DOCUMENT = (
    "Read this report and answer the question after it.\n\n"
    + " ".join(f"Section {i}: the harbour recorded {i * 7} ships, {i * 3} storms and {i + 11} new nets this season." for i in range(1, 13))
)
QUESTIONS = ["How many ships in section 3?", "How many storms in section 5?", "How many nets in section 9?"]


def prompt_with(model: LlamaModel, question: str) -> list[int]:
    return tokens_of(model, {"messages": [{"role": "user", "content": f"{DOCUMENT}\n\n{question}"}]}, 1024)


def after_reading(model: LlamaModel, share: bool, prompts: list[list[int]]) -> tuple[RecordingEngine, list[tuple[Completion, Collector]]]:
    """A 3-slot engine where one request read the document; then `prompts` submitted at once."""
    engine = RecordingEngine(model, n_slots=3, n_ctx_slot=1024, n_batch=512, n_threads=1, share_prefixes=share)
    complete(engine, prompt_with(model, "Summarize it."), num_predict=4)
    started = [start(engine, tokens, num_predict=24) for tokens in prompts]
    for _, collector in started:
        assert not isinstance(collector.wait(), Failed)
    return engine, started


def test_a_prefix_another_slot_holds_is_copied_not_computed(model):
    prompts = [prompt_with(model, q) for q in QUESTIONS]
    document_tokens = len(model.tokenize(DOCUMENT, add_bos=False))
    for share in (True, False):
        engine, started = after_reading(model, share, prompts)
        try:
            reused = [engine.admission_of(completion)[1] for completion, _ in started]
            assert all(collector.text.strip() for _, collector in started)
            if share:  # every request starts from the document's KV: only its question is computed
                assert all(n >= document_tokens for n in reused), reused
                assert engine.prompt_tokens_shared_total >= 2 * document_tokens
            else:  # only the slot that read the document has it; the other two compute it again
                assert sum(n >= document_tokens for n in reused) == 1 and engine.prompt_tokens_shared_total == 0
        finally:
            engine.close()


def test_a_copied_prefix_answers_exactly_as_the_slot_it_was_copied_from(model):
    # The same prompt twice: one request reuses the slot that read the document, the other gets a copy
    # of that slot's KV. Their greedy answers are the same, token for token. (Greedy text computed from
    # scratch can differ: llama.cpp's CPU kernels are not bit-identical across batch shapes.)
    tokens = prompt_with(model, QUESTIONS[2])
    engine, started = after_reading(model, True, [tokens, tokens])
    try:
        (own, first), (copy, second) = started
        assert engine.admission_of(own)[0] != engine.admission_of(copy)[0]
        assert engine.prompt_tokens_shared_total > 0
        assert own.generated == copy.generated and len(own.generated) > 8
        assert first.text == second.text and first.text.strip()
    finally:
        engine.close()


# -- KV cache type ----------------------------------------------------------------------


def test_a_q8_0_kv_cache_holds_a_slot_in_about_half_the_bytes(model):
    tokens = prompt_with(model, QUESTIONS[0])
    sizes, texts = {}, {}
    for kv_type in ("f16", "q8_0"):
        engine = BatchEngine(model, n_slots=1, n_ctx_slot=1024, n_batch=512, n_threads=1, kv_cache_type=kv_type)
        try:
            _, collector, _ = complete(engine, tokens, num_predict=12)
            texts[kv_type] = collector.text
            sizes[kv_type] = L.llama_state_seq_get_size(engine.ctx, 0)  # the slot's KV, as llama.cpp would save it
        finally:
            engine.close()
    assert sizes["q8_0"] / sizes["f16"] == pytest.approx(34 / 64, rel=0.05)
    assert texts["q8_0"].strip()


def test_the_greedy_fast_path_picks_what_the_greedy_sampler_picks(model, monkeypatch):
    from jupyter_ollama.runner import engine as engine_module
    from jupyter_ollama.runner.sampling import SamplerChain

    tokens = chat(model, "Name the planets of the solar system, in order.")
    generated = {}
    for fast in (True, False):
        monkeypatch.setattr(engine_module, "SamplerChain", lambda *a, fast=fast, **k: SamplerChain(*a, **k, fast_greedy=fast))
        engine = BatchEngine(model, n_slots=1, n_ctx_slot=512, n_batch=512, n_threads=1)
        try:
            completion, _, _ = complete(engine, tokens, num_predict=48)
            generated[fast] = completion.generated
        finally:
            engine.close()
    assert generated[True] == generated[False] and len(generated[True]) > 10
    chains = [SamplerChain(model.vocab, GREEDY), SamplerChain(model.vocab, SamplingOptions(temperature=0, repeat_penalty=1.1)),
              SamplerChain(model.vocab, GREEDY, grammar_for_format("json"))]
    assert [chain.argmax for chain in chains] == [True, False, False]  # penalties and grammars keep state
    for chain in chains:
        chain.close()


# -- prompt lookup ------------------------------------------------------------------

PASSAGE = (
    "Jupyter notebooks mix code, text and output in one document, and a kernel runs the code while the "
    "browser shows the results. Language models predict the next token from the tokens before it."
)


@pytest.mark.parametrize("content", [f"Repeat this passage exactly:\n\n{PASSAGE}", "List five fruits, one per line."])
def test_guessed_tokens_leave_greedy_output_exactly_as_plain_decoding(model, content):
    tokens = chat(model, content)
    replies = []
    for draft_max in (0, 8):  # each on a fresh engine: no cache reused from the other run
        fresh = BatchEngine(model, n_slots=1, n_ctx_slot=N_CTX_SLOT, n_batch=512, n_threads=1)
        try:
            _, collector, final = complete(fresh, tokens, num_predict=60, draft_max=draft_max)
            replies.append((collector.text, final.eval_count, fresh.tokens_drafted_total))
        finally:
            fresh.close()
    (plain, plain_count, none_drafted), (guessed, guessed_count, drafted) = replies
    assert none_drafted == 0  # draft_max 0: no guess at all
    assert guessed == plain and guessed_count == plain_count


def test_a_passage_to_repeat_is_mostly_guessed_right(engine, model):
    tokens = chat(model, f"Repeat this passage exactly:\n\n{PASSAGE}")
    drafted, accepted = engine.tokens_drafted_total, engine.tokens_draft_accepted_total
    _, collector, final = complete(engine, tokens, num_predict=60)
    guessed = engine.tokens_drafted_total - drafted
    right = engine.tokens_draft_accepted_total - accepted
    assert "a kernel runs the code while the browser shows the results" in collector.text
    assert guessed > 0 and right >= 0.6 * guessed  # most of the copy came several tokens per step
    assert right < final.eval_count  # each step still samples one token of its own


def test_no_guessing_when_sampling(engine, model):
    tokens = chat(model, f"Repeat this passage exactly:\n\n{PASSAGE}")
    drafted = engine.tokens_drafted_total
    complete(engine, tokens, num_predict=30, options=SamplingOptions(temperature=0.7, seed=3))
    assert engine.tokens_drafted_total == drafted  # a draw cannot be checked against a guess


def test_guesses_stop_at_num_predict_and_at_a_stop_string(engine, model):
    tokens = chat(model, f"Repeat this passage exactly:\n\n{PASSAGE}")
    _, collector, final = complete(engine, tokens, num_predict=7)
    assert final.eval_count == 7 and final.done_reason == "length"
    _, stopped, final = complete(engine, tokens, num_predict=60, stop=["browser"])
    assert "browser" not in stopped.text and final.done_reason == "stop"
    assert engine.slot_states()  # and the slots' caches hold only what was really kept (next test reuses them)
    _, again, _ = complete(engine, tokens, num_predict=60, draft_max=0)
    assert again.text.startswith(stopped.text)


def test_a_close_call_in_batched_logits_is_computed_again_alone(model, monkeypatch):
    """Where every position is a close call, each guess is given up and its token decoded alone: same text."""
    tokens = chat(model, f"Repeat this passage exactly:\n\n{PASSAGE}")
    texts = []
    for near_tie in (0.05, 1e9):
        monkeypatch.setattr(engine_module, "NEAR_TIE", near_tie)
        fresh = BatchEngine(model, n_slots=1, n_ctx_slot=N_CTX_SLOT, n_batch=512, n_threads=1)
        try:
            _, collector, final = complete(fresh, tokens, num_predict=40)
            texts.append(collector.text)
            if near_tie > 1:
                assert fresh.tokens_draft_accepted_total == 0 and final.eval_count == 40
        finally:
            fresh.close()
    assert texts[0] == texts[1]
