"""Tables of the triage admin: the edited training data, safe-response overrides, model versions
and training jobs, shared by every gateway process through the database.

* ``triage_dataset_revisions``: every edit of the training examples writes a whole new revision
  of the data as Rasa NLU YAML (a few tens of kilobytes).  ``parent_id`` is unique, so two
  admins editing at the same moment cannot fork the data: the second one is told to try again.
  Without any revision the shipped ``nlu/data/nlu.yml`` is the training data.
* ``triage_response_overrides``: one vetted text per intent and language that replaces the
  shipped ``nlu/data/responses.yml`` text.
* ``triage_model_versions``: model artifacts (the bytes of ``nlu.classifier.ModelArtifact``,
  never a pickle), their metrics and their status (``active``, ``candidate``, ``refused``,
  ``retired``), who trained and who activated them.
* ``triage_registry_kv``: the other keys of the ``nlu.registry`` artifact store (the registry
  state: the active version and the versions active before it), with a revision for optimistic
  concurrency between processes.
* ``triage_training_jobs``: background retraining, its stage and its result.

The held-out test split is never stored here: it is not editable, so that the evaluation stays
honest.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from gateway.envelope import utcnow
from gateway.store.models import Base, UTCDateTime


class ModelStatus(enum.StrEnum):
    ACTIVE = "active"
    CANDIDATE = "candidate"
    REFUSED = "refused"
    RETIRED = "retired"


class JobStatus(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class DatasetRevision(Base):
    __tablename__ = "triage_dataset_revisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    parent_id: Mapped[int] = mapped_column(Integer, unique=True)
    """The revision this one was made from (0 for the first, made from the shipped data)."""
    yaml_text: Mapped[str] = deferred(mapped_column(Text))
    data_hash: Mapped[str] = mapped_column(String(64))
    n_examples: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    change: Mapped[str] = mapped_column(String(16))
    """``add``, ``edit`` or ``remove``."""


class ResponseOverride(Base):
    __tablename__ = "triage_response_overrides"

    intent: Mapped[str] = mapped_column(String(40), primary_key=True)
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(64))


class ModelVersion(Base):
    __tablename__ = "triage_model_versions"

    version: Mapped[str] = mapped_column(String(100), primary_key=True)
    artifact: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    status: Mapped[str] = mapped_column(String(16), default=ModelStatus.CANDIDATE.value, index=True)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    data_hash: Mapped[str] = mapped_column(String(64))
    n_examples: Mapped[int] = mapped_column(Integer)
    dataset_revision: Mapped[int | None] = mapped_column(Integer)
    """The dataset revision it was trained on; None for the shipped data."""
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64))
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    activated_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(Text, default="")
    """Why it was refused, or the gate's verdict when it was activated."""


class RegistryEntry(Base):
    __tablename__ = "triage_registry_kv"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TrainingJob(Base):
    __tablename__ = "triage_training_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.RUNNING.value, index=True)
    stage: Mapped[str] = mapped_column(String(16), default="queued")
    """``queued``, ``training``, ``evaluating``, ``done`` or ``failed``."""
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    dataset_revision: Mapped[int | None] = mapped_column(Integer)
    version: Mapped[str | None] = mapped_column(String(100))
    active_version: Mapped[str | None] = mapped_column(String(100))
    candidate_metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active_metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    gate_ok: Mapped[bool | None] = mapped_column(Boolean)
    gate_reason: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")


__all__ = [
    "DatasetRevision",
    "JobStatus",
    "ModelStatus",
    "ModelVersion",
    "RegistryEntry",
    "ResponseOverride",
    "TrainingJob",
]
