"""The claim on sending an outgoing message: it is sent at most once per claim, at least once.

Every delivery of a message (its ``outbound`` event, a redelivery, the outbox sweeper's event, in
any process) first claims the message in one conditional UPDATE: ``pending`` (or ``failed``, or a
``sending`` whose lease ran out) becomes ``sending`` with a lease, and only the delivery that
changed the row sends.  The sender then writes the outcome (``sent``, ``unreachable`` …), or gives
the claim back (``pending``) when the channel failed for now.  A claim whose holder died is taken
again after its lease: the sweeper (:mod:`gateway.outbox`) hands such messages to egress again.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.envelope import Direction, utcnow
from gateway.store.db import Database
from gateway.store.models import Message

SENDING = "sending"
DONE = ("sent", "delivered", "unreachable")
SEND_LEASE = 60.0
"""Seconds a claim holds (``broker.send_lease``); egress cuts a send off at half of it, so a claim
never lapses while its holder still sends, and a crashed holder's message waits at most this long."""


def lapsed(now: datetime) -> Any:
    """A ``sending`` claim whose holder did not finish within its lease."""
    return and_(
        Message.delivery == SENDING, or_(Message.sending_until.is_(None), Message.sending_until <= now)
    )


async def claim(session: AsyncSession, message_id: str, lease: float = SEND_LEASE) -> bool:
    """Claim an outgoing message for sending (in ``session``'s transaction, to commit before the
    send); False when it is sent already or another delivery holds it."""
    now = utcnow()
    result = await session.execute(
        update(Message)
        .where(Message.id == message_id, Message.direction == Direction.OUT.value)
        .where(or_(Message.delivery.is_(None), Message.delivery.notin_((*DONE, SENDING)), lapsed(now)))
        .values(delivery=SENDING, sending_until=now + timedelta(seconds=lease))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined,no-any-return]


async def give_back(db: Database, message_id: str) -> None:
    """The send failed for now: the message is ``pending`` again, for the broker's redelivery.
    Should the store be away too, the claim lapses after its lease and the sweeper retakes it."""
    with contextlib.suppress(Exception):
        async with db.session() as session:
            await session.execute(
                update(Message)
                .where(Message.id == message_id, Message.delivery == SENDING)
                .values(delivery="pending", sending_until=None)
                .execution_options(synchronize_session=False)
            )
