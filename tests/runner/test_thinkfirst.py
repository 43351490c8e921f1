"""The gate that holds a grammar back while the model thinks: its verdict on each sampled token's bytes."""

from __future__ import annotations

from jupyter_ollama.runner.thinkfirst import ThinkFirst, Verdict

THINK, CONSTRAIN, RESAMPLE = Verdict.THINK, Verdict.CONSTRAIN, Verdict.RESAMPLE


def verdicts(gate: ThinkFirst, pieces: list[bytes]) -> list[Verdict]:
    return [gate.feed(piece) for piece in pieces]


def test_a_prompt_that_opened_the_thinking_constrains_after_the_closing_tag_split_over_tokens():
    gate = ThinkFirst("<think>", "</think>", opened=True)
    assert verdicts(gate, [b"Paris", b" is", b" it.", b"</", b"think", b">"]) == [THINK] * 5 + [CONSTRAIN]


def test_the_closing_tag_inside_one_token_with_text_around_it():
    assert ThinkFirst("<think>", "</think>", opened=True).feed(b"done.</think>\n\n") is CONSTRAIN


def test_an_output_that_opens_the_thinking_itself():
    gate = ThinkFirst("<think>", "</think>", opened=False)
    # Whitespace and a tag split over tokens keep it open; the opening tag does not close it.
    assert verdicts(gate, [b"\n", b"<", b"think", b">", b"hmm", b"</think>"]) == [THINK] * 5 + [CONSTRAIN]


def test_the_opening_and_closing_tags_in_one_piece():
    assert ThinkFirst("<think>", "</think>", opened=False).feed(b" <think>no</think>") is CONSTRAIN


def test_an_output_that_does_not_open_the_thinking_is_sampled_from_the_grammar():
    assert ThinkFirst("<think>", "</think>", opened=False).feed(b"Paris") is RESAMPLE
    gate = ThinkFirst("<think>", "</think>", opened=False)
    assert verdicts(gate, [b" ", b"<", b"div"]) == [THINK, THINK, RESAMPLE]
    # Ending before any thinking: the answer comes from the grammar instead.
    assert ThinkFirst("<think>", "</think>", opened=False).feed(b"", end=True) is RESAMPLE


def test_ending_inside_the_thinking_just_ends():
    gate = ThinkFirst("<think>", "</think>", opened=True)
    assert verdicts(gate, [b"a", b"</thi"]) == [THINK, THINK]
    assert gate.feed(b"", end=True) is THINK


def test_tags_of_other_templates():
    gate = ThinkFirst("[THINK]", "[/THINK]", opened=True)
    assert verdicts(gate, [b"x[/TH", b"INK", b"]"]) == [THINK, THINK, CONSTRAIN]
