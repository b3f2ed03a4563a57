"""One-word answers (nlu/answers.py): the yes and no each language's consent question asks for
(the person catalogue's ``consent.ask``) are understood as that answer, whatever the case."""

from __future__ import annotations

import pytest

from gateway import catalogues
from nlu.answers import is_bare_answer, parse_yes_no

# The words each translation of consent.ask tells the person to answer with.
ASKED = {
    "sv": ("JA", "NEJ"),
    "en": ("YES", "NO"),
    "ar": ("نعم", "لا"),
    "fa": ("بله", "نه"),
    "so": ("HAA", "MAYA"),
    "ti": ("እወ", "ኣይፋል"),
    "tr": ("EVET", "HAYIR"),
    "ru": ("ДА", "НЕТ"),
    "bs": ("DA", "NE"),
    "ku": ("ERÊ", "NA"),
}


def test_every_shipped_person_language_names_its_answers() -> None:
    assert set(catalogues.languages("person")) <= set(ASKED)


@pytest.mark.parametrize("lang", sorted(ASKED))
def test_the_answers_a_consent_question_asks_for_are_understood(lang: str) -> None:
    yes, no = ASKED[lang]
    question = catalogues.text("person", lang, "consent.ask")
    assert yes in question and no in question
    for word, meaning in ((yes, True), (no, False), (yes.lower() + "!", True), (f" {no.lower()}. ", False)):
        assert parse_yes_no(word) is meaning, (lang, word)
        assert is_bare_answer(word)
    assert parse_yes_no(f"{yes} {no}") is None
