"""The tables of phone calls: one row per call (its conversation is of channel ``phone``), and
every event of the phone system seen once, by call id and event (the idempotency ledger)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.envelope import utcnow
from gateway.store.models import Base, UTCDateTime

OUTCOMES = ("answered", "missed", "abandoned", "callback")


class PhoneCall(Base):
    """A call: its times, who answered and how it ended.  The caller's number is never here: when
    it was not withheld it is in the conversation's encrypted contact record."""

    __tablename__ = "phone_calls"

    call_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    """The phone system's id of the call (``manual-…`` for a call logged by hand)."""
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), unique=True
    )
    line: Mapped[str] = mapped_column(String(64), default="")
    extension: Mapped[str | None] = mapped_column(String(16))
    """The extension that answered."""
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    withheld: Mapped[bool] = mapped_column(Boolean, default=False)
    callback: Mapped[bool] = mapped_column(Boolean, default=False)
    """The caller asked to be called back: the holder may see the number (audited)."""
    outcome: Mapped[str | None] = mapped_column(String(16))
    """None while the call goes on; then one of :data:`OUTCOMES`."""
    ringing_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    """From answer to end; None for a call nobody answered."""


class PhoneCallEvent(Base):
    """An event of the phone system, stored once: a repeat of the same call id and event is a no-op."""

    __tablename__ = "phone_call_events"

    call_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    event: Mapped[str] = mapped_column(String(16), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    """The time the phone system gave."""
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
