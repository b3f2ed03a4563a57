"""Claims and releases of the counsellor queue: the conversation's changes between ``queued`` and
``assigned`` (the ordering of the queue, for the console, is :mod:`handoff.queue`).

A claim is one conditional UPDATE, so when two counsellors (in any processes) claim the same
conversation at once exactly one wins, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import and_, bindparam, case, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.conversation import ConversationState, move
from gateway.envelope import utcnow
from gateway.errors import Conflict, NotFound
from gateway.store.models import Conversation, StaffUser

S = ConversationState


# The claim's statements are built once, with bound parameters: built on every claim, SQLAlchemy's
# construction of them was about half of the claim's own CPU in a profile (issue #18).
_LOAD = (
    select(func.count())
    .select_from(Conversation)
    .where(Conversation.assigned_to == bindparam("claimer"), Conversation.state == S.ASSIGNED.value)
)
"""How many conversations the counsellor ``claimer`` holds."""
_HELD = _LOAD.scalar_subquery()
_CLAIMER_LOCK = (
    select(StaffUser.id).where(StaffUser.id == bindparam("claimer")).with_for_update(key_share=True)
)
_AT = Conversation.__table__.c.assigned_at.type
_CLAIM = (
    update(Conversation)
    .where(and_(Conversation.id == bindparam("conversation_id"), Conversation.state == S.QUEUED.value))
    .where(_HELD < bindparam("capacity"))
    .values(
        state=S.ASSIGNED.value,
        assigned_to=bindparam("claimer"),
        assigned_at=bindparam("claimed_at", type_=_AT),
        first_assigned_at=func.coalesce(Conversation.first_assigned_at, bindparam("claimed_at", type_=_AT)),
    )
    .returning(Conversation)
    .execution_options(synchronize_session=False, populate_existing=True)
)


async def load(session: AsyncSession, user_id: int) -> int:
    return int((await session.execute(_LOAD, {"claimer": user_id})).scalar_one())


async def _one_claim_at_a_time(session: AsyncSession, user: StaffUser) -> None:
    """Lock the claimer's row: on PostgreSQL two claims by one counsellor at once (two tabs, a double
    press) would otherwise both count the same load and together exceed the capacity.  (SQLite
    runs one writing transaction at a time.)

    ``FOR NO KEY UPDATE``, as everywhere a row is locked to change columns that are not its key: a
    row that names the counsellor (a reply's message, an idempotency key) holds a key-share lock on
    theirs until its transaction ends, which ``FOR UPDATE`` waits for and this does not.  Under load
    claims waited for the counsellor's replies being stored, and replies for the waiting claim
    (``pg_stat_activity`` sampled under ``bench.deployed``, issue #18)."""
    await session.execute(_CLAIMER_LOCK, {"claimer": user.id})


async def claim(session: AsyncSession, conversation_id: str, user: StaffUser) -> Conversation:
    """Take a waiting conversation; it as claimed (the UPDATE returns it).  Raises Conflict when
    someone else got it or capacity is full."""
    await _one_claim_at_a_time(session, user)
    values = {
        "conversation_id": conversation_id,
        "claimer": user.id,
        "capacity": user.capacity,
        "claimed_at": utcnow(),
    }
    claimed = (await session.scalars(_CLAIM, values)).one_or_none()
    if claimed is not None:
        return claimed
    conv = await session.get(Conversation, conversation_id)
    if conv is None:
        raise NotFound(f"conversation {conversation_id} not found")
    if conv.state != S.QUEUED.value:
        raise Conflict("already_claimed")
    raise Conflict("capacity_full")


NEXT_ATTEMPTS = 3


def _language_rank(prefer: Collection[str], leave: Collection[str]) -> Any:
    """0: a language the claimer speaks, 2: one a colleague on duty speaks instead, 1: any other."""
    whens = []
    if prefer:
        whens.append((Conversation.language.in_(sorted(prefer)), 0))
    if leave:
        whens.append((Conversation.language.in_(sorted(leave)), 2))
    return case(*whens, else_=1) if whens else literal(1)


async def claim_next(
    session: AsyncSession, user: StaffUser, *, prefer: Collection[str] = (), leave: Collection[str] = ()
) -> str:
    """Take the most urgent waiting conversation (priority, then waiting time): its id.

    Within one priority, a conversation in a language of ``prefer`` (those the claimer speaks) comes
    first and one in a language of ``leave`` (spoken by someone else on duty, not by the claimer)
    last; any other (a language nobody on duty speaks) keeps its place by waiting time.  Priority
    always comes first: language never holds back a more urgent conversation.

    One conditional UPDATE whose target is the head of the queue, chosen in the same statement, and
    which holds only while the capacity has room; on PostgreSQL the head is read ``FOR UPDATE SKIP
    LOCKED``, so two counsellors pressing at once take the first and the second conversation, not
    the same one (SQLite runs one writing transaction at a time).  Raises Conflict
    ``queue_empty`` or ``capacity_full``."""
    await _one_claim_at_a_time(session, user)
    now = utcnow()
    head = (
        select(Conversation.id)
        .where(Conversation.state == S.QUEUED.value)
        .order_by(
            Conversation.priority.desc(),
            _language_rank(prefer, leave),
            func.coalesce(Conversation.queued_at, Conversation.created_at).asc(),
            Conversation.id,
        )
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    for _ in range(NEXT_ATTEMPTS):
        result = await session.execute(
            update(Conversation)
            .where(Conversation.id == head, Conversation.state == S.QUEUED.value, _HELD < user.capacity)
            .values(
                state=S.ASSIGNED.value,
                assigned_to=user.id,
                assigned_at=now,
                first_assigned_at=func.coalesce(Conversation.first_assigned_at, now),
            )
            .returning(Conversation.id)
            .execution_options(synchronize_session=False),
            {"claimer": user.id},
        )
        taken = result.scalar_one_or_none()
        if taken is not None:
            return str(taken)
        if await load(session, user.id) >= user.capacity:
            raise Conflict("capacity_full")
        waiting = await session.execute(
            select(func.count()).select_from(Conversation).where(Conversation.state == S.QUEUED.value)
        )
        if not waiting.scalar_one():
            raise Conflict("queue_empty")
        # Every waiting one was being taken by someone else at that moment: look again.
    raise Conflict("queue_empty")


async def release(
    session: AsyncSession, conversation_id: str, user: StaffUser, *, to_user: StaffUser | None = None
) -> None:
    """Give an assigned conversation back to the queue, or transfer it to a colleague."""
    conv = await session.get(Conversation, conversation_id, with_for_update={"key_share": True})
    if conv is None:
        raise NotFound(f"conversation {conversation_id} not found")
    if conv.state != S.ASSIGNED.value or (
        conv.assigned_to != user.id and user.role not in ("supervisor", "admin")
    ):
        raise Conflict("not_assigned_to_you")
    now = utcnow()
    if to_user is None:
        move(conv, S.QUEUED)
        conv.assigned_to = None
        conv.assigned_at = None
        conv.queued_at = conv.queued_at or now
        return
    if to_user.role not in ("counsellor", "supervisor"):
        raise Conflict("recipient_not_counsellor")
    if await load(session, to_user.id) >= to_user.capacity:
        raise Conflict("capacity_full")
    move(conv, S.ASSIGNED)  # a transfer: assigned again, to someone else
    conv.assigned_to = to_user.id
    conv.assigned_at = now
