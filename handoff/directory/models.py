"""Tables of the directory admin: the admins' edits of the directory and the version counter every
process compares with the one it loaded (:mod:`handoff.directory.service`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from gateway.envelope import utcnow
from gateway.store.models import Base, UTCDateTime


class DirectoryOverride(Base):
    """An admin's edit of one recipient of the directory, on top of the shipped data.

    ``data`` is the whole entry as :meth:`handoff.directory.entries.Recipient.to_dict` writes it (the area
    of a Kunskapshus or of a local recipient as ``serves``);
    :func:`handoff.directory.overrides.apply_overrides` lays it over the shipped directory.  ``revision`` counts the edits of the entry (optimistic locking of the form).
    """

    __tablename__ = "directory_overrides"

    recipient_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))


class DirectoryVersion(Base):
    """One row (id 1): a counter raised with every edit of the directory, in the same transaction.

    Every gateway process compares it with the version it loaded and reloads the overrides when it
    changed, so that an edit in one process applies to routing and delivery in all of them.
    """

    __tablename__ = "directory_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


__all__ = ["DirectoryOverride", "DirectoryVersion"]
