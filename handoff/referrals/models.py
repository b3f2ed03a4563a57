"""The table of referrals to municipalities and organisations.

It keeps *the exact package* that was (or will be) passed on, never the person's raw
contact details: contact details the person chose to give for follow-up are kept encrypted
(``contact_ciphertext``, with the contact key) and added to a delivery only when it is made.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.envelope import utcnow
from gateway.store.models import Base, UTCDateTime


class ReferralStatus(enum.StrEnum):
    PROPOSED = "proposed"
    CONSENT_REQUESTED = "consent_requested"
    CONSENTED = "consented"
    REFUSED = "refused"
    CONSENT_NOT_ASKED = "consent_not_asked"
    SENT = "sent"
    RECEIVED = "received"
    CONTACT_MADE = "contact_made"
    CLOSED = "closed"
    NOT_OURS = "not_ours"


class Referral(Base):
    __tablename__ = "referrals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    recipient_id: Mapped[str] = mapped_column(String(64))
    portal_unit: Mapped[str | None] = mapped_column(String(64), index=True)
    """Whose portal shows the referral: the SCB code for a municipality's social services, the
    Kunskapshus id for a Kunskapshus; None for recipients without a municipal portal."""
    municipality_code: Mapped[str | None] = mapped_column(String(8))
    """The person's municipality, if they gave it."""
    topic: Mapped[str] = mapped_column(String(40))
    contact_type: Mapped[str] = mapped_column(String(20))
    urgency: Mapped[str] = mapped_column(String(10), default="normal")
    language: Mapped[str] = mapped_column(String(8), default="sv")
    summary: Mapped[str] = mapped_column(Text, default="")
    """The short summary, redacted before it was stored."""
    contact_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    """Contact details the person chose to give for follow-up, encrypted; None if they gave none."""
    package: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Exactly what is shared (without the contact details, which are only marked as included)."""
    status: Mapped[str] = mapped_column(String(20), default=ReferralStatus.PROPOSED.value, index=True)
    consent_via: Mapped[str | None] = mapped_column(String(16))
    """``person`` (answered in the channel), ``counsellor`` (recorded by the counsellor) or ``not_asked``."""
    consent_reason: Mapped[str | None] = mapped_column(Text)
    """Why consent could not be asked (mandatory with ``consent_not_asked``)."""
    consent_request_seq: Mapped[int | None] = mapped_column(Integer)
    consent_answer_seq: Mapped[int | None] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    delivery: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Per method (``portal``, ``email``, ``webhook``): delivered, attempts, status, error, at."""
    follow_up_note: Mapped[str | None] = mapped_column(Text)
    proposed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    consent_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    contact_made_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_referrals_unacknowledged", "status", "acknowledged_at", "sent_at"),)


__all__ = [
    "Referral",
    "ReferralStatus",
]
