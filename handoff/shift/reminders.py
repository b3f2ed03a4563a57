"""Reminders of conversations that wait longer than their priority's target (``console.wait_targets``).

Every process checks the queue every ``console.wait_check_seconds``.  A conversation waiting past its
target is reminded of once per fleet: the process that records the reminder in ``wait_reminders``
(an INSERT for the first, unique per conversation; a conditional UPDATE for the next, due a repeat
interval after the last) writes the event ``{"kind": "wait_reminder", ...}`` on the ``queue`` fan-out
in the same transaction; the others find it recorded and do nothing, as the referral reminders do.
The consoles (:mod:`handoff.console.live`) pass it to every available counsellor and to every
supervisor and admin.  While the conversation still waits, the reminder is repeated every target
(:meth:`~handoff.shift.options.ShiftOptions.repeat`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.envelope import Priority
from gateway.events import TOPIC_QUEUE
from gateway.outbox import Outbox
from gateway.store import repo
from gateway.store.db import Database
from gateway.store.models import Conversation, ConversationState

from .models import WaitReminder
from .options import ShiftOptions

WAIT_REMINDER = "wait_reminder"


async def _overdue(db: Database, options: ShiftOptions, now: datetime) -> list[tuple[str, str, float]]:
    """(conversation id, priority, seconds waited) of every conversation waiting past its target."""
    async with db.session() as session:
        rows = (
            await session.execute(
                select(
                    Conversation.id, Conversation.priority, Conversation.queued_at, Conversation.created_at
                )
                .where(Conversation.state == ConversationState.QUEUED.value)
                .order_by(Conversation.priority.desc(), Conversation.queued_at)
            )
        ).all()
    out = []
    for conv_id, priority, queued_at, created_at in rows:
        label = Priority(priority).label
        waited = now - (queued_at or created_at)
        if waited > options.wait_targets[label]:
            out.append((conv_id, label, waited.total_seconds()))
    return out


async def _write(
    session: AsyncSession, outbox: Outbox, options: ShiftOptions, item: tuple[str, str, float], number: int
) -> None:
    """The audit entry and the fan-out event of one reminder, in the transaction that records it."""
    conv_id, label, waited = item
    target = options.wait_targets[label].total_seconds()
    details = {
        "priority": label,
        "waiting_seconds": round(waited),
        "target_seconds": target,
        "number": number,
    }
    await repo.audit(session, "queue.wait_reminder", conversation_id=conv_id, details=details)
    payload = {
        "kind": WAIT_REMINDER,
        "conversation_id": conv_id,
        "priority": label,
        "waiting_seconds": round(waited, 1),
        "target_seconds": target,
        "critical": False,
    }
    await outbox.add(session, TOPIC_QUEUE, payload, conversation_id=conv_id)


async def _remind(
    db: Database, outbox: Outbox, options: ShiftOptions, item: tuple[str, str, float], now: datetime
) -> bool:
    """Record and send one reminder unless one was recorded less than a repeat interval ago (by this
    process or another): the first is an INSERT (unique per conversation), a later one a
    conditional UPDATE; the event commits with it."""
    conv_id, label, _ = item
    due_before = now - options.repeat(label)
    async with db.session() as session:
        taken = await session.execute(
            update(WaitReminder)
            .where(WaitReminder.conversation_id == conv_id, WaitReminder.reminded_at <= due_before)
            .values(reminded_at=now, count=WaitReminder.count + 1)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            count = await session.scalar(
                select(WaitReminder.count).where(WaitReminder.conversation_id == conv_id)
            )
            await _write(session, outbox, options, item, int(count or 1))
            return True
        if await session.get(WaitReminder, conv_id) is not None:
            return False
    try:
        async with db.session() as session:
            session.add(WaitReminder(conversation_id=conv_id, reminded_at=now, count=1))
            await session.flush()
            await _write(session, outbox, options, item, 1)
    except IntegrityError:
        return False  # another process recorded the first reminder
    return True


async def run_wait_reminders(db: Database, outbox: Outbox, options: ShiftOptions, now: datetime) -> list[str]:
    """Remind of every conversation waiting past its target (once per fleet); their ids."""
    reminded = [
        item[0] for item in await _overdue(db, options, now) if await _remind(db, outbox, options, item, now)
    ]
    if reminded:
        outbox.wake()
    return reminded
