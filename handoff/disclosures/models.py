"""The table of disclosures of crime information to the Police or the Security Service.

It keeps *the exact package* that was (or will be) passed on, never the person's raw contact
details: the person's identity is read from the encrypted contact record at the moment of sending,
only when the legal ground requires it, and is never stored here.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.envelope import utcnow
from gateway.store.models import Base, UTCDateTime


class DisclosureStatus(enum.StrEnum):
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    SENT = "sent"
    DELIVERY_FAILED = "delivery_failed"
    AWAITING_MANUAL = "awaiting_manual"
    """Approved, but the recipient takes nothing electronic from us: someone passes it by phone and
    records that they did (number, the police's reference, when, who), which makes it ``sent``."""


class Disclosure(Base):
    __tablename__ = "disclosures"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    recipient_id: Mapped[str] = mapped_column(String(64))
    what: Mapped[str] = mapped_column(Text)
    when_text: Mapped[str] = mapped_column(Text, default="")
    where_text: Mapped[str] = mapped_column(Text, default="")
    certainty: Mapped[str] = mapped_column(String(16))
    source_seqs: Mapped[list[int]] = mapped_column(JSON, default=list)
    legal_ground: Mapped[str] = mapped_column(String(40))
    immediate_danger: Mapped[bool] = mapped_column(Boolean, default=False)
    identity_included: Mapped[bool] = mapped_column(Boolean, default=False)
    """Whether the person's identity is (or was) passed, because the legal ground requires it."""
    package: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Exactly what is passed, without the identity itself."""
    status: Mapped[str] = mapped_column(
        String(20), default=DisclosureStatus.PENDING_APPROVAL.value, index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejected_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    review_required: Mapped[bool] = mapped_column(Boolean, default=False)
    """Sent at once because someone was in immediate danger: a supervisor reviews it afterwards."""
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_note: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    delivery: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    phoned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When it was passed by phone (as the person who called recorded it)."""
    phoned_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    phoned_number: Mapped[str | None] = mapped_column(String(40))
    police_reference: Mapped[str | None] = mapped_column(String(100))
    """The reference the police gave on the phone (their diarienummer or event number), if any."""
    phone_note: Mapped[str | None] = mapped_column(Text)


__all__ = ["Disclosure", "DisclosureStatus"]
