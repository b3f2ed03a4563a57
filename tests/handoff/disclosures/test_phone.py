"""The disclosure package as text and the numbers to call: words from the console catalogue, Swedish
then English."""

from __future__ import annotations

from handoff.disclosures.phone import mail_subject, package_lines, phone_numbers


def test_the_package_reads_swedish_then_english() -> None:
    body = {
        "reference": "abcdef123456",
        "immediate_danger": True,
        "legal_ground": {"sv": "Grund", "en": "Ground"},
        "approved_by": None,
        "certainty": "unknown-certainty",
        "what": "Hot mot en skola",
        "when": "",
        "where": "Malmö",
        "sources": [{"seq": 3, "text": "jag ska"}],
        "identity": None,
    }
    lines = package_lines(body)
    assert lines[0] == "Uppgifter om brott från stödlinjen / Crime information from the support line"
    assert "Akut fara / Immediate danger: JA / YES" in lines
    assert (
        "Godkänd av / Approved by: - (akut fara, granskas i efterhand / immediate danger, reviewed afterwards)"
        in lines
    )
    assert "Vad / What: Hot mot en skola" in lines and "När / When: -" in lines
    assert mail_subject("abcdef123456") == "Uppgifter om brott / Crime information abcdef12"


def test_without_a_recipient_the_police_number_comes_with_why() -> None:
    numbers = phone_numbers(None, immediate_danger=True)
    assert [n["number"] for n in numbers] == ["112", "114 14"]
    assert numbers[0]["label"] == {
        "sv": "Akut fara: ring 112 först",
        "en": "Immediate danger: call 112 first",
    }
    assert numbers[1]["label"]["sv"].startswith("Polisen (")
