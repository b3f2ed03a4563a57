from __future__ import annotations

import pytest

from nlu.language import detect_language


@pytest.mark.parametrize(
    "text",
    [
        "hej, jag är orolig för min son",
        "hej vet inte vad jag ska gora langre",
        "min bror har borjat umgas med konstiga manniskor",
        "ja vill prata m ngn",
        "kan ni ringa mig",
        "tack så mycket",
        "Jag vill lämna rörelsen",
    ],
)
def test_swedish_with_and_without_diacritics(text: str) -> None:
    assert detect_language(text).language == "sv"


@pytest.mark.parametrize(
    "text",
    [
        "hi, I'm worried about my son",
        "i want to talk to someone",
        "im gonna kill them all tmrw",
        "what are your opening hours",
        "thanks for your help",
        "my brother has joined a nazi group",
    ],
)
def test_english(text: str) -> None:
    assert detect_language(text).language == "en"


@pytest.mark.parametrize("text", ["", "ok", "👍", "112", "Ahmed"])
def test_unclear_short_text_defaults_to_swedish(text: str) -> None:
    assert detect_language(text).language == "sv"


def test_hint_decides_unclear_text_but_not_clear_text() -> None:
    assert detect_language("ok", hint="en").language == "en"
    assert detect_language("hej", hint="en").language in {"sv", "en"}
    assert (
        detect_language("jag är orolig för min dotter och vet inte vad jag ska göra", hint="en").language
        == "sv"
    )
    assert (
        detect_language("I am worried about my daughter and I do not know what to do", hint="sv").language
        == "en"
    )
    assert detect_language("ok", hint="de").language == "sv"  # unsupported hint is ignored


def test_mixed_text_follows_the_majority() -> None:
    assert detect_language("hej, jag vill prata med någon om min son, asap please").language == "sv"
    assert detect_language("hi i want to talk to someone about my son, tack").language == "en"
