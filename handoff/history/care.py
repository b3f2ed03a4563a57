"""Care for counsellors: a debrief note to the supervisors after a critical conversation, and the
supervisors' view of who handled critical contacts in the shift (the last :data:`SHIFT`).

The console's "take a break" button sets the counsellor's status to break through
``POST /console/api/status`` where that route exists (the counsellor status of issue 17, item 4);
without it (404) the break is an offer only."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.conversation import ConversationState
from gateway.envelope import Priority, utcnow
from gateway.errors import Conflict, PermissionDenied
from gateway.store import repo
from gateway.store.models import Conversation, StaffUser
from handoff.records.redaction import redact

from .models import DebriefNote

S = ConversationState
SHIFT = timedelta(hours=12)
NOTE_MAX = 1000


def handled_by(conv: Conversation, user: StaffUser) -> bool:
    return conv.assigned_to == user.id or (conv.meta or {}).get("closed_by") == user.username


async def add_debrief(
    session: AsyncSession, conversation_id: str, user: StaffUser, note: str
) -> dict[str, Any]:
    """Store a counsellor's note about a closed conversation they handled (redacted), audited."""
    conv = await repo.get_conversation(session, conversation_id)
    if not handled_by(conv, user):
        raise PermissionDenied("not_yours")
    if conv.state not in (S.CLOSED.value, S.DOCUMENTED.value):
        raise Conflict("not_closed")
    text = redact(note.strip()[:NOTE_MAX]).text
    row = DebriefNote(conversation_id=conv.id, author_id=user.id, author=user.username, note=text)
    session.add(row)
    await session.flush()
    await repo.audit(session, "debrief.sent", actor=user, conversation_id=conv.id)
    return {"id": row.id, "conversation_id": conv.id, "note": text}


async def shift_view(session: AsyncSession, now: datetime | None = None) -> dict[str, Any]:
    """Who held critical conversations in the last :data:`SHIFT` (still open, or closed within
    it), and the debrief notes written in it."""
    since = (now or utcnow()) - SHIFT
    convs = (
        (
            await session.execute(
                select(Conversation)
                .where(Conversation.priority >= int(Priority.CRITICAL))
                .where(Conversation.assigned_to.is_not(None))
                .where(
                    or_(
                        Conversation.closed_at >= since,
                        (Conversation.closed_at.is_(None)) & (Conversation.state == S.ASSIGNED.value),
                    )
                )
            )
        )
        .scalars()
        .all()
    )
    per: dict[int, dict[str, Any]] = {}
    for c in convs:
        assert c.assigned_to is not None
        entry = per.setdefault(c.assigned_to, {"count": 0, "open": 0, "last": None})
        entry["count"] += 1
        if c.closed_at is None:
            entry["open"] += 1
        moment = c.closed_at or c.assigned_at
        if moment is not None and (entry["last"] is None or moment > entry["last"]):
            entry["last"] = moment
    users = {}
    if per:
        users = {
            u.id: u
            for u in (await session.execute(select(StaffUser).where(StaffUser.id.in_(per)))).scalars().all()
        }
    handled = sorted(
        (
            {
                "username": users[uid].username if uid in users else str(uid),
                "display_name": users[uid].display_name if uid in users else "",
                "count": e["count"],
                "open": e["open"],
                "last_at": e["last"].isoformat() if e["last"] else None,
            }
            for uid, e in per.items()
        ),
        key=lambda r: (-int(r["count"]), str(r["username"])),
    )
    notes = (
        (
            await session.execute(
                select(DebriefNote)
                .where(DebriefNote.created_at >= since)
                .order_by(DebriefNote.created_at.desc())
            )
        )
        .scalars()
        .all()
    )
    return {
        "since": since.isoformat(),
        "critical_handled": handled,
        "debriefs": [
            {
                "id": n.id,
                "conversation_id": n.conversation_id,
                "author": n.author,
                "note": n.note,
                "created_at": n.created_at.isoformat(),
            }
            for n in notes
        ],
    }
