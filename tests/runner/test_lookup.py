"""Prompt-lookup drafting on its own: what it guesses from the tokens seen so far."""

from __future__ import annotations

from jupyter_ollama.runner.lookup import NgramDrafter, common_prefix


def test_guesses_what_followed_the_newest_trigram_last_time():
    drafter = NgramDrafter([1, 2, 3, 4, 5, 6, 9, 1, 2, 3])
    assert drafter.propose(3) == [4, 5, 6]
    assert drafter.propose(10) == [4, 5, 6, 9, 1, 2, 3]  # up to the end of what is known


def test_the_latest_occurrence_wins_and_a_bigram_is_the_fallback():
    drafter = NgramDrafter([7, 8, 1, 0, 5, 8, 2, 0, 5])
    assert drafter.propose(2) == [8, 2]  # (0, 5) last continued with 8, 2
    drafter.extend([8])
    assert drafter.propose(1) == [2]  # the trigram (0, 5, 8) now matches


def test_nothing_to_guess_from_new_text():
    assert NgramDrafter([1, 2, 3, 4]).propose(4) == []
    assert NgramDrafter([]).propose(4) == []


def test_common_prefix_finds_the_first_difference_anywhere():
    base = list(range(1000))
    for at in (0, 1, 2, 499, 500, 998, 999):
        assert common_prefix(base, base[:at] + [-1] + base[at + 1 :]) == at
    assert common_prefix(base, base[:300]) == common_prefix(base[:300], base) == 300
    assert common_prefix([], base) == 0 and common_prefix(base, base) == 1000
