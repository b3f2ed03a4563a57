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
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, update
from sqlalchemy.ext.asyncio import AsyncSession

from .models import StaffActionKey

KEYS: Table = StaffActionKey.__table__  # type: ignore[assignment]
"""The table in Core: the hot statements on it skip the ORM's bulk-statement machinery."""


class ActionKeyLost(Exception):
    """The claim's lease ran out and a resend took the key over: this attempt must not commit."""


@dataclass(slots=True, eq=False)
class ActionClaim:
    """A claimed key: its row, the claim's holder token, and how the action's result is answered."""

    row_id: int
    holder: str
    action: str
    answer: Callable[[Any], tuple[int, Any]]
    """The action's result (what :func:`record` is given) as the handler's status and JSON body."""
    task: asyncio.Task[Any] | None = field(default_factory=asyncio.current_task, compare=False)
    """The request's task: a task it starts inherits :data:`CLAIM` but does not act under it."""
    recorded: int | None = field(default=None, compare=False)
    """The status :func:`record_for` wrote in the action's transaction (the last attempt's)."""


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
    ``session``'s transaction; nothing without such a claim (no key was sent).  Raises
    :class:`ActionKeyLost` when the claim is no longer this attempt's (roll back then)."""
    claim = claimed(action)
    if claim is not None:
        await record_for(session, claim, result)


async def record_for(session: AsyncSession, claim: ActionClaim, result: Any) -> None:
    """:func:`record` for a claim carried explicitly (to a task that stores for many callers)."""
    status, body = claim.answer(result)
    done = await session.execute(
        update(KEYS)
        .where(KEYS.c.id == claim.row_id, KEYS.c.holder == claim.holder, KEYS.c.status.is_(None))
        .values(status=status, body=json.dumps(body))
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise ActionKeyLost(f"idempotency key {claim.row_id} was taken over")
    claim.recorded = status
