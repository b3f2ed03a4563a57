"""Admins tune triage in the console: training examples, safe responses, a parse to try, background
retraining, gated activation and roll back of model versions, without restarting any process.

Everything an admin changes lives in the database (:mod:`handoff.triage_admin.models`), so that
every gateway process shares it:

* the training data is a chain of whole revisions (Rasa NLU YAML), made from the shipped
  ``nlu/data/nlu.yml``; the held-out test split is never editable, and an example that is in the
  test split cannot be added to the training data (the evaluation must stay honest);
* safe-response overrides are checked with :func:`nlu.responses.check_response` (critical
  responses name 112, self-harm also 90101) before they are stored;
* model versions are kept by :class:`nlu.registry.ModelRegistry` over :class:`DbArtifactStore`,
  an ``ArtifactStore`` in the database.  A candidate is activated only through
  :func:`nlu.registry.decide_activation`, after *both* the candidate and the active model have
  been evaluated again, through the full triage, on the same held-out test split; a refused
  candidate is marked ``refused`` with the reason, which the admin sees.

Activation, roll back and response changes publish a fan-out event on the topic ``nlu``; every
process (this one too) then loads the active model and the responses from the database into its
running triager (``EmbeddedTriager.reload``/``set_responses``; for the Rasa backend, its embedded
fallback).  Fan-out is best effort, so each process also checks every :data:`RESYNC_SECONDS`.  At
start a process loads the active model from the database if there is one.

Before the first activation the model that is running (trained at start from the shipped data)
is evaluated and registered as the active version, so that the gate always has a model to compare
with and roll back can return to it.

The routes are in :mod:`handoff.triage_admin.web`; every change writes an audit event (``triage.*``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

from sqlalchemy import select, update

from gateway.envelope import utcnow
from gateway.store import repo
from gateway.store.models import StaffUser
from gateway.tasks import cancel_and_wait
from handoff.triage_admin.artifacts import MODEL_PREFIX, StateConflict
from handoff.triage_admin.models import JobStatus, ModelStatus, ModelVersion, TrainingJob
from handoff.triage_admin.state import STALE_JOB, AdminError, AdminState, _evaluate, _summary, held_out_split
from nlu.classifier import ModelArtifact, train_artifact
from nlu.registry import ActivationResult, decide_activation
from nlu.triage import default_model

log = logging.getLogger(__name__)


class TriageAdmin(AdminState):
    """One per application: the registry over the database, and this process's running model."""

    # -- models ----------------------------------------------------------------------------------
    async def running_model(self) -> ModelArtifact:
        if self.embedded is not None:
            return self.embedded.model
        return await asyncio.to_thread(default_model)

    async def artifact(self, version: str) -> ModelArtifact:
        raw = await self.store.aget(MODEL_PREFIX + version)
        if raw is None:
            raise AdminError(404, "not_found")
        return await asyncio.to_thread(ModelArtifact.from_bytes, raw)

    async def evaluated(self, model: ModelArtifact) -> ModelArtifact:
        """``model`` with fresh metrics on the held-out test split, with the responses in force."""
        book, _ = await self.response_book()
        metrics = await asyncio.get_running_loop().run_in_executor(
            None, _evaluate, model, book, held_out_split()
        )
        return model.with_metrics(metrics)

    async def ensure_baseline(self) -> str:
        """The active version; before the first activation, the running model becomes it.  Hold the lock."""
        active = await self.store.active_version()
        if active is not None:
            return active
        model = await self.evaluated(await self.running_model())
        await self.store.aput(
            MODEL_PREFIX + model.version,
            model.to_bytes(),
            created_by="system",
            note="running at start (shipped training data)",
        )
        try:
            result = await asyncio.to_thread(self.registry.activate, model.version)
        except StateConflict:  # another process made its baseline first
            active = await self.store.active_version()
            if active is None:
                raise AdminError(409, "busy") from None
            return active
        async with self.db.session() as session:
            await session.execute(
                update(ModelVersion)
                .where(ModelVersion.version == model.version)
                .values(
                    activated_at=utcnow(), activated_by="system", decided_at=utcnow(), reason=result.reason
                )
            )
            await repo.audit(
                session,
                "triage.model.baseline",
                details={"version": model.version, "metrics": _summary(model.metrics)},
            )
        return model.version

    async def _refresh_metrics(self, model: ModelArtifact) -> ModelArtifact:
        fresh = await self.evaluated(model)
        if fresh.metrics != model.metrics:
            await self.store.aput(MODEL_PREFIX + fresh.version, fresh.to_bytes())
        return fresh

    async def activate(self, version: str, actor: StaffUser) -> ActivationResult:
        """Activate ``version`` if it passes the gate against the active model, both evaluated
        again now on the same test split.  A refusal marks the version ``refused`` with the reason."""
        async with self._lock:
            await self.ensure_baseline()
            candidate = await self.artifact(version)
            active_version = await self.store.active_version()
            if active_version == version:
                return ActivationResult(True, "already active", version, version)
            if active_version is not None:
                await self._refresh_metrics(await self.artifact(active_version))
            candidate = await self._refresh_metrics(candidate)
            try:
                result = await asyncio.to_thread(self.registry.activate, version)
            except StateConflict:
                raise AdminError(409, "busy") from None
            async with self.db.session() as session:
                row = await session.get(ModelVersion, version)
                if row is not None:
                    row.decided_at = utcnow()
                    row.reason = result.reason
                    if result.ok:
                        row.activated_at, row.activated_by = utcnow(), actor.username
                    else:
                        row.status = ModelStatus.REFUSED.value
                await repo.audit(
                    session,
                    "triage.model.activated" if result.ok else "triage.model.refused",
                    actor=actor,
                    details={
                        "version": version,
                        "previous": result.previous,
                        "reason": result.reason,
                        "metrics": _summary(candidate.metrics),
                    },
                )
        if result.ok:
            await self.announce("model", version=version)
        return result

    async def rollback(self, actor: StaffUser) -> ActivationResult:
        async with self._lock:
            try:
                result = await asyncio.to_thread(self.registry.rollback)
            except StateConflict:
                raise AdminError(409, "busy") from None
            if not result.ok:
                raise AdminError(409, "nothing_to_roll_back")
            async with self.db.session() as session:
                row = await session.get(ModelVersion, result.version or "")
                if row is not None:
                    row.activated_at, row.activated_by = utcnow(), actor.username
                await repo.audit(
                    session,
                    "triage.model.rolled_back",
                    actor=actor,
                    details={"from": result.previous, "to": result.version},
                )
        await self.announce("model", version=result.version)
        return result

    # -- background training ---------------------------------------------------------------------
    async def start_training(self, actor: StaffUser) -> str:
        if self._train_task is not None and not self._train_task.done():
            raise AdminError(409, "training_running")
        now = utcnow()
        job_id = uuid.uuid4().hex
        async with self.db.session() as session:
            running = await session.scalar(
                select(TrainingJob.id).where(
                    TrainingJob.status == JobStatus.RUNNING.value, TrainingJob.started_at > now - STALE_JOB
                )
            )
            if running is not None:
                raise AdminError(409, "training_running")
            session.add(
                TrainingJob(
                    id=job_id,
                    status=JobStatus.RUNNING.value,
                    stage="queued",
                    started_at=now,
                    actor=actor.username,
                    candidate_metrics={},
                    active_metrics={},
                    gate_reason="",
                    error="",
                )
            )
            await repo.audit(session, "triage.train.started", actor=actor, details={"job": job_id})
        self._train_task = asyncio.create_task(self._train(job_id, actor), name=f"nlu training {job_id}")
        return job_id

    async def _stage(self, job_id: str, stage: str, **values: Any) -> None:
        async with self.db.session() as session:
            await session.execute(
                update(TrainingJob).where(TrainingJob.id == job_id).values(stage=stage, **values)
            )

    async def _train(self, job_id: str, actor: StaffUser) -> None:
        loop = asyncio.get_running_loop()
        try:
            state = await self.dataset()
            await self._stage(job_id, "training", dataset_revision=state.revision or None)
            note = f"trained by {actor.username} on data revision {state.revision or 'shipped'}"
            trained = await loop.run_in_executor(None, train_artifact, state.dataset, None, note[:200])
            await self._stage(job_id, "evaluating")
            async with self._lock:
                active_version = await self.ensure_baseline()
                active = await self._refresh_metrics(await self.artifact(active_version))
            candidate = await self.evaluated(trained)
            await self.store.aput(
                MODEL_PREFIX + candidate.version,
                candidate.to_bytes(),
                created_by=actor.username,
                dataset_revision=state.revision or None,
                note=note,
            )
            ok, reason = decide_activation(candidate.metrics, active.metrics)
            async with self.db.session() as session:
                await session.execute(
                    update(TrainingJob)
                    .where(TrainingJob.id == job_id)
                    .values(
                        status=JobStatus.DONE.value,
                        stage="done",
                        finished_at=utcnow(),
                        version=candidate.version,
                        active_version=active.version,
                        candidate_metrics=candidate.metrics,
                        active_metrics=active.metrics,
                        gate_ok=ok,
                        gate_reason=reason,
                    )
                )
                await repo.audit(
                    session,
                    "triage.train.finished",
                    actor=actor,
                    details={
                        "job": job_id,
                        "version": candidate.version,
                        "dataset_revision": state.revision,
                        "candidate": _summary(candidate.metrics),
                        "active": {"version": active.version, **_summary(active.metrics)},
                        "gate_ok": ok,
                        "gate_reason": reason,
                    },
                )
        except asyncio.CancelledError:
            await self._fail(job_id, actor, "interrupted")
            raise
        except Exception as exc:
            log.exception("nlu: training job %s failed", job_id)
            await self._fail(job_id, actor, f"{type(exc).__name__}: {exc}"[:500])

    async def _fail(self, job_id: str, actor: StaffUser, error_text: str) -> None:
        with contextlib.suppress(Exception):
            async with self.db.session() as session:
                await session.execute(
                    update(TrainingJob)
                    .where(TrainingJob.id == job_id)
                    .values(
                        status=JobStatus.FAILED.value, stage="failed", finished_at=utcnow(), error=error_text
                    )
                )
                await repo.audit(
                    session, "triage.train.failed", actor=actor, details={"job": job_id, "error": error_text}
                )

    async def stop(self) -> None:
        task = self._train_task
        await cancel_and_wait(task)
