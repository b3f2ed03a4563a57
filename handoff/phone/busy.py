"""On a call: the member is shown as ``on_call`` (busy) and gets no chat offers.

The console offers conversations only to an ``available`` member (:mod:`handoff.console.live`), so
an answered call turns an available member's status to ``on_call`` (``auto``: the gateway set it)
and its end turns it back to ``available``; a member on a break or away stays so.  Each change is
audited (``staff.status``, why ``call``) and published as the shift's ``staff_status`` event, in the
call's transaction.  ``phone.busy_on_call: false`` turns this off.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.envelope import utcnow
from gateway.events import TOPIC_QUEUE
from gateway.outbox import Outbox
from gateway.store import repo
from gateway.store.models import StaffUser
from handoff.shift.models import StaffPresence
from handoff.shift.options import AVAILABLE, ON_CALL
from handoff.shift.presence import STAFF_STATUS


async def _change(
    session: AsyncSession, outbox: Outbox, user: StaffUser, before: str, after: str, auto: bool
) -> bool:
    changed = await session.execute(
        update(StaffPresence)
        .where(StaffPresence.user_id == user.id, StaffPresence.status == before)
        .values(status=after, auto=auto, changed_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await repo.audit(
        session,
        "staff.status",
        details={"user": user.username, "from": before, "to": after, "auto": True, "why": "call"},
    )
    await outbox.add(
        session, TOPIC_QUEUE, {"kind": STAFF_STATUS, "user_id": user.id, "status": after, "auto": auto}
    )
    return True


async def call_started(session: AsyncSession, outbox: Outbox, user: StaffUser) -> bool:
    """An available member answered a call: on call."""
    return await _change(session, outbox, user, AVAILABLE, ON_CALL, True)


async def call_ended(session: AsyncSession, outbox: Outbox, user: StaffUser) -> bool:
    """The member's call ended: available again (if the call made them busy)."""
    return await _change(session, outbox, user, ON_CALL, AVAILABLE, False)


__all__ = ["ON_CALL", "call_ended", "call_started"]
