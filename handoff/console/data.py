"""What the console shows, read from the store: queue snapshots, transcripts, the supervisor view."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.envelope import Priority, utcnow
from gateway.store import repo
from gateway.store.models import AuditEvent, Conversation, ConversationState, Role, StaffUser
from gateway.store.repo import delivery_detail, message_dict
from handoff.risk import conversation_risk, triage_risk
from handoff.shift import presence

from .why import explain, priority_rank

S = ConversationState
CANNED_FILE = Path(__file__).with_name("canned.yml")
ACTIVE_STATES = (S.BOT.value, S.QUEUED.value, S.ASSIGNED.value)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def triage_view(triage: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The parts of a stored triage record a counsellor sees (intent, confidence, rules, priority,
    language, and the risk stage's risk when there is one)."""
    if not triage:
        return None
    intent = triage.get("intent")
    name = intent.get("name") if isinstance(intent, Mapping) else intent
    confidence = intent.get("confidence") if isinstance(intent, Mapping) else triage.get("confidence")
    return {
        "intent": name,
        "confidence": confidence,
        "matched_rules": list(triage.get("matched_rules") or []),
        "priority": triage.get("priority"),
        "language": triage.get("language"),
        "risk": triage_risk(triage),
    }


def client_message(data: Mapping[str, Any]) -> dict[str, Any]:
    """A stored message (``pipeline.message_dict``) as the console's script gets it."""
    kind = str(data.get("sender_kind", "person"))
    return {
        "id": data.get("id"),
        "seq": data.get("seq"),
        "kind": kind,
        "direction": data.get("direction"),
        "text": data.get("text", ""),
        "time": data.get("created_at"),
        "delivery": data.get("delivery"),
        "author_id": data.get("author_id"),
        "triage": triage_view(data.get("triage")) if kind == "person" else None,
    }


def mine_entry(conv: Any) -> dict[str, Any]:
    """An assigned conversation as its holder's list shows it: a Conversation, or a row of the
    same columns (``queue_rows``, ``assigned_loads``)."""
    return {
        "conversation_id": conv.id,
        "channel": conv.channel,
        "language": conv.language,
        "intent": conv.intent,
        "priority": Priority(conv.priority).label,
        "state": conv.state,
        "assigned_at": _iso(conv.assigned_at),
        "message_count": conv.message_count,
        "unreachable": conv.unreachable,
        "risk": conversation_risk(conv.meta),
    }


_WAITING_COLUMNS = (
    Conversation.id,
    Conversation.channel,
    Conversation.language,
    Conversation.intent,
    Conversation.priority,
    Conversation.queued_at,
    Conversation.created_at,
    Conversation.message_count,
    Conversation.meta,
)
_MINE_COLUMNS = (
    Conversation.id,
    Conversation.channel,
    Conversation.language,
    Conversation.intent,
    Conversation.priority,
    Conversation.state,
    Conversation.assigned_at,
    Conversation.message_count,
    Conversation.unreachable,
    Conversation.meta,
    Conversation.assigned_to,
)
_ROW_COLUMNS = (*_MINE_COLUMNS, Conversation.queued_at, Conversation.created_at)


def _waiting_entry(r: Any, now: datetime) -> dict[str, Any]:
    """A waiting conversation's row as the queue shows it (:meth:`handoff.queue.QueueEntry.to_dict`)."""
    queued_at = r.queued_at or r.created_at
    return {
        "conversation_id": r.id,
        "channel": r.channel,
        "language": r.language,
        "intent": r.intent,
        "priority": Priority(r.priority).label,
        "queued_at": queued_at.isoformat(),
        "waiting_seconds": round(max(0.0, (now - queued_at).total_seconds()), 1),
        "message_count": r.message_count,
        "risk": conversation_risk(r.meta),
    }


async def queue_snapshot(
    session: AsyncSession,
) -> tuple[list[dict[str, Any]], dict[int, list[dict[str, Any]]]]:
    """The waiting conversations in queue order (as :meth:`handoff.queue.QueueEntry.to_dict`), and
    every counsellor's assigned conversations (as :func:`mine_entry`).

    Read for a console that connects and after an interruption: plain rows of the columns shown,
    not ORM objects (a profile under load showed the loading of whole conversations)."""
    now = utcnow()
    waiting = [
        _waiting_entry(r, now)
        for r in await session.execute(
            select(*_WAITING_COLUMNS)
            .where(Conversation.state == S.QUEUED.value)
            .order_by(Conversation.priority.desc(), Conversation.queued_at.asc(), Conversation.id)
        )
    ]
    by_user: dict[int, list[dict[str, Any]]] = {}
    for r in await session.execute(
        select(*_MINE_COLUMNS)
        .where(Conversation.state == S.ASSIGNED.value)
        .order_by(Conversation.priority.desc(), Conversation.assigned_at)
    ):
        if r.assigned_to is not None:
            by_user.setdefault(r.assigned_to, []).append(mine_entry(r))
    return waiting, by_user


@dataclass(frozen=True)
class QueueRow:
    """Where one conversation stands in the queue: waiting (``waiting`` is its entry), held by
    ``holder`` (``mine`` is its entry in the holder's list), or neither (both None)."""

    waiting: dict[str, Any] | None = None
    holder: int | None = None
    mine: dict[str, Any] | None = None


async def queue_rows(session: AsyncSession, ids: Collection[str]) -> dict[str, QueueRow]:
    """The queue's rows of these conversations only (the live feed's deltas: one conversation's
    change, not the whole queue); a conversation that is gone is neither waiting nor held."""
    now = utcnow()
    out = {conversation_id: QueueRow() for conversation_id in ids}
    if not out:
        return out
    for r in await session.execute(
        select(*_ROW_COLUMNS).where(
            Conversation.id.in_(list(out)),
            Conversation.state.in_((S.QUEUED.value, S.ASSIGNED.value)),
        )
    ):
        if r.state == S.QUEUED.value:
            out[r.id] = QueueRow(waiting=_waiting_entry(r, now))
        elif r.assigned_to is not None:
            out[r.id] = QueueRow(holder=r.assigned_to, mine=mine_entry(r))
    return out


async def assigned_loads(session: AsyncSession) -> dict[int, int]:
    """How many conversations each counsellor holds."""
    rows = await session.execute(
        select(Conversation.assigned_to, func.count())
        .where(Conversation.state == S.ASSIGNED.value)
        .group_by(Conversation.assigned_to)
    )
    return {uid: int(count) for uid, count in rows.all() if uid is not None}


async def transcript(
    session: AsyncSession, conv: Conversation, lang: str = "sv", reader: StaffUser | None = None
) -> dict[str, Any]:
    """The conversation as the console shows it; ``reader``, the staff member reading it, spares
    reading the holder's row when it is them (a claim's answer)."""
    rows = await repo.messages_of(session, conv.id)
    messages = [client_message(message_dict(m)) for m in rows]
    for message, row in zip(messages, rows, strict=True):
        detail = delivery_detail(row.meta)
        if detail:  # SMS: how many SMS it cost, why it failed
            message["delivery_detail"] = detail
    authors = {m["author_id"] for m in messages if m["author_id"] is not None}
    names: dict[int, str] = {}
    if authors:
        for uid, name in (
            await session.execute(
                select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(authors))
            )
        ).all():
            names[uid] = name
    for m in messages:
        m["author"] = names.get(m["author_id"]) if m["author_id"] is not None else None
    stored = [m for m in rows if m.sender_kind == "person" and m.triage]
    suggested: str | None = None
    latest_triage: dict[str, Any] | None = None
    if stored:
        # The safe response of the most serious message (the latest of equally serious ones).
        top = max(stored, key=lambda m: priority_rank(m.triage, m.seq))
        suggested = (top.triage or {}).get("safe_response") or None
        latest_triage = triage_view(stored[-1].triage)
    if reader is not None and conv.assigned_to == reader.id:
        assignee: StaffUser | None = reader
    else:
        assignee = await session.get(StaffUser, conv.assigned_to) if conv.assigned_to else None
    return {
        "conversation": {
            "id": conv.id,
            "channel": conv.channel,
            "state": conv.state,
            "priority": Priority(conv.priority).label,
            "intent": conv.intent,
            "language": conv.language,
            "assigned_to": assignee.username if assignee else None,
            "created_at": _iso(conv.created_at),
            "queued_at": _iso(conv.queued_at),
            "unreachable": conv.unreachable,
        },
        "messages": messages,
        "triage": latest_triage,
        "why": explain(conv.language, conv.meta, stored, lang),
        "suggested_response": suggested,
    }


async def supervisor_view(session: AsyncSession) -> dict[str, Any]:
    convs = (
        (
            await session.execute(
                select(Conversation)
                .where(Conversation.state.in_(ACTIVE_STATES))
                .order_by(Conversation.priority.desc(), Conversation.queued_at, Conversation.created_at)
            )
        )
        .scalars()
        .all()
    )
    staff = (
        (
            await session.execute(
                select(StaffUser)
                .where(StaffUser.role.in_((Role.COUNSELLOR.value, Role.SUPERVISOR.value)))
                .where(StaffUser.active.is_(True))
                .order_by(StaffUser.username)
            )
        )
        .scalars()
        .all()
    )
    loads: dict[int, int] = {}
    for uid, count in (
        await session.execute(
            select(Conversation.assigned_to, func.count())
            .where(Conversation.state == S.ASSIGNED.value)
            .group_by(Conversation.assigned_to)
        )
    ).all():
        if uid is not None:
            loads[uid] = int(count)
    status = await presence.statuses(session, (u.id for u in staff))
    names = {u.id: u.username for u in staff}
    missing = {c.assigned_to for c in convs if c.assigned_to is not None and c.assigned_to not in names}
    if missing:
        for uid, name in (
            await session.execute(select(StaffUser.id, StaffUser.username).where(StaffUser.id.in_(missing)))
        ).all():
            names[uid] = name
    return {
        "conversations": [
            {
                "conversation_id": c.id,
                "channel": c.channel,
                "language": c.language,
                "intent": c.intent,
                "priority": Priority(c.priority).label,
                "state": c.state,
                "assigned_to": names.get(c.assigned_to) if c.assigned_to is not None else None,
                "queued_at": _iso(c.queued_at),
                "assigned_at": _iso(c.assigned_at),
                "message_count": c.message_count,
                "risk": conversation_risk(c.meta),
            }
            for c in convs
        ],
        "counsellors": [
            {
                "username": u.username,
                "display_name": u.display_name,
                "role": u.role,
                "load": int(loads.get(u.id, 0)),
                "capacity": u.capacity,
                "status": status[u.id][0],
                "status_auto": status[u.id][1],
            }
            for u in staff
        ],
        # Only available counsellors and supervisors are on duty (handoff.shift.presence).
        "on_duty": sum(1 for u in staff if status[u.id][0] == "available"),
    }


async def audit_events(
    session: AsyncSession, conversation_id: str | None, limit: int = 500
) -> list[dict[str, Any]]:
    stmt = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    if conversation_id:
        stmt = stmt.where(AuditEvent.conversation_id == conversation_id)
    return [
        {
            "at": _iso(e.at),
            "actor": e.actor,
            "action": e.action,
            "conversation_id": e.conversation_id,
            "details": e.details,
        }
        for e in (await session.execute(stmt)).scalars().all()
    ]


def load_canned(path: Path = CANNED_FILE) -> list[dict[str, Any]]:
    """The canned responses, checked: every entry has an id, and a title and text in sv and en (the
    text also in other languages, by language code)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a list of canned responses")
    seen: set[str] = set()
    out: list[dict[str, Any]] = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise ValueError(f"{path}: entry {i} needs an id")
        if item["id"] in seen:
            raise ValueError(f"{path}: id {item['id']!r} twice")
        seen.add(item["id"])
        for field in ("title", "text"):
            value = item.get(field)
            if not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in ("sv", "en")):
                raise ValueError(f"{path}: {item['id']}.{field} needs sv and en")
        texts = {str(k): v for k, v in item["text"].items() if isinstance(v, str) and v.strip()}
        out.append({"id": item["id"], "title": dict(item["title"]), "text": texts})
    return out
