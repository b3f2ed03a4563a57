"""How many SMS a text costs: GSM-7 160/153 with å ä ö, the extension table counting two,
UCS-2 70/67 for Arabic, Persian, Tigrinya and emoji; parts for a provider that does not split."""

from __future__ import annotations

import pytest

from bots.sms.segments import count, split


@pytest.mark.parametrize(
    ("text", "encoding", "units", "sms"),
    [
        ("", "gsm7", 0, 0),
        ("Hej", "gsm7", 3, 1),
        ("å" * 160, "gsm7", 160, 1),
        ("ÅÄÖåäöéü" * 20, "gsm7", 160, 1),
        ("a" * 161, "gsm7", 161, 2),
        ("a" * 306, "gsm7", 306, 2),
        ("a" * 307, "gsm7", 307, 3),
        ("€" * 80, "gsm7", 160, 1),  # the extension table: two septets each
        ("€" * 81, "gsm7", 162, 2),
        ("a" + "€" * 76, "gsm7", 153, 1),
        ("a" * 152 + "€" + "b" * 10, "gsm7", 164, 2),  # the pair is not split: 152 + (2 + 10)
        ("سلام" * 17 + "ab", "ucs2", 70, 1),  # Persian
        ("ሰላም" * 24, "ucs2", 72, 2),  # Tigrinya
        ("مرحبا" * 27, "ucs2", 135, 3),  # Arabic: 67 + 67 + 1
        ("🙂" * 35, "ucs2", 70, 1),  # an emoji is two UTF-16 units
        ("🙂" * 36, "ucs2", 72, 2),
        ("Hej ç", "ucs2", 5, 1),  # ç is not in GSM-7 (Ç is)
    ],
)
def test_the_sms_a_text_costs(text: str, encoding: str, units: int, sms: int) -> None:
    found = count(text)
    assert (found.encoding, found.units, found.count) == (encoding, units, sms)


def test_parts_fit_one_sms_each_and_are_cut_after_a_word() -> None:
    text = " ".join(["ordet"] * 60)  # 359 characters
    parts = split(text)
    assert "".join(parts) == text
    assert all(len(p) <= 160 for p in parts) and len(parts) == 3
    assert all(p.endswith(" ") for p in parts[:-1])


def test_parts_never_cut_a_pair() -> None:
    parts = split("🙂" * 50)
    assert "".join(parts) == "🙂" * 50
    assert [len(p) for p in parts] == [35, 15]  # 70 units, then the rest
    gsm = split("a" * 159 + "€€")
    assert gsm == ["a" * 159, "€€"]
