"""What the trainee and the supervisors see of training sessions: a session (its due lines, the
checklist marked, the actions, the feedback), the supervisors' overview, a trainee's progress."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.store.models import StaffUser

from .desk import line_text, visible
from .models import TrainingSession
from .scenarios import Scenario, load
from .service import iso, missing_required, scenario_of


def checklist_view(scenario: Scenario, ts: TrainingSession, lang: str) -> list[dict[str, Any]]:
    """Each expected step, whether it happened, and when (seconds after the claim)."""
    origin = ts.claimed_at or ts.started_at
    out = []
    for step in scenario.checklist:
        at = (ts.checklist or {}).get(step.id)
        after = round((datetime.fromisoformat(at) - origin).total_seconds()) if at else None
        out.append(
            {
                "id": step.id,
                "text": step.text.en if lang == "en" else step.text.sv,
                "done": at is not None,
                "at": at,
                "after_seconds": after,
            }
        )
    return out


async def view(session: AsyncSession, ts: TrainingSession, lang: str, *, supervisor: bool) -> dict[str, Any]:
    """The session as the trainee (or a supervisor) sees it: the person's lines that are due, the
    trainee's, the hints; whether the person is typing; the checklist; the actions; feedback."""
    scenario = await scenario_of(session, ts)
    shown, typing = await visible(session, ts)
    messages = [
        {
            "id": m.id,
            "kind": m.kind,
            "text": line_text(m.kind, m.text, lang),
            "at": m.due_at.isoformat(),
            "triage": m.triage,
        }
        for m in shown
    ]
    found = {
        "id": ts.id,
        "scenario_id": ts.scenario_id,
        "title": scenario.title_in(lang),
        "channel": scenario.channel,
        "language": scenario.language,
        "state": ts.state,
        "intent": ts.intent,
        "priority": ts.priority,
        "started_at": iso(ts.started_at),
        "closed_at": iso(ts.closed_at),
        "typing": typing,
        "messages": messages,
        "checklist": checklist_view(scenario, ts, lang),
        "actions": ts.actions or {},
        "feedback": ts.feedback,
        "feedback_at": iso(ts.feedback_at),
    }
    if supervisor:
        found["persona"] = scenario.persona
        found["node"] = ts.node
        trainee = await session.get(StaffUser, ts.trainee_id)
        found["trainee"] = trainee.username if trainee else None
    return found


async def overview(session: AsyncSession, lang: str, *, since: datetime) -> list[dict[str, Any]]:
    """For supervisors: the sessions going on, and those closed since ``since``."""
    rows = (
        await session.execute(
            select(TrainingSession, StaffUser.username)
            .join(StaffUser, StaffUser.id == TrainingSession.trainee_id)
            .where(or_(TrainingSession.state != "closed", TrainingSession.closed_at >= since))
            .order_by(TrainingSession.started_at.desc())
        )
    ).all()
    out = []
    for ts, username in rows:
        pending = (ts.actions or {}).get("disclosure", {}).get("state") == "pending"
        out.append(
            {
                "id": ts.id,
                "scenario_id": ts.scenario_id,
                "trainee": username,
                "state": ts.state,
                "priority": ts.priority,
                "started_at": iso(ts.started_at),
                "closed_at": iso(ts.closed_at),
                "disclosure_pending": pending,
                "has_feedback": ts.feedback is not None,
            }
        )
    return out


async def progress(session: AsyncSession, user: StaffUser, lang: str) -> dict[str, Any]:
    """A trainee's scenarios done: checklist results and feedback; the required ones still to do."""
    rows = (
        await session.execute(
            select(TrainingSession)
            .where(TrainingSession.trainee_id == user.id, TrainingSession.state == "closed")
            .order_by(TrainingSession.closed_at.desc())
        )
    ).scalars()
    done = []
    for ts in rows:
        scenario = await load(session, ts.scenario_id)
        checklist = checklist_view(scenario, ts, lang) if scenario else []
        done.append(
            {
                "id": ts.id,
                "scenario_id": ts.scenario_id,
                "title": scenario.title_in(lang) if scenario else ts.scenario_id,
                "closed_at": iso(ts.closed_at),
                "steps_done": sum(1 for s in checklist if s["done"]),
                "steps": len(checklist),
                "checklist": checklist,
                "feedback": ts.feedback,
            }
        )
    return {"done": done, "missing_required": await missing_required(session, user.id)}
