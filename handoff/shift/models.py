"""The tables of the shift: each staff member's status, and the reminders of waiting conversations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.envelope import utcnow
from gateway.store.models import Base, UTCDateTime


class StaffPresence(Base):
    """A staff member's status in the console.  No row: never active since the feature existed,
    read as ``away`` set automatically (the first console activity makes them available)."""

    __tablename__ = "staff_presence"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    status: Mapped[str] = mapped_column(String(16), default="available")
    auto: Mapped[bool] = mapped_column(Boolean, default=False)
    """True when the gateway set the status (away after inactivity, at logout): activity undoes it."""
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_active_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WaitReminder(Base):
    """When the available staff were last reminded that this conversation waits (deleted with it)."""

    __tablename__ = "wait_reminders"

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    reminded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(Integer, default=1)
