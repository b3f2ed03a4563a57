from __future__ import annotations

import pytest

from nlu.responses import ResponseBook, ResponseError, default_responses
from nlu.result import CRITICAL_INTENTS, INTENTS, LANGUAGES
from nlu.triage import EmbeddedTriager


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("intent", INTENTS)
def test_every_intent_has_a_response_in_every_language(intent: str, language: str) -> None:
    assert len(default_responses().get(intent, language)) > 40


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("intent", sorted(CRITICAL_INTENTS))
def test_critical_responses_say_call_112(intent: str, language: str) -> None:
    text = default_responses().get(intent, language)
    assert "112" in text
    assert ("ring 112" if language == "sv" else "call 112") in text.lower()


@pytest.mark.parametrize("language", LANGUAGES)
def test_self_harm_gives_mind_suicide_line(language: str) -> None:
    text = default_responses().get("self_harm", language)
    assert "90101" in text
    assert "Mind Självmordslinjen" in text
    assert "112" in text


def test_responses_are_in_the_right_language() -> None:
    book = default_responses()
    assert "Tack" in book.get("greet", "sv") or "Hej" in book.get("greet", "sv")
    assert "Hello" in book.get("greet", "en")
    assert book.get("greet", "fr") == book.get("greet", "sv")


def test_an_edit_that_drops_an_emergency_number_is_refused() -> None:
    book = ResponseBook.from_yaml(default_responses().to_yaml())
    with pytest.raises(ResponseError, match="112"):
        book.set("urgent_threat", "sv", "Tack, vi hör av oss.")
    with pytest.raises(ResponseError, match="90101"):
        book.set("self_harm", "en", "Call 112 if you are in danger.")
    book.set("greet", "en", "Hi there. Tell us what is on your mind.")
    assert book.get("greet", "en") == "Hi there. Tell us what is on your mind."
    assert "90101" in book.get("self_harm", "en")


def test_incomplete_file_is_refused() -> None:
    with pytest.raises(ResponseError):
        ResponseBook.from_yaml("version: 1\nresponses:\n  greet:\n    sv: Hej\n")


async def test_parse_gives_the_response_in_the_message_language(triager: EmbeddedTriager) -> None:
    sv = await triager.parse("jag vill inte leva längre")
    en = await triager.parse("I don't want to live anymore")
    assert "90101" in sv.safe_response and "ring 112" in sv.safe_response.lower()
    assert "90101" in en.safe_response and "call 112" in en.safe_response
    assert sv.safe_response != en.safe_response
