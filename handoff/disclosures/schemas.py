"""The disclosures' input schemas (the JSON bodies their POST routes read) and their answers, for
the route table (:data:`handoff.disclosures.web.ROUTES`) and the OpenAPI document.

A text field may be missing or null (its default); anything but text is refused with the code
``<field>_must_be_text`` the console's scripts know."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from handoff.web import Answer, Body


def _must_be_text(*names: str) -> Mapping[str, str]:
    return MappingProxyType({name: f"{name}_must_be_text" for name in names})


# ---------------------------------------------------------------------- input
class DisclosureBody(Body):
    """Crime information: the recipient, what, when, where, how certain, the source messages (their
    ``seq``), the legal ground, and whether someone is in immediate danger."""

    recipient_id: str | None = ""
    what: str | None = ""
    when: str | None = ""
    where: str | None = ""
    certainty: str | None = ""
    source_seqs: list[int]
    legal_ground: str | None = ""
    immediate_danger: bool = False
    error_codes: ClassVar[Mapping[str, str]] = MappingProxyType(
        {
            **_must_be_text("recipient_id", "what", "when", "where", "certainty", "legal_ground"),
            "source_seqs": "source_seqs_must_be_integers",
            "immediate_danger": "immediate_danger_must_be_bool",
        }
    )


class RejectBody(Body):
    """Why the supervisor rejects the disclosure."""

    reason: str | None = ""
    error_codes: ClassVar[Mapping[str, str]] = _must_be_text("reason")


class ReviewBody(Body):
    """The supervisor's note on a disclosure sent at once (immediate danger)."""

    note: str | None = ""
    error_codes: ClassVar[Mapping[str, str]] = _must_be_text("note")


class PhonedBody(Body):
    """The record of a call: the number called, the police's reference, when, and a note."""

    number: str | None = ""
    police_reference: str | None = ""
    called_at: str | None = ""
    note: str | None = ""
    error_codes: ClassVar[Mapping[str, str]] = _must_be_text(
        "number", "police_reference", "called_at", "note"
    )


# ---------------------------------------------------------------------- answers
class FormOptionsAnswer(Answer):
    """What the referral and disclosure forms offer."""

    topics: list[str]
    contact_types: list[str]
    urgencies: list[str]
    disclosure_recipients: list[str]
    certainties: dict[str, dict[str, str]]
    legal_grounds: dict[str, dict[str, Any]]


class DisclosureAnswer(Answer):
    """One disclosure."""

    disclosure: dict[str, Any]


class DisclosuresAnswer(Answer):
    """Disclosures (of a conversation, or those a supervisor has to act on)."""

    disclosures: list[dict[str, Any]]


class ReadoutAnswer(Answer):
    """The numbers to call and the text to read out."""

    readout: dict[str, Any]


__all__ = [
    "DisclosureAnswer",
    "DisclosureBody",
    "DisclosuresAnswer",
    "FormOptionsAnswer",
    "PhonedBody",
    "ReadoutAnswer",
    "RejectBody",
    "ReviewBody",
]
