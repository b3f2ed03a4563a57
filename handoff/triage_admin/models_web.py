"""The triage admin's model versions, training and activation, on the web."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from gateway.appkeys import TRIAGER
from gateway.envelope import utcnow
from gateway.web_errors import error_body
from handoff.console.security import Staff
from handoff.triage_admin.gate_words import gate_reason
from handoff.triage_admin.models import JobStatus, ModelVersion, TrainingJob
from handoff.triage_admin.state import STALE_JOB, AdminError, _summary
from handoff.triage_admin.web_base import _admin, handles_errors


def _model_row(row: ModelVersion, running: str | None, lang: str) -> dict[str, Any]:
    return {
        "version": row.version,
        "status": row.status,
        "running": row.version == running,
        "metrics": _summary(row.metrics or {}),
        "per_intent": (row.metrics or {}).get("per_intent", {}),
        "n_examples": row.n_examples,
        "dataset_revision": row.dataset_revision,
        "note": row.note,
        "created_at": row.created_at.isoformat(),
        "created_by": row.created_by,
        "activated_at": row.activated_at.isoformat() if row.activated_at else None,
        "activated_by": row.activated_by,
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
        "reason": gate_reason(row.reason, lang),
    }


def _job_dict(job: TrainingJob, lang: str) -> dict[str, Any]:
    status, stage, error_text = job.status, job.stage, job.error
    if status == JobStatus.RUNNING.value and utcnow() - job.started_at > STALE_JOB:
        status, stage, error_text = JobStatus.FAILED.value, "failed", "interrupted"
    out: dict[str, Any] = {
        "id": job.id,
        "status": status,
        "stage": stage,
        "started_at": job.started_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "by": job.actor,
        "dataset_revision": job.dataset_revision,
        "error": error_text,
    }
    if status == JobStatus.DONE.value:
        out["candidate"] = {
            "version": job.version,
            "metrics": _summary(job.candidate_metrics),
            "per_intent": job.candidate_metrics.get("per_intent", {}),
        }
        out["active"] = {
            "version": job.active_version,
            "metrics": _summary(job.active_metrics),
            "per_intent": job.active_metrics.get("per_intent", {}),
        }
        out["gate"] = {"ok": bool(job.gate_ok), "reason": gate_reason(job.gate_reason, lang)}
    return out


@handles_errors
async def api_models(request: web.Request, staff: Staff) -> web.StreamResponse:
    admin = _admin(request)
    async with admin.db.session() as session:
        rows = (await session.scalars(select(ModelVersion).order_by(ModelVersion.created_at.desc()))).all()
        job = await session.scalar(select(TrainingJob).order_by(TrainingJob.started_at.desc()).limit(1))
    running = admin.embedded.model if admin.embedded is not None else None
    return web.json_response(
        {
            "active": await admin.store.active_version(),
            "history": await admin.store.history(),
            "running": {
                "version": running.version if running else None,
                "metrics": _summary(running.metrics) if running else {},
                "backend": request.app[TRIAGER].health().get("backend", ""),
            },
            "versions": [_model_row(r, running.version if running else None, staff.lang) for r in rows],
            "job": _job_dict(job, staff.lang) if job is not None else None,
        }
    )


@handles_errors
async def api_train(request: web.Request, staff: Staff) -> web.StreamResponse:
    job_id = await _admin(request).start_training(staff.user)
    return web.json_response({"job": job_id, "url": f"/console/api/triage/train/{job_id}"}, status=202)


@handles_errors
async def api_job(request: web.Request, staff: Staff) -> web.StreamResponse:
    async with _admin(request).db.session() as session:
        job = await session.get(TrainingJob, request.match_info["job_id"])
    if job is None:
        raise AdminError(404, "not_found")
    return web.json_response(_job_dict(job, staff.lang))


@handles_errors
async def api_activate(request: web.Request, staff: Staff) -> web.StreamResponse:
    result = await _admin(request).activate(request.match_info["version"], staff.user)
    if not result.ok:
        # The one error shape, and what the page shows beside its words for ``refused``: the gate's
        # reason, the version refused and the one still active.
        return web.json_response(
            {
                **error_body("refused"),
                "reason": gate_reason(result.reason, staff.lang),
                "version": result.version,
                "active": result.previous,
            },
            status=409,
        )
    return web.json_response(
        {
            "ok": True,
            "version": result.version,
            "previous": result.previous,
            "reason": gate_reason(result.reason, staff.lang),
        }
    )


@handles_errors
async def api_rollback(request: web.Request, staff: Staff) -> web.StreamResponse:
    result = await _admin(request).rollback(staff.user)
    return web.json_response(
        {
            "ok": True,
            "version": result.version,
            "previous": result.previous,
            "reason": gate_reason(result.reason, staff.lang),
        }
    )
