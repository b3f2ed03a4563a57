"""The tables of training: nothing here is a real conversation, and no real table refers to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.envelope import utcnow
from gateway.store.models import Base, UTCDateTime


class TrainingScenario(Base):
    """A scenario as an admin edited it (or added it): it replaces the shipped file of that id."""

    __tablename__ = "training_scenarios"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    """The YAML, valid when saved (:func:`handoff.training.scenarios.parse`)."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))


class TrainingSession(Base):
    """One training conversation: a trainee and a simulated person of a scenario."""

    __tablename__ = "training_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scenario_id: Mapped[str] = mapped_column(String(64), index=True)
    trainee_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="queued")
    """``queued`` (waits for the trainee's claim), ``assigned``, ``closed``."""
    node: Mapped[str] = mapped_column(String(64), default="start")
    """Where the simulated person is in the scenario's script."""
    intent: Mapped[str | None] = mapped_column(String(40))
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_trainee_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    followups: Mapped[int] = mapped_column(Integer, default=0)
    """Follow-ups the person sent after the trainee's silence at the current node."""
    checklist: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """Step id -> when it happened (ISO time)."""
    actions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The referral offered, the crime information (and its second pair of eyes), the documentation."""
    feedback: Mapped[str | None] = mapped_column(Text)
    feedback_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TrainingMessage(Base):
    """A message of a training session: the person's, the trainee's, or a supervisor's hint (which
    only the trainee and the supervisors see).  A person's message is shown from ``due_at`` on:
    the simulated typing delay."""

    __tablename__ = "training_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        ForeignKey("training_sessions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    """``person``, ``counsellor``, ``hint`` or ``system``."""
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    triage: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TrainingRequirement(Base):
    """A scenario a trainee must have done (closed) before an admin may make them a counsellor."""

    __tablename__ = "training_requirements"

    scenario_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    set_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id", ondelete="SET NULL"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
