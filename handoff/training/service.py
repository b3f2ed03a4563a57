"""A training session's life: the trainee starts a scenario, claims it, answers; the simulated person
replies by the script; a supervisor hints, decides on crime information (the second pair of eyes)
and gives feedback; steps are marked on the checklist (what the console's context tabs do to a
session, referral, crime information, close and documentation, is in :mod:`.desk`).  Nothing is
written outside the
``training_*`` tables: no outbox event, no audit event of a real conversation, no referral or
disclosure that a delivery could pick up."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.envelope import utcnow
from gateway.errors import Conflict, NotFound
from gateway.store.models import StaffUser
from handoff.records.documentation import guidelines
from handoff.records.guideline_checks import validate_record
from handoff.web.roles import SUPERVISOR_ROLES
from nlu.result import Triager, TriageResult

from . import script
from .models import TrainingMessage, TrainingRequirement, TrainingSession
from .scenarios import Scenario, load


@dataclass(frozen=True, slots=True)
class Pace:
    """``scale`` multiplies the script's delays and silences (0: the person answers at once and
    never follows a silence up)."""

    scale: float = 1.0


def iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


async def scenario_of(session: AsyncSession, ts: TrainingSession) -> Scenario:
    found = await load(session, ts.scenario_id)
    if found is None:
        raise NotFound("the scenario of this session is gone")
    return found


SYSTEM_REFERRAL_SENT = "training_sys_referral_sent"
SYSTEM_DISCLOSURE_APPROVED = "training_sys_disclosure_approved"
SYSTEM_DISCLOSURE_RETURNED = "training_sys_disclosure_returned"


def system_line(session: AsyncSession, ts: TrainingSession, msgid: str, now: datetime) -> None:
    """A line of the training transcript in the reader's language (stored as its catalogue id)."""
    session.add(TrainingMessage(session_id=ts.id, kind="system", text=msgid, created_at=now, due_at=now))


def person_triage(result: TriageResult) -> dict[str, Any]:
    """What the console shows of a person's line: the real triage's intent, priority, confidence,
    rules, risk and safe response (the intent kept as a plain name, as the training page reads it)."""
    return {
        "intent": result.intent,
        "priority": result.priority.label,
        "confidence": round(result.confidence, 4),
        "language": result.language,
        "matched_rules": list(result.matched_rules),
        "safe_response": result.safe_response,
        "risk": result.risk,
    }


def mark(ts: TrainingSession, step_ids: list[str], now: datetime) -> None:
    marks = dict(ts.checklist or {})
    for sid in step_ids:
        marks.setdefault(sid, now.isoformat())
    ts.checklist = marks


async def _say(
    session: AsyncSession,
    ts: TrainingSession,
    lines: list[script.Line],
    now: datetime,
    pace: Pace,
    triager: Triager,
    language: str,
) -> None:
    due = now
    for line in lines:
        due = due + timedelta(seconds=line.delay * pace.scale)
        result = await triager.parse(line.text, language)
        session.add(
            TrainingMessage(
                session_id=ts.id,
                kind="person",
                text=line.text,
                triage=person_triage(result),
                created_at=now,
                due_at=due,
            )
        )


async def start(
    session: AsyncSession, scenario: Scenario, trainee: StaffUser, triager: Triager, pace: Pace
) -> TrainingSession:
    """A new session of ``scenario``: the person's opening waits in the trainee's training queue."""
    now = utcnow()
    # The conversation's priority is its most urgent opening line's, as in the real queue.
    first = max(
        [await triager.parse(text, scenario.language) for text in scenario.opening], key=lambda r: r.priority
    )
    ts = TrainingSession(
        id=uuid.uuid4().hex,
        scenario_id=scenario.id,
        trainee_id=trainee.id,
        state="queued",
        node=scenario.start,
        intent=first.intent,
        priority=first.priority.label,
        started_at=now,
        checklist={},
        actions={},
    )
    session.add(ts)
    await session.flush()
    await _say(session, ts, script.opening(scenario), now, pace, triager, scenario.language)
    return ts


async def get(session: AsyncSession, session_id: str, *, for_update: bool = False) -> TrainingSession:
    ts = await session.get(TrainingSession, session_id, with_for_update=for_update)
    if ts is None:
        raise NotFound("training session not found")
    return ts


def may_see(ts: TrainingSession, user: StaffUser) -> bool:
    """The trainee whose session it is, and supervisors and admins."""
    return ts.trainee_id == user.id or user.role in SUPERVISOR_ROLES


def own(ts: TrainingSession, user: StaffUser, *, open_: bool = True) -> None:
    if ts.trainee_id != user.id:
        raise Conflict("not_your_session")
    if open_ and ts.state != "assigned":
        raise Conflict("not_assigned_to_you" if ts.state == "queued" else "session_closed")


async def open_sessions(session: AsyncSession, trainee: StaffUser) -> list[TrainingSession]:
    """The trainee's training sessions not closed, oldest first: nobody else's, nothing real."""
    return list(
        (
            await session.execute(
                select(TrainingSession)
                .where(TrainingSession.trainee_id == trainee.id, TrainingSession.state != "closed")
                .order_by(TrainingSession.started_at)
            )
        ).scalars()
    )


async def queue(session: AsyncSession, trainee: StaffUser) -> list[dict[str, Any]]:
    """The trainee's training queue and the sessions they hold."""
    rows = await open_sessions(session, trainee)
    now = utcnow()
    return [
        {
            "id": ts.id,
            "scenario_id": ts.scenario_id,
            "state": ts.state,
            "intent": ts.intent,
            "priority": ts.priority,
            "waiting_seconds": round((now - ts.started_at).total_seconds(), 1),
        }
        for ts in rows
    ]


async def claim(session: AsyncSession, ts: TrainingSession, trainee: StaffUser) -> None:
    own(ts, trainee, open_=False)
    if ts.state != "queued":
        raise Conflict("already_claimed")
    now = utcnow()
    ts.state = "assigned"
    ts.claimed_at = now
    ts.last_trainee_at = now
    mark(ts, [s.id for s in script.steps_by_action(await scenario_of(session, ts), "claimed")], now)


async def reply(
    session: AsyncSession, ts: TrainingSession, trainee: StaffUser, text: str, triager: Triager, pace: Pace
) -> None:
    """The trainee's answer: stored, triaged, marked on the checklist; the person answers by the script."""
    own(ts, trainee)
    scenario = await scenario_of(session, ts)
    now = utcnow()
    result = await triager.parse(text, scenario.language)
    session.add(
        TrainingMessage(
            session_id=ts.id,
            kind="counsellor",
            author_id=trainee.id,
            text=text,
            triage={"intent": result.intent},
            created_at=now,
            due_at=now,
        )
    )
    mark(ts, [s.id for s in script.steps_by_words(scenario, text, result.intent)], now)
    lines, node = script.respond(scenario, ts.node, text, result.intent)
    if node != ts.node:
        ts.followups = 0
    ts.node = node
    ts.last_trainee_at = now
    # The person answers after the lines already on their way.
    pending = (
        await session.execute(
            select(TrainingMessage.due_at)
            .where(TrainingMessage.session_id == ts.id, TrainingMessage.due_at > now)
            .order_by(TrainingMessage.due_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    await _say(session, ts, lines, pending or now, pace, triager, scenario.language)


async def tick(session: AsyncSession, ts: TrainingSession, triager: Triager, pace: Pace) -> None:
    """The person's follow-up when the trainee has been silent long enough (checked on each read)."""
    if ts.state != "assigned" or ts.last_trainee_at is None or not pace.scale:
        return
    scenario = await scenario_of(session, ts)
    now = utcnow()
    silent = (now - ts.last_trainee_at).total_seconds()
    lines = script.followup(scenario, ts.node, silent / pace.scale, ts.followups)
    if lines:
        ts.followups += 1
        await _say(session, ts, lines, now, pace, triager, scenario.language)


async def hint(session: AsyncSession, ts: TrainingSession, supervisor: StaffUser, text: str) -> None:
    """A supervisor's private hint to the trainee: the simulated person never sees it."""
    if ts.state == "closed":
        raise Conflict("session_closed")
    now = utcnow()
    session.add(
        TrainingMessage(
            session_id=ts.id, kind="hint", author_id=supervisor.id, text=text, created_at=now, due_at=now
        )
    )


async def decide_disclosure(
    session: AsyncSession, ts: TrainingSession, supervisor: StaffUser, approve: bool
) -> None:
    """The second pair of eyes: a supervisor (not the trainee) approves or sends it back."""
    found = (ts.actions or {}).get("disclosure")
    if not found or found.get("state") != "pending":
        raise Conflict("no_pending_disclosure")
    if supervisor.id == ts.trainee_id:
        raise Conflict("four_eyes")
    now = utcnow()
    state = "approved" if approve else "returned"
    ts.actions = {
        **ts.actions,
        "disclosure": {
            **found,
            "state": state,
            "decided_by": supervisor.username,
            "decided_at": now.isoformat(),
        },
    }
    # The trainee reads the decision in the transcript; nothing goes to the police channel.
    system_line(session, ts, SYSTEM_DISCLOSURE_APPROVED if approve else SYSTEM_DISCLOSURE_RETURNED, now)
    if approve:
        scenario = await scenario_of(session, ts)
        mark(ts, [s.id for s in script.steps_by_action(scenario, "disclosure_approved")], now)


def documentation_problems(values: dict[str, Any], lang: str) -> dict[str, str]:
    """The real documentation guidelines' check of a training record (field -> message)."""
    return {e.field: e.message(lang) for e in validate_record(guidelines(), values)}


async def give_feedback(session: AsyncSession, ts: TrainingSession, supervisor: StaffUser, text: str) -> None:
    ts.feedback = text
    ts.feedback_by = supervisor.id
    ts.feedback_at = utcnow()


# ---------------------------------------------------------------------------------------- requirements
async def required(session: AsyncSession) -> list[str]:
    rows = (await session.execute(select(TrainingRequirement.scenario_id))).scalars()
    return sorted(rows)


async def set_required(session: AsyncSession, scenario_id: str, on: bool, admin: StaffUser) -> None:
    row = await session.get(TrainingRequirement, scenario_id)
    if on and row is None:
        session.add(TrainingRequirement(scenario_id=scenario_id, set_by=admin.id))
    elif not on and row is not None:
        await session.delete(row)


async def missing_required(session: AsyncSession, user_id: int) -> list[str]:
    """The required scenarios ``user_id`` has not closed and documented a session of (documenting
    is part of the conversation, as in the console)."""
    wanted = set(await required(session))
    if not wanted:
        return []
    rows = (
        await session.execute(
            select(TrainingSession.scenario_id, TrainingSession.actions).where(
                TrainingSession.trainee_id == user_id, TrainingSession.state == "closed"
            )
        )
    ).all()
    done = {scenario_id for scenario_id, actions in rows if (actions or {}).get("documentation")}
    return sorted(wanted - done)


# ---------------------------------------------------------------------------------------- purge
async def purge(session: AsyncSession, keep_days: float, now: datetime | None = None) -> int:
    """Delete training sessions (their messages with them) started more than ``keep_days`` ago."""
    cutoff = (now or utcnow()) - timedelta(days=keep_days)
    old = select(TrainingSession.id).where(TrainingSession.started_at < cutoff)
    ids = list((await session.execute(old)).scalars())
    if ids:
        await session.execute(delete(TrainingMessage).where(TrainingMessage.session_id.in_(ids)))
        await session.execute(delete(TrainingSession).where(TrainingSession.id.in_(ids)))
    return len(ids)
