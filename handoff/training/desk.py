"""Training sessions as the real console sees conversations: the queue snapshot, the transcript
(with ``seq``, triage and "why"), and what the console's context tabs do to a conversation
(referral, crime information, documentation at close) done to a training session instead.

The console's scripts call these through the training space's routes (:mod:`.console_web`) with
the same shapes the real routes answer, so the same templates and scripts serve both.  Everything
here reads and writes ``training_*`` rows only: a referral "sent" and approved crime information
are lines of the training transcript, never a referral, disclosure, outbox row or broker event.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.envelope import utcnow
from gateway.errors import Conflict, NotFound
from gateway.store.models import StaffUser
from handoff.console.data import triage_view
from handoff.console.i18n import strings
from handoff.console.why import explain, priority_rank
from handoff.directory.catalog import Directory
from handoff.records.documentation import form_spec, guidelines
from handoff.records.guideline_checks import prefill

from . import script
from .models import TrainingMessage, TrainingSession
from .service import (
    SYSTEM_REFERRAL_SENT,
    documentation_problems,
    iso,
    mark,
    open_sessions,
    own,
    scenario_of,
    system_line,
)


def line_text(kind: str, text: str, lang: str) -> str:
    return strings(lang).get(text, text) if kind == "system" else text


# ------------------------------------------------------------------------------------------ reading
async def visible(session: AsyncSession, ts: TrainingSession) -> tuple[list[TrainingMessage], bool]:
    """The lines that are due (in order), and whether the person is typing one still to come."""
    rows = (
        await session.execute(
            select(TrainingMessage)
            .where(TrainingMessage.session_id == ts.id)
            .order_by(TrainingMessage.due_at, TrainingMessage.id)
        )
    ).scalars()
    now = utcnow()
    shown, typing = [], False
    for m in rows:
        if m.due_at > now:
            typing = True
        else:
            shown.append(m)
    return shown, typing


def entry(ts: TrainingSession, channel: str, language: str) -> dict[str, Any]:
    """A queue row or a "mine" row, as ``handoff.console.data`` makes them."""
    return {
        "conversation_id": ts.id,
        "channel": channel,
        "language": language,
        "intent": ts.intent,
        "priority": ts.priority,
        "state": ts.state,
        "risk": None,
        "waiting_seconds": round((utcnow() - ts.started_at).total_seconds(), 1),
    }


async def snapshot(session: AsyncSession, trainee: StaffUser) -> dict[str, Any]:
    """The console's queue snapshot of the trainee's own training sessions (nobody else's)."""
    rows = await open_sessions(session, trainee)
    waiting: list[dict[str, Any]] = []
    mine: list[dict[str, Any]] = []
    for ts in rows:
        scenario = await scenario_of(session, ts)
        row = entry(ts, scenario.channel, scenario.language)
        (waiting if ts.state == "queued" else mine).append(row)
    waiting.sort(key=lambda r: -["low", "normal", "high", "critical"].index(r["priority"]))
    return {
        "waiting": waiting,
        "mine": mine,
        "capacity": trainee.capacity,
        "load": len(mine),
        "me": {"username": trainee.username, "display_name": trainee.display_name},
        "queue_mode": "pick",
        "may_pick": True,
        "status": "available",
        "status_auto": False,
        "training": True,
    }


async def transcript(session: AsyncSession, ts: TrainingSession, lang: str) -> dict[str, Any]:
    """The session as ``handoff.console.data.transcript`` shows a conversation."""
    scenario = await scenario_of(session, ts)
    shown, typing = await visible(session, ts)
    names = {u.id: u.display_name or u.username for u in await _authors(session, shown)}
    messages, person = [], []
    for seq, m in enumerate(shown, start=1):
        messages.append(
            {
                "id": f"t{m.id}",
                "seq": seq,
                "kind": m.kind,
                "direction": "in" if m.kind == "person" else "out",
                "text": line_text(m.kind, m.text, lang),
                "time": m.due_at.isoformat(),
                "delivery": None,
                "author_id": None,
                "author": names.get(m.author_id) if m.author_id else None,
                "triage": triage_view(m.triage) if m.kind == "person" else None,
            }
        )
        if m.kind == "person" and m.triage:
            person.append(SimpleNamespace(seq=seq, triage=m.triage))
    suggested = None
    if person:
        top = max(person, key=lambda p: priority_rank(p.triage, p.seq))
        suggested = top.triage.get("safe_response") or None
    trainee = await session.get(StaffUser, ts.trainee_id)
    return {
        "conversation": {
            "id": ts.id,
            "channel": scenario.channel,
            "state": ts.state,
            "priority": ts.priority,
            "intent": ts.intent,
            "language": scenario.language,
            "assigned_to": trainee.username if trainee and ts.state != "queued" else None,
            "created_at": iso(ts.started_at),
            "queued_at": iso(ts.started_at),
            "unreachable": False,
            "typing": typing,
            "training": True,
        },
        "messages": messages,
        "triage": triage_view(person[-1].triage) if person else None,
        "why": explain(scenario.language, {}, person, lang),
        "suggested_response": suggested,
    }


async def _authors(session: AsyncSession, rows: list[TrainingMessage]) -> list[StaffUser]:
    ids = {m.author_id for m in rows if m.author_id}
    if not ids:
        return []
    return list((await session.execute(select(StaffUser).where(StaffUser.id.in_(ids)))).scalars())


# ------------------------------------------------------------------------------------------ closing
async def close(session: AsyncSession, ts: TrainingSession, trainee: StaffUser) -> None:
    """Close as the console closes: the documentation form follows (``documented`` when saved)."""
    own(ts, trainee)
    ts.state = "closed"
    ts.closed_at = utcnow()


def _prefill_events(ts: TrainingSession) -> list[dict[str, Any]]:
    actions = ts.actions or {}
    events: list[dict[str, Any]] = [
        {"type": "referred", "recipient_id": r["recipient_id"], "status": r["status"]}
        for r in actions.get("referrals", [])
        if r["status"] == "sent"
    ]
    if (actions.get("disclosure") or {}).get("state") == "approved":
        events.append({"type": "disclosed"})
    return events


async def documentation_form(
    session: AsyncSession, ts: TrainingSession, directory: Directory | None
) -> dict[str, Any]:
    """The real close form (``handoff.records.documentation.documentation_form``'s shape)."""
    g = guidelines()
    saved = (ts.actions or {}).get("documentation")
    values = dict(saved) if saved else prefill(ts.intent, _prefill_events(ts), directory=directory)
    return {
        "conversation_id": ts.id,
        "state": ts.state,
        "intent": ts.intent,
        "can_document": ts.state == "closed",
        "guidelines_version": g.version,
        "fields": form_spec(g, directory),
        "mandatory": list(g.mandatory),
        "values": {k: v for k, v in values.items() if k in g.keys},
        "source": "saved" if saved else "prefill",
        "documented_at": (ts.actions or {}).get("documented_at"),
    }


async def document(
    session: AsyncSession, ts: TrainingSession, trainee: StaffUser, values: dict[str, Any], lang: str
) -> dict[str, str]:
    """Save the documentation of a closed session (checked by the real guidelines); the problems
    by field when it is refused, else nothing, and ``documented`` marked on the checklist."""
    own(ts, trainee, open_=False)
    if ts.state != "closed":
        raise Conflict("not_closed")
    problems = documentation_problems(values, lang)
    if problems:
        return problems
    now = utcnow()
    ts.actions = {**(ts.actions or {}), "documentation": values, "documented_at": now.isoformat()}
    mark(ts, [s.id for s in script.steps_by_action(await scenario_of(session, ts), "documented")], now)
    return {}


async def pending_documentation(session: AsyncSession, trainee: StaffUser) -> list[dict[str, Any]]:
    rows = (
        await session.execute(
            select(TrainingSession)
            .where(TrainingSession.trainee_id == trainee.id, TrainingSession.state == "closed")
            .order_by(TrainingSession.closed_at.desc())
            .limit(50)
        )
    ).scalars()
    out = []
    for ts in rows:
        if (ts.actions or {}).get("documentation"):
            continue
        scenario = await scenario_of(session, ts)
        out.append(
            {"id": ts.id, "intent": ts.intent, "channel": scenario.channel, "closed_at": iso(ts.closed_at)}
        )
    return out


# ------------------------------------------------------------------------------------------ referrals
def referral_id(ts: TrainingSession, number: int) -> str:
    return f"{ts.id}-{number}"


def split_referral_id(value: str) -> tuple[str, int]:
    session_id, _, number = value.partition("-")
    if not number:
        raise NotFound("referral not found")
    return session_id, int(number)


async def propose_referral(
    session: AsyncSession,
    ts: TrainingSession,
    trainee: StaffUser,
    recipient: dict[str, Any],
    given: dict[str, Any],
) -> dict[str, Any]:
    """A referral proposed in training (the person is asked for consent next): recorded, marked."""
    own(ts, trainee)
    now = utcnow()
    found = list((ts.actions or {}).get("referrals", []))
    item = {
        "id": referral_id(ts, len(found) + 1),
        "recipient_id": recipient["id"],
        "name": recipient["name"],
        "summary": given.get("summary") or "",
        "urgency": given.get("urgency") or "normal",
        "status": "proposed",
        "created_at": now.isoformat(),
    }
    ts.actions = {**(ts.actions or {}), "referrals": [*found, item]}
    mark(ts, [s.id for s in script.steps_by_action(await scenario_of(session, ts), "referral")], now)
    return item


async def referral_consent(
    session: AsyncSession, ts: TrainingSession, trainee: StaffUser, number: int, asked: bool
) -> None:
    """The consent question (the simulated person consents: the referral shows as sent, and nothing
    leaves training) or the reason it could not be asked."""
    own(ts, trainee)
    found = list((ts.actions or {}).get("referrals", []))
    if not 1 <= number <= len(found):
        raise NotFound("referral not found")
    item = found[number - 1]
    if item["status"] != "proposed":
        raise Conflict("not_proposed")
    now = utcnow()
    found[number - 1] = {
        **item,
        "status": "sent" if asked else "consent_not_asked",
        "decided_at": now.isoformat(),
    }
    ts.actions = {**(ts.actions or {}), "referrals": found}
    if asked:
        scenario = await scenario_of(session, ts)
        mark(ts, [s.id for s in script.steps_by_action(scenario, "referral_with_consent")], now)
        system_line(session, ts, SYSTEM_REFERRAL_SENT, now)


def referral_views(ts: TrainingSession) -> list[dict[str, Any]]:
    """As ``handoff.referrals.reading`` lists them (no delivery, so never an acknowledgement)."""
    return [
        {
            "id": r["id"],
            "conversation_id": ts.id,
            "recipient_id": r["recipient_id"],
            "status": r["status"],
            "created_at": r["created_at"],
            "sent_at": None,
            "time_to_ack_seconds": None,
            "package": {"recipient": {"name": r["name"]}, "summary": r["summary"]},
            "training": True,
        }
        for r in (ts.actions or {}).get("referrals", [])
    ]


# ------------------------------------------------------------------------------------------ crime information
async def start_disclosure(
    session: AsyncSession, ts: TrainingSession, trainee: StaffUser, fields: dict[str, Any]
) -> None:
    """Crime information started in training: waits for a supervisor's approval, never sent."""
    own(ts, trainee)
    if ((ts.actions or {}).get("disclosure") or {}).get("state") == "pending":
        raise Conflict("disclosure_pending")
    now = utcnow()
    ts.actions = {**(ts.actions or {}), "disclosure": {**fields, "state": "pending", "at": now.isoformat()}}
    mark(ts, [s.id for s in script.steps_by_action(await scenario_of(session, ts), "disclosure")], now)


DISCLOSURE_STATUS = {"pending": "pending_approval", "approved": "training_approved", "returned": "rejected"}
"""Training's states as the console's disclosure statuses (approved in training is never "sent")."""


def disclosure_views(ts: TrainingSession, recipient_names: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    d = (ts.actions or {}).get("disclosure")
    if not d:
        return []
    rid = d.get("recipient_id") or "polisen"
    return [
        {
            "id": f"{ts.id}-d",
            "recipient_id": rid,
            "status": DISCLOSURE_STATUS[d["state"]],
            "created_at": d["at"],
            "review_required": False,
            "reviewed_at": None,
            "rejection_reason": None,
            "package": {
                "recipient": {"name": recipient_names.get(rid, {"sv": rid, "en": rid})},
                "what": d["what"],
            },
            "training": True,
        }
    ]
