"""The documentation record table: one record per documented conversation.

The whole form is kept as JSON (``fields``, free text already redacted); the values reports group
by are also typed columns so that reports can filter and count in SQL.  Records are kept under the
retention rules (they hold no contact details and no transcript).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.envelope import utcnow
from gateway.store.models import Base, UTCDateTime


class DocumentationRecord(Base):
    __tablename__ = "documentation_records"

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    guidelines_version: Mapped[int] = mapped_column(Integer, default=1)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Every guideline field as saved; text fields hold the redacted text."""
    contact_type: Mapped[str | None] = mapped_column(String(32))
    relation: Mapped[str | None] = mapped_column(String(32))
    environment: Mapped[str | None] = mapped_column(String(32))
    age_group: Mapped[str | None] = mapped_column(String(16))
    gender: Mapped[str | None] = mapped_column(String(16))
    municipality_code: Mapped[str | None] = mapped_column(String(8), index=True)
    county_code: Mapped[str | None] = mapped_column(String(4), index=True)
    outcome: Mapped[str | None] = mapped_column(String(32))
    referral_made: Mapped[bool] = mapped_column(Boolean, default=False)
    crime_info_passed: Mapped[bool] = mapped_column(Boolean, default=False)
    summary: Mapped[str] = mapped_column(Text, default="")
    """Redacted before it is stored (handoff.records.redaction)."""
    documented_by: Mapped[int | None] = mapped_column(Integer)
    """Staff user id of the counsellor who documented (no foreign key: accounts may be removed)."""
    documented_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_documentation_records_area", "county_code", "municipality_code"),)


__all__ = ["DocumentationRecord"]
