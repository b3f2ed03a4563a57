"""Counsellors' corrections of the triage: proposed training examples, redacted.

``triage_corrections``: one row per counsellor and person's message.  A counsellor who holds the
conversation marks the triage of a message as wrong, with the right intent and/or whether someone
is in danger; the row keeps the message's text *redacted* (:func:`handoff.records.redaction.redact`), the
triage it corrects (intent, priority, risk type and language), who corrected it and when.  An admin
accepts it (the text is added to the training data as a new dataset revision) or rejects it.

A correction lives no longer than the message it came from: the foreign key deletes it with the
message (retention, erasure on request).  What an admin accepted stays in the training data, which
is a dataset revision of its own.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from gateway.envelope import utcnow
from gateway.store.models import Base, UTCDateTime


class CorrectionState(enum.StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class TriageCorrection(Base):
    __tablename__ = "triage_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    conversation_id: Mapped[str] = mapped_column(String(32), index=True)
    counsellor_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id"))
    text: Mapped[str] = mapped_column(Text)
    """The message's text, redacted: names, addresses, numbers and handles replaced by tokens."""
    language: Mapped[str | None] = mapped_column(String(8))
    original_intent: Mapped[str | None] = mapped_column(String(40))
    original_priority: Mapped[str | None] = mapped_column(String(16))
    original_risk: Mapped[str | None] = mapped_column(String(16))
    """The risk type the triage reported (``self``, ``others``, ``threatened``), if any."""
    intent: Mapped[str | None] = mapped_column(String(40))
    """The intent the counsellor gave (None: the intent was not marked wrong)."""
    danger: Mapped[bool | None] = mapped_column(Boolean)
    """Whether someone is in danger, by the counsellor (None: the risk was not marked wrong)."""
    state: Mapped[str] = mapped_column(String(16), default=CorrectionState.PROPOSED.value, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dataset_revision: Mapped[int | None] = mapped_column(Integer)
    """The training data revision an accepted correction is in."""

    __table_args__ = (UniqueConstraint("message_id", "counsellor_id", name="uq_triage_corrections_message"),)


__all__ = ["CorrectionState", "TriageCorrection"]
