"""The counsellor queue: ordered by priority, then waiting time.  Claims and releases (atomic,
with capacity) are the core's: :mod:`gateway.queue`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.envelope import Priority, utcnow
from gateway.store.models import Conversation, ConversationState
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
