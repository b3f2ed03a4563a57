"""The gettext catalogues (gateway/catalogues.py): every shipped language complete, the same
placeholders and emergency numbers in every translation, and the fallback of an unshipped language."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway import catalogues

SHIPPED = [(domain, lang) for domain in catalogues.DOMAINS for lang in catalogues.languages(domain)]
NUMBERS = ("112", "90101", "114 14")


def _every_id(domain: str) -> set[str]:
    return set().union(*(catalogues.own_strings(domain, lang) for lang in catalogues.languages(domain)))


@pytest.fixture
def locale_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the shipped catalogues the test may change; the real ones are read again after."""
    copy = tmp_path / "locale"
    shutil.copytree(catalogues.LOCALE_DIR, copy)
    monkeypatch.setattr(catalogues, "LOCALE_DIR", copy)
    catalogues.clear_cache()
    yield copy
    monkeypatch.undo()
    catalogues.clear_cache()


REQUIRED = {
    "person": ("sv", "en", "ar", "fa", "so", "ti", "tr", "ru", "bs", "ku"),
    "console": ("sv", "en"),
}
"""The languages issue 19 promises: a person writes in any of them, staff work in Swedish or English."""


def _missing_languages() -> dict[str, list[str]]:
    return {
        domain: missing
        for domain, langs in REQUIRED.items()
        if (missing := [lang for lang in langs if lang not in catalogues.languages(domain)])
    }


def test_every_promised_language_is_shipped_swedish_first() -> None:
    assert catalogues.languages("person")[:1] == ("sv",)
    assert not _missing_languages(), f"languages without a catalogue: {_missing_languages()}"


def test_a_missing_language_file_is_found(locale_copy: Path) -> None:
    (locale_copy / "so" / "LC_MESSAGES" / "person.po").unlink()
    (locale_copy / "en" / "LC_MESSAGES" / "console.po").unlink()
    catalogues.clear_cache()
    assert _missing_languages() == {"person": ["so"], "console": ["en"]}


@pytest.mark.parametrize(("domain", "lang"), SHIPPED)
def test_a_shipped_language_has_every_id(domain: str, lang: str) -> None:
    lacking = _every_id(domain) - set(catalogues.own_strings(domain, lang))
    assert not lacking, f"{domain}/{lang} lacks {sorted(lacking)}"


@pytest.mark.parametrize(("domain", "lang"), SHIPPED)
def test_a_translation_has_the_swedish_placeholders(domain: str, lang: str) -> None:
    base = catalogues.own_strings(domain, "sv")
    differ = {
        msgid: (sorted(catalogues.placeholders(text)), sorted(catalogues.placeholders(base[msgid])))
        for msgid, text in catalogues.own_strings(domain, lang).items()
        if msgid in base and catalogues.placeholders(text) != catalogues.placeholders(base[msgid])
    }
    assert not differ, f"{domain}/{lang}: placeholders (translation, Swedish) differ: {differ}"


@pytest.mark.parametrize(("domain", "lang"), SHIPPED)
def test_emergency_numbers_survive_translation(domain: str, lang: str) -> None:
    base = catalogues.own_strings(domain, "sv")
    own = catalogues.own_strings(domain, lang)
    lost = {
        msgid: number
        for msgid, swedish in base.items()
        for number in NUMBERS
        if number in swedish and msgid in own and number not in own[msgid]
    }
    assert not lost, f"{domain}/{lang} lost emergency numbers: {lost}"


def test_the_emergency_number_is_on_the_chat_page_in_every_language() -> None:
    for lang in catalogues.languages("person"):
        assert "112" in catalogues.text("person", lang, "chat.emergency")


def test_a_lacking_id_is_found_and_filled_from_the_fallback_with_a_warning(
    locale_copy: Path, caplog: pytest.LogCaptureFixture
) -> None:
    en = locale_copy / "en" / "LC_MESSAGES" / "person.po"
    en.write_text(
        en.read_text(encoding="utf-8").replace('msgid "chat.send"', 'msgid "chat.not_send"'), "utf-8"
    )
    catalogues.clear_cache()
    assert "chat.send" in _every_id("person") - set(catalogues.own_strings("person", "en"))
    with caplog.at_level(logging.WARNING, logger="gateway.catalogues"):
        assert catalogues.text("person", "en", "chat.send") == "Skicka"  # never a raw id to a person
    assert "chat.send" in caplog.text


def test_a_fuzzy_entry_counts_as_lacking(locale_copy: Path) -> None:
    en = locale_copy / "en" / "LC_MESSAGES" / "person.po"
    en.write_text(
        en.read_text(encoding="utf-8").replace('msgid "chat.send"', '#, fuzzy\nmsgid "chat.send"'), "utf-8"
    )
    catalogues.clear_cache()
    assert "chat.send" not in catalogues.own_strings("person", "en")


def test_a_new_language_is_a_new_file(locale_copy: Path) -> None:
    target = locale_copy / "fi" / "LC_MESSAGES"
    target.mkdir(parents=True)
    shutil.copy(locale_copy / "en" / "LC_MESSAGES" / "person.po", target / "person.po")
    catalogues.clear_cache()
    assert "fi" in catalogues.languages("person")
    assert catalogues.pick("person", "fi") == "fi"


def test_an_unshipped_language_falls_back_to_english_then_swedish_for_the_person() -> None:
    assert catalogues.pick("person", "de") == "en"
    assert catalogues.pick("person", "en-GB") == "en"
    assert catalogues.pick("person", None) == "sv"
    assert catalogues.pick("person", "und") == "sv"
    assert catalogues.text("person", "de", "chat.send") == catalogues.text("person", "en", "chat.send")
    assert catalogues.pick("console", "de") == "sv"


def test_text_formats_and_an_unknown_id_is_an_error() -> None:
    assert catalogues.text("person", "en", "chat.chars_left", n=12) == "12 characters left"
    with pytest.raises(KeyError, match=r"chat\.nothing"):
        catalogues.text("person", "sv", "chat.nothing")
    with pytest.raises(ValueError, match="domain"):
        catalogues.strings("staff", "sv")


def test_a_browser_section_drops_its_prefix() -> None:
    chat = catalogues.browser_catalogue("person", "chat.")
    assert set(chat) == set(catalogues.languages("person"))
    assert chat["sv"]["send"] == "Skicka"
    assert not any("." in key for key in chat["en"])
