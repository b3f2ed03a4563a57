"""The counsellor queue: ordered by priority, then waiting time; atomic claims with capacity.

A claim is one conditional UPDATE, so when two counsellors (in any processes) claim the same
conversation at once exactly one wins, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.envelope import Priority, utcnow
from gateway.errors import Conflict, NotFound
from gateway.store.models import Conversation, ConversationState, StaffUser
from handoff.risk import conversation_risk

S = ConversationState


@dataclass(frozen=True, slots=True)
class QueueEntry:
    conversation_id: str
    channel: str
    language: str
    intent: str | None
    priority: Priority
    queued_at: datetime
    waiting_seconds: float
    message_count: int
    risk: dict[str, Any] | None = None
    """``{"type", "reason"}`` when the NLU's risk stage raised the conversation's priority."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "language": self.language,
            "intent": self.intent,
            "priority": self.priority.label,
            "queued_at": self.queued_at.isoformat(),
            "waiting_seconds": round(self.waiting_seconds, 1),
            "message_count": self.message_count,
            "risk": self.risk,
        }


async def waiting(session: AsyncSession, now: datetime | None = None) -> list[QueueEntry]:
    """Every waiting conversation, highest priority first, then longest waiting first."""
    now = now or utcnow()
    rows = (
        (
            await session.execute(
                select(Conversation)
                .where(Conversation.state == S.QUEUED.value)
                .order_by(Conversation.priority.desc(), Conversation.queued_at.asc(), Conversation.id)
            )
        )
        .scalars()
        .all()
    )
    out = []
    for c in rows:
        queued_at = c.queued_at or c.created_at
        out.append(
            QueueEntry(
                conversation_id=c.id,
                channel=c.channel,
                language=c.language,
                intent=c.intent,
                priority=Priority(c.priority),
                queued_at=queued_at,
                waiting_seconds=max(0.0, (now - queued_at).total_seconds()),
                message_count=c.message_count,
                risk=conversation_risk(c.meta),
            )
        )
    return out


async def load(session: AsyncSession, user_id: int) -> int:
    result = await session.execute(
        select(func.count())
        .select_from(Conversation)
        .where(Conversation.assigned_to == user_id, Conversation.state == S.ASSIGNED.value)
    )
    return int(result.scalar_one())


async def claim(session: AsyncSession, conversation_id: str, user: StaffUser) -> None:
    """Take a waiting conversation.  Raises Conflict when someone else got it or capacity is full."""
    now = utcnow()
    held = (
        select(func.count())
        .select_from(Conversation)
        .where(Conversation.assigned_to == user.id, Conversation.state == S.ASSIGNED.value)
        .scalar_subquery()
    )
    result = await session.execute(
        update(Conversation)
        .where(and_(Conversation.id == conversation_id, Conversation.state == S.QUEUED.value))
        .where(held < user.capacity)
        .values(
            state=S.ASSIGNED.value,
            assigned_to=user.id,
            assigned_at=now,
            first_assigned_at=func.coalesce(Conversation.first_assigned_at, now),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:  # type: ignore[attr-defined]
        return
    conv = await session.get(Conversation, conversation_id)
    if conv is None:
        raise NotFound(f"conversation {conversation_id} not found")
    if conv.state != S.QUEUED.value:
        raise Conflict("already_claimed")
    raise Conflict("capacity_full")


async def release(
    session: AsyncSession, conversation_id: str, user: StaffUser, *, to_user: StaffUser | None = None
) -> None:
    """Give an assigned conversation back to the queue, or transfer it to a colleague."""
    conv = await session.get(Conversation, conversation_id, with_for_update=True)
    if conv is None:
        raise NotFound(f"conversation {conversation_id} not found")
    if conv.state != S.ASSIGNED.value or (
        conv.assigned_to != user.id and user.role not in ("supervisor", "admin")
    ):
        raise Conflict("not_assigned_to_you")
    now = utcnow()
    if to_user is None:
        conv.state = S.QUEUED.value
        conv.assigned_to = None
        conv.assigned_at = None
        conv.queued_at = conv.queued_at or now
        return
    if to_user.role not in ("counsellor", "supervisor"):
        raise Conflict("recipient_not_counsellor")
    if await load(session, to_user.id) >= to_user.capacity:
        raise Conflict("capacity_full")
    conv.assigned_to = to_user.id
    conv.assigned_at = now
