"""Debrief notes: a counsellor's short note to the supervisors after a critical conversation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.envelope import utcnow
from gateway.store.models import Base, UTCDateTime


class DebriefNote(Base):
    __tablename__ = "debrief_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    """Erased with the conversation."""
    author_id: Mapped[int | None] = mapped_column(Integer)
    """Staff user id (no foreign key: accounts may be removed)."""
    author: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text)
    """Redacted before it is stored (``handoff.records.redaction``): it is about the counsellor,
    not a second transcript."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


__all__ = ["DebriefNote"]
