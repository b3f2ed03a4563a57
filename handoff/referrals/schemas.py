"""The referrals' and the portal's input schemas (the JSON bodies their POST routes read) and their
answers, for the route table (:data:`handoff.referrals.web.ROUTES`) and the OpenAPI document.

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
class ReferralBody(Body):
    """A new referral: the recipient, topic, contact type, municipality, summary (redacted before it
    is stored), urgency and contact details the person chose to give."""

    recipient_id: str | None = ""
    topic: str | None = ""
    contact_type: str | None = "other"
    municipality_code: str | None = ""
    summary: str | None = ""
    urgency: str | None = "normal"
    contact_details: str | None = None
    error_codes: ClassVar[Mapping[str, str]] = _must_be_text(
        "recipient_id", "topic", "contact_type", "municipality_code", "summary", "urgency", "contact_details"
    )


class ConsentBody(Body):
    """The person's answer, as the counsellor got it."""

    consent: bool
    error_codes: ClassVar[Mapping[str, str]] = MappingProxyType({"consent": "consent_must_be_bool"})


class NotAskedBody(Body):
    """Why consent could not be asked (at least 10 characters)."""

    reason: str | None = ""
    error_codes: ClassVar[Mapping[str, str]] = _must_be_text("reason")


class StatusBody(Body):
    """A recipient's follow-up: received, contact_made, closed or not_ours, with a note."""

    status: str | None = ""
    note: str | None = ""
    error_codes: ClassVar[Mapping[str, str]] = _must_be_text("status", "note")


# ---------------------------------------------------------------------- answers
class ProposalsAnswer(Answer):
    """The recipients to propose, in order, for a municipality, topic and contact type."""

    municipality: dict[str, Any] | None
    kunskapshus: str | None
    proposals: list[dict[str, Any]]


class ReferralAnswer(Answer):
    """One referral (the console's view, or the portal's)."""

    referral: dict[str, Any]


class ReferralsAnswer(Answer):
    """Referrals (of a conversation, or of the portal user's units)."""

    referrals: list[dict[str, Any]]


class PortalMeAnswer(Answer):
    """The portal user: name, language, their units and the CSRF token."""

    username: str
    language: str
    units: list[dict[str, Any]]
    csrf: str


__all__ = [
    "ConsentBody",
    "NotAskedBody",
    "PortalMeAnswer",
    "ProposalsAnswer",
    "ReferralAnswer",
    "ReferralBody",
    "ReferralsAnswer",
    "StatusBody",
]
