"""Redaction of Swedish and English free text: each kind is caught, ordinary text is left alone."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handoff.records.redaction import is_personnummer, luhn_ok, redact


def kinds(text: str) -> list[str]:
    return [f.kind for f in redact(text).found]


# --- personnummer ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pnr", ["811218-9876", "8112189876", "19811218-9876", "198112189876", "811218+9876", "811278-0005"]
)
def test_personnummer_in_swedish_text(pnr: str) -> None:
    result = redact(f"Hans personnummer är {pnr}, skriv upp det.")
    assert result.text == "Hans personnummer är [PERSONNUMMER], skriv upp det."
    assert [f.kind for f in result.found] == ["personnummer"]


def test_personnummer_in_english_text_and_span() -> None:
    text = "Her ID number is 19811218-9876."
    result = redact(text)
    assert result.text == "Her ID number is [PERSONNUMMER]."
    (finding,) = result.found
    start, end = finding.span
    assert text[start:end] == "19811218-9876"


def test_a_number_failing_the_check_digit_is_not_a_personnummer() -> None:
    assert is_personnummer("811218-9876")
    assert is_personnummer("811278-0005")  # samordningsnummer (day + 60)
    assert not is_personnummer("811218-9875")
    assert not is_personnummer("811318-9876")  # month 13
    result = redact("Numret 811218-9875 stämmer inte.")
    assert "[PERSONNUMMER]" not in result.text
    assert "811218-9875" not in result.text  # still a long number: redacted as a phone number
    assert kinds("Call 8112189875 now") == ["phone"]


# --- phone numbers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "070-123 45 67",
        "0701234567",
        "070-1234567",
        "+46 70 123 45 67",
        "+46701234567",
        "0046 70 123 45 67",
        "08-123 456 78",
        "08-12 34 56",
        "020-50 50 50",
        "+44 20 7946 0958",
        "+1 (555) 123-4567",
    ],
)
def test_phone_numbers(number: str) -> None:
    sv = redact(f"Ring mig på {number} i kväll.")
    assert sv.text == "Ring mig på [TELEFON] i kväll."
    en = redact(f"My number is {number}.")
    assert en.text == "My number is [TELEFON]."


# --- e-mail ------------------------------------------------------------------------------------


def test_email_addresses() -> None:
    assert redact("Mejla mig: anna.svensson@exempel.se tack").text == "Mejla mig: [E-POST] tack"
    assert redact("Write to john.smith+help@example.co.uk.").text == "Write to [E-POST]."
    assert redact("Kontakt: åsa_ö@företag.se").text == "Kontakt: [E-POST]"


# --- addresses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Han bor på Storgatan 12 i centrum.", "Han bor på [ADRESS] i centrum."),
        ("Adressen är Drottninggatan 5B.", "Adressen är [ADRESS]."),
        ("Hon bor på Vägen 3 lgh 1101 sedan i våras.", "Hon bor på [ADRESS] sedan i våras."),
        ("Skicka till Sankt Eriksgatan 44, 112 34 Stockholm.", "Skicka till [ADRESS]."),
        ("Vi möts vid Björkvägen 7.", "Vi möts vid [ADRESS]."),
        ("He lives at 221B Baker Street with his mum.", "He lives at [ADRESS] with his mum."),
        ("Send it to 12 Main St please.", "Send it to [ADRESS] please."),
        ("They meet at Flat 3, 45 Kings Road.", "They meet at [ADRESS]."),
    ],
)
def test_street_addresses(text: str, expected: str) -> None:
    assert redact(text).text == expected


# --- user names, profile URLs, handles ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Logga in på https://kalle:hemligt@forum.example.org/admin nu", "Logga in på [ANVÄNDARE] nu"),
        (
            "Han har instagram.com/kalle_88 och https://www.facebook.com/some.one.",
            "Han har [ANVÄNDARE] och [ANVÄNDARE].",
        ),
        ("Kanalen t.me/nordiskaungdomar sprider hat.", "Kanalen [ANVÄNDARE] sprider hat."),
        ("Follow https://x.com/someone123 and twitter.com/other", "Follow [ANVÄNDARE] and [ANVÄNDARE]"),
        ("He posts as @wolf_1488 every day.", "He posts as [ANVÄNDARE] every day."),
        ("Skriv till @anna.s på Snapchat.", "Skriv till [ANVÄNDARE] på Snapchat."),
    ],
)
def test_user_names(text: str, expected: str) -> None:
    assert redact(text).text == expected


def test_ordinary_urls_are_kept() -> None:
    text = "Läs mer på https://www.polisen.se/om-polisen och https://www.1177.se."
    assert redact(text).text == text


# --- names -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Min son heter Kevin och han är 16.", "Min son heter [NAMN] och han är 16."),
        ("Min son Ahmed har ändrat sig.", "Min son [NAMN] har ändrat sig."),
        ("Min dotter, Zelda, har nya vänner.", "Min dotter, [NAMN], har nya vänner."),
        ("Jag heter ahmed och är orolig.", "Jag heter [NAMN] och är orolig."),
        ("Eleven Zoltan Kovacs pratar om våld.", "Eleven [NAMN] [NAMN] pratar om våld."),
        ("Anna Andersson ringde igår.", "[NAMN] [NAMN] ringde igår."),
        ("Jag pratade med Johanssons pappa.", "Jag pratade med [NAMN] pappa."),
        ("My brother Jake joined a group.", "My brother [NAMN] joined a group."),
        ("A guy named Tobias recruits online.", "A guy named [NAMN] recruits online."),
        ("Sarah Smith is worried.", "[NAMN] [NAMN] is worried."),
        ("His name is Brandon Kowalski.", "His name is [NAMN] [NAMN]."),
    ],
)
def test_names(text: str, expected: str) -> None:
    assert redact(text).text == expected


def test_a_name_found_once_is_redacted_everywhere() -> None:
    result = redact("Min bror heter Zlatan. Zlatan har slutat i skolan och Zlatans vänner oroar mig.")
    assert "Zlatan" not in result.text
    assert result.text.count("[NAMN]") == 3


# --- things that must not be redacted ----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Mötet är 2024-05-01 klockan 14.30 i Göteborg.",
        "Öppet mån-fre 08-16, lördag 10-14.",
        "Han föddes 1998 och flyttade 2015 till Örebro.",
        "Det hände den 12/5 och igen 01-05-2024.",
        "Hon är 17 år och går i nian; det kostar 1 500 kr.",
        "Jag är orolig för min son som har börjat umgås med nya vänner.",
        "Vi bor i Göteborg men jobbar i Stockholm och Lund.",
        "Nora och Mora är kommuner i Sverige.",
        "The meeting is on 5 May 2024 at 10:00 in London.",
        "I am worried about my brother, he spends all night online.",
        "My daughter is 15 and lives in Malmö.",
        "Ring 112 vid akut fara eller 114 14 annars.",
        "Polisen och Säkerhetspolisen tar emot tips.",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    result = redact(text)
    assert result.text == text, result.found
    assert result.found == []


def test_mixed_message_both_languages() -> None:
    text = (
        "Hej! Jag heter Maria, min son Liam (050505-1234?) bor på Ringvägen 9. "
        "Ring 070-765 43 21 eller mejla maria@example.com. He follows @nordfront on x.com/nordfront."
    )
    result = redact(text)
    assert {"name", "address", "phone", "email", "username"} <= result.kinds()
    for secret in ("Maria", "Liam", "Ringvägen", "070-765", "maria@", "@nordfront", "x.com/nordfront"):
        assert secret not in result.text
    assert result.text.startswith("Hej! Jag heter [NAMN], min son [NAMN]")
    spans = [f.span for f in result.found]
    assert spans == sorted(spans)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))


# --- properties --------------------------------------------------------------------------------


def _check_digit(nine: str) -> str:
    for c in "0123456789":
        if luhn_ok(nine + c):
            return c
    raise AssertionError(nine)


@settings(max_examples=200, deadline=None, database=None)
@given(
    born=st.dates(min_value=date(1920, 1, 1), max_value=date(2025, 12, 31)),
    serial=st.integers(min_value=0, max_value=999),
    coordination=st.booleans(),
    style=st.sampled_from(["short-dash", "short", "long-dash", "long", "short-space"]),
    before=st.sampled_from(["", "Mitt nummer: ", "Hans pnr är ", "ID "]),
    after=st.sampled_from(["", ".", " tack", ", ok?"]),
)
def test_every_valid_personnummer_is_redacted(
    born: date, serial: int, coordination: bool, style: str, before: str, after: str
) -> None:
    day = born.day + (60 if coordination else 0)
    nine = f"{born:%y%m}{day:02d}{serial:03d}"
    ten = nine + _check_digit(nine)
    century = f"{born:%Y}"[:2]
    number = {
        "short-dash": f"{ten[:6]}-{ten[6:]}",
        "short": ten,
        "long-dash": f"{century}{ten[:6]}-{ten[6:]}",
        "long": century + ten,
        "short-space": f"{ten[:6]} {ten[6:]}",
    }[style]
    result = redact(before + number + after)
    assert result.text == before + "[PERSONNUMMER]" + after


@settings(max_examples=100, deadline=None, database=None)
@given(
    day=st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31)),
    hour=st.integers(min_value=0, max_value=23),
    minute=st.integers(min_value=0, max_value=59),
)
def test_dates_and_times_are_never_redacted(day: date, hour: int, minute: int) -> None:
    text = (
        f"Det hände {day.isoformat()} kl {hour:02d}:{minute:02d} och {hour:02d}.{minute:02d}, år {day.year}."
    )
    assert redact(text).text == text
