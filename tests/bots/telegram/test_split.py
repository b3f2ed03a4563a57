"""Splitting long replies for Telegram's 4096-unit limit (pure function)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bots.telegram.split import split_message, utf16_len


def test_short_text_is_one_part() -> None:
    assert split_message("  Hej!  ") == ["Hej!"]
    assert split_message("   ") == []


def test_prefers_sentence_ends() -> None:
    parts = split_message("Första meningen är här. Andra meningen! Tredje?", limit=30)
    assert parts == ["Första meningen är här.", "Andra meningen! Tredje?"]


def test_abbreviation_followed_by_lower_case_is_not_a_sentence_end() -> None:
    parts = split_message("Du kan t.ex. ringa oss. Eller skriva här.", limit=25)
    assert parts == ["Du kan t.ex. ringa oss.", "Eller skriva här."]


def test_line_breaks_are_boundaries() -> None:
    parts = split_message("rad ett utan punkt\nrad två utan punkt", limit=20)
    assert parts == ["rad ett utan punkt", "rad två utan punkt"]


def test_falls_back_to_words_then_characters() -> None:
    assert split_message("aaa bbb ccc ddd", limit=8) == ["aaa bbb", "ccc ddd"]
    assert split_message("x" * 25, limit=10) == ["x" * 10, "x" * 10, "x" * 5]


def test_never_splits_a_surrogate_pair() -> None:
    parts = split_message("🙂" * 7, limit=4)
    assert parts == ["🙂🙂", "🙂🙂", "🙂🙂", "🙂"]


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abc .!?\n🙂åÄ")), min_size=1, max_size=400), st.integers(4, 60))
def test_parts_fit_and_keep_every_non_space_character(text: str, limit: int) -> None:
    parts = split_message(text, limit=limit)
    assert all(0 < utf16_len(p) <= limit for p in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())
