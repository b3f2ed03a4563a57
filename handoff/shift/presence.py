"""Each staff member's status: available, break (``rast``) or away (``borta``).

* A change by the staff member themself (the console header) is ``auto = False``.
* The gateway sets ``away`` with ``auto = True`` after ``console.away_after_minutes`` without console
  activity (the page reports keyboard, mouse and touch input over its socket at most once a minute,
  and the socket's opening counts; a console left open that nobody touches is inactive too), and at
  logout; the next activity makes such a member available again.  A break or an away chosen by the
  member stays until they change it.
* Every change is audited (``staff.status``: from, to, auto, why) and published on the ``queue``
  fan-out as ``{"kind": "staff_status", "user_id", "status", "auto"}`` in its transaction, so every
  process's consoles (the member's own and the supervisors') hear of it.

Only available counsellors and supervisors are offered conversations and counted as on duty.
Changes are conditional UPDATEs on the row, so two processes never record one change twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.envelope import utcnow
from gateway.errors import InvalidInput
from gateway.events import TOPIC_QUEUE
from gateway.outbox import Outbox
from gateway.store import repo
from gateway.store.db import Database
from gateway.store.models import Role, StaffUser

from .models import StaffPresence
from .options import AVAILABLE, AWAY, ON_CALL, STATUSES

STAFF_STATUS = "staff_status"
ON_DUTY_ROLES = (Role.COUNSELLOR.value, Role.SUPERVISOR.value)
NO_ROW = (AWAY, True)
"""The status of a member with no row: away, set automatically (activity makes them available)."""


async def status_of(session: AsyncSession, user_id: int) -> tuple[str, bool]:
    row = await session.get(StaffPresence, user_id)
    return (row.status, row.auto) if row is not None else NO_ROW


async def statuses(session: AsyncSession, user_ids: Iterable[int]) -> dict[int, tuple[str, bool]]:
    ids = list(user_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(StaffPresence.user_id, StaffPresence.status, StaffPresence.auto).where(
            StaffPresence.user_id.in_(ids)
        )
    )
    found = {uid: (status, auto) for uid, status, auto in rows.all()}
    return {uid: found.get(uid, NO_ROW) for uid in ids}


async def on_duty(session: AsyncSession) -> int:
    """Active counsellors and supervisors whose status is available."""
    result = await session.execute(
        select(func.count())
        .select_from(StaffPresence)
        .join(StaffUser, StaffUser.id == StaffPresence.user_id)
        .where(
            StaffPresence.status == AVAILABLE,
            StaffUser.active.is_(True),
            StaffUser.role.in_(ON_DUTY_ROLES),
        )
    )
    return int(result.scalar_one())


async def _record(
    session: AsyncSession,
    outbox: Outbox,
    user: StaffUser,
    before: str,
    after: str,
    auto: bool,
    why: str,
    actor: StaffUser | None,
) -> None:
    await repo.audit(
        session,
        "staff.status",
        actor=actor,
        details={"user": user.username, "from": before, "to": after, "auto": auto, "why": why},
    )
    await outbox.add(
        session, TOPIC_QUEUE, {"kind": STAFF_STATUS, "user_id": user.id, "status": after, "auto": auto}
    )


async def _ensure_row(db: Database, user_id: int, now: datetime) -> None:
    """The member's row, made (as away, automatic) if missing; a racing insert is fine."""
    async with db.session() as session:
        if await session.get(StaffPresence, user_id) is not None:
            return
    try:
        async with db.session() as session:
            session.add(
                StaffPresence(user_id=user_id, status=AWAY, auto=True, changed_at=now, last_active_at=now)
            )
    except IntegrityError:
        pass  # another process made it


async def set_status(db: Database, outbox: Outbox, user: StaffUser, status: str) -> tuple[str, bool]:
    """The member's own choice (``auto`` false); audited and published when it changes anything."""
    if status not in STATUSES:
        raise InvalidInput("unknown_status")
    now = utcnow()
    await _ensure_row(db, user.id, now)
    async with db.session() as session:
        row = await session.get(StaffPresence, user.id, with_for_update=True)
        assert row is not None
        before, was_auto = row.status, row.auto
        row.last_active_at = now
        if before != status or was_auto:
            row.status, row.auto, row.changed_at = status, False, now
            if before != status:
                await _record(session, outbox, user, before, status, False, "chosen", user)
    outbox.wake()
    return status, False


async def activity(db: Database, outbox: Outbox, user: StaffUser) -> tuple[str, bool]:
    """The member used the console: remember when, and make an automatic away available again."""
    now = utcnow()
    await _ensure_row(db, user.id, now)
    async with db.session() as session:
        back = await session.execute(
            update(StaffPresence)
            .where(
                StaffPresence.user_id == user.id,
                StaffPresence.status == AWAY,
                StaffPresence.auto.is_(True),
            )
            .values(status=AVAILABLE, auto=False, changed_at=now, last_active_at=now)
            .execution_options(synchronize_session=False)
        )
        if back.rowcount == 1:  # type: ignore[attr-defined]
            await _record(session, outbox, user, AWAY, AVAILABLE, True, "activity", user)
        else:
            await session.execute(
                update(StaffPresence)
                .where(StaffPresence.user_id == user.id)
                .values(last_active_at=now)
                .execution_options(synchronize_session=False)
            )
        result = await status_of(session, user.id)
    if back.rowcount == 1:  # type: ignore[attr-defined]
        outbox.wake()
    return result


async def _set_away(
    db: Database,
    outbox: Outbox,
    user: StaffUser,
    why: str,
    inactive_since: datetime | None,
    before: str = AVAILABLE,
) -> bool:
    """Available (or ``before``) -> away (automatic), once across the fleet; ``inactive_since``:
    only if the member has not been active since."""
    now = utcnow()
    async with db.session() as session:
        stmt = update(StaffPresence).where(StaffPresence.user_id == user.id, StaffPresence.status == before)
        if inactive_since is not None:
            stmt = stmt.where(StaffPresence.last_active_at < inactive_since)
        done = await session.execute(
            stmt.values(status=AWAY, auto=True, changed_at=now).execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            return False
        await _record(session, outbox, user, before, AWAY, True, why, None)
    outbox.wake()
    return True


async def signed_out(db: Database, outbox: Outbox, user: StaffUser) -> bool:
    """At logout an available member, or one shown on a call (handoff.phone), becomes away
    (automatic: signing in again makes them available)."""
    if await _set_away(db, outbox, user, "logout", None):
        return True
    return await _set_away(db, outbox, user, "logout", None, before=ON_CALL)


async def sweep_inactive(db: Database, outbox: Outbox, away_after: timedelta, now: datetime) -> list[str]:
    """Set away every available member inactive for ``away_after``; their user names."""
    cutoff = now - away_after
    async with db.session() as session:
        users = (
            (
                await session.execute(
                    select(StaffUser)
                    .join(StaffPresence, StaffPresence.user_id == StaffUser.id)
                    .where(StaffPresence.status == AVAILABLE, StaffPresence.last_active_at < cutoff)
                )
            )
            .scalars()
            .all()
        )
    out = []
    for user in users:
        if await _set_away(db, outbox, user, "inactive", cutoff):
            out.append(user.username)
    return out
