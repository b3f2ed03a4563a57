"""The answer of a staff action, stored under its idempotency key in the action's own transaction.

``handoff.console.idempotency`` claims a key (a row of ``staff_action_keys``) before the action
runs and puts the claim in :data:`CLAIM` while it runs.  The action, in the transaction that
creates its object, calls :func:`record` with what it created: that writes the answer to the key
row in the same commit.  So an action is committed together with its answer or not at all, and a
resend after the process died in between gets the answer instead of acting again.

The write is fenced: only the holder of the claim may record, and only once.  A claim whose lease
ran out and was taken over by a resend (``holder`` changed) makes :func:`record` raise
:class:`ActionKeyLost`, which rolls the late action back: the object is never created twice.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.envelope import utcnow

from .models import StaffActionKey

KEYS: Table = StaffActionKey.__table__  # type: ignore[assignment]
"""The table in Core: the hot statements on it skip the ORM's bulk-statement machinery."""
_INSERT_PG = pg_insert(KEYS).on_conflict_do_nothing(index_elements=["user_id", "key"]).returning(KEYS.c.id)
_INSERT_SQLITE = (
    sqlite_insert(KEYS).on_conflict_do_nothing(index_elements=["user_id", "key"]).returning(KEYS.c.id)
)


KEEP = timedelta(days=1)
"""How long a key's answer is kept for a resend."""
PURGE_EVERY = 60.0
"""Seconds between two purges of keys older than :data:`KEEP` in this process (not on every claim:
a purge per reply was a statement per round trip for rows that age by the day)."""
_last_purge = 0.0


async def purge_old(session: AsyncSession, now: datetime) -> None:
    """Delete the keys older than :data:`KEEP`, in ``session``'s transaction, when one is due."""
    global _last_purge
    at = time.monotonic()
    if at - _last_purge < PURGE_EVERY:
        return
    _last_purge = at
    await session.execute(delete(KEYS).where(KEYS.c.created_at < now - KEEP))


class ActionKeyLost(Exception):
    """The claim's lease ran out and a resend took the key over: this attempt must not commit."""


class KeyTaken(Exception):
    """A key claimed in the action's transaction (:func:`record_all`) is already in the store: an
    earlier attempt with it committed (or is committing), so this one does not act."""


@dataclass(frozen=True, slots=True)
class KeyRow:
    """A key's row as :func:`record_all` inserts it."""

    user_id: int
    key: str
    request_hash: str
    conversation_id: str | None


@dataclass(slots=True, eq=False)
class ActionClaim:
    """A claimed key: its row, the claim's holder token, and how the action's result is answered."""

    row_id: int
    """The key's row; 0 for a key claimed in the action's own transaction (``here``), whose row
    is addressed by its user and key, never by id."""
    holder: str
    action: str
    answer: Callable[[Any], tuple[int, Any]]
    """The action's result (what :func:`record` is given) as the handler's status and JSON body."""
    task: asyncio.Task[Any] | None = field(default_factory=asyncio.current_task, compare=False)
    """The request's task: a task it starts inherits :data:`CLAIM` but does not act under it."""
    recorded: int | None = field(default=None, compare=False)
    """The status :func:`record_for` wrote in the action's transaction (the last attempt's)."""
    here: KeyRow | None = None
    """Set for a key not claimed yet, to be claimed in the action's own transaction
    (:func:`record_all`): the row to insert."""


CLAIM: ContextVar[ActionClaim | None] = ContextVar("staff_action_claim", default=None)
"""The claim of the staff action running in this task (set by ``handoff.console.idempotency``)."""


def claimed(action: str) -> ActionClaim | None:
    """The running claim if it is one of ``action`` (an action stored by another task carries it)."""
    claim = CLAIM.get()
    if claim is None or claim.action != action or claim.task is not asyncio.current_task():
        return None
    return claim


async def record(session: AsyncSession, action: str, result: Any) -> None:
    """Store the answer to ``result`` on the key claimed for ``action`` in this task, in
    ``session``'s transaction; nothing without such a claim (no key was sent).  A key not claimed
    yet (``here``) is inserted with its answer, as :func:`record_all` does.  Raises
    :class:`ActionKeyLost` when the claim is no longer this attempt's, :class:`KeyTaken` when the
    key is in the store already (roll back then)."""
    claim = claimed(action)
    if claim is None:
        return
    if claim.here is not None:  # not claimed yet: claimed here, with its answer
        await record_all(session, [(claim, result)])
    else:
        await record_for(session, claim, result)


async def record_all(session: AsyncSession, answered: Sequence[tuple[ActionClaim, Any]]) -> None:
    """:func:`record_for` for each (claim, result) of a batch, in ``session``'s transaction.  The
    keys not claimed yet (``here``) are inserted with their answers, in one statement for them all.

    One statement in the action's transaction instead of a transaction of its own before it: on
    SQLite that was a second wait for the store's turn per reply, and on PostgreSQL a statement
    per reply would be a round trip each inside the batch.  Nothing to lease: the key commits
    with the action and its answer or not at all.  When a key is already in the store (a resend
    of an action that committed, or is committing: on PostgreSQL the insert waits on the unique
    index for it) this raises :class:`KeyTaken`: the transaction rolls back, the batch's items
    are stored one by one, and the one whose key was taken is answered from the store."""
    here = [(claim, result) for claim, result in answered if claim.here is not None]
    for claim, result in answered:
        if claim.here is None:
            await record_for(session, claim, result)
    if not here:
        return
    now = utcnow()
    await purge_old(session, now)
    rows = []
    for claim, result in here:
        status, body = claim.answer(result)
        row = claim.here
        assert row is not None
        rows.append(
            {
                "user_id": row.user_id,
                "key": row.key,
                "action": claim.action,
                "request_hash": row.request_hash,
                "conversation_id": row.conversation_id,
                "created_at": now,
                "holder": claim.holder,
                "status": status,
                "body": json.dumps(body),
            }
        )
        claim.recorded = status
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    # Parameters beside the statement, not in it (``values(rows)``): SQLAlchemy never caches a
    # multi-row VALUES, and compiled this statement anew for every staff action. Executed with
    # a list it is compiled once and still sent as one INSERT (its "insertmanyvalues").
    insert = _INSERT_PG if dialect == "postgresql" else _INSERT_SQLITE
    inserted = (await session.execute(insert, rows)).all()
    if len(inserted) != len(rows):
        raise KeyTaken(f"{len(rows) - len(inserted)} of {len(rows)} keys are in the store already")


async def record_for(session: AsyncSession, claim: ActionClaim, result: Any) -> None:
    """:func:`record` for a claim carried explicitly (to a task that stores for many callers)."""
    status, body = claim.answer(result)
    done = await session.execute(
        update(KEYS)
        .where(
            KEYS.c.id == claim.row_id,
            KEYS.c.holder == claim.holder,
            KEYS.c.status.is_(None),
        )
        .values(status=status, body=json.dumps(body))
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise ActionKeyLost(f"idempotency key {claim.row_id} was taken over")
    claim.recorded = status
