"""Repository functions over an open :class:`AsyncSession` (one transaction per caller)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import String, bindparam, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.crypto import ContactCipher
from gateway.envelope import ConversationId, Priority, utcnow
from gateway.errors import NotFound
from gateway.store import rows
from gateway.store.models import (
    AuditEvent,
    ContactRecord,
    Conversation,
    ConversationState,
    Message,
    StaffUser,
)

OPEN_STATES = rows.OPEN_STATES


# The statements read on almost every request and signal are built once, with bound parameters:
# SQLAlchemy then finds their compiled form without walking a new statement each time (building
# and keying statements showed as a few per cent of the gateway's CPU in profiles).
_CONVERSATION = select(Conversation).where(Conversation.id == bindparam("conversation_id"))
# FOR NO KEY UPDATE: nothing here changes a conversation's id, and a plain FOR UPDATE would wait
# for every transaction that is writing a row that names the conversation (gateway.queue).
_CONVERSATION_FOR_UPDATE = _CONVERSATION.with_for_update(key_share=True)
_PERSON_LOCK = select(func.pg_advisory_xact_lock(func.hashtext(bindparam("person", type_=String))))
_OPEN_OF_PERSON = (
    select(Conversation)
    .where(Conversation.channel == bindparam("channel"), Conversation.pseudonym == bindparam("pseudonym"))
    .where(Conversation.state.in_(OPEN_STATES))
)
_HINTED_OPEN = _OPEN_OF_PERSON.where(Conversation.id == bindparam("hint")).with_for_update(key_share=True)
_LATEST_OPEN = (
    _OPEN_OF_PERSON.order_by(Conversation.created_at.desc()).limit(1).with_for_update(key_share=True)
)
_AHEAD = (
    select(func.count())
    .select_from(Conversation)
    .where(Conversation.state == ConversationState.QUEUED.value)
    .where(
        (Conversation.priority > bindparam("priority"))
        | (
            (Conversation.priority == bindparam("priority"))
            & (Conversation.queued_at < bindparam("queued_at", type_=Conversation.__table__.c.queued_at.type))
        )
    )
)


async def get_conversation(
    session: AsyncSession, conversation_id: str, *, for_update: bool = False
) -> Conversation:
    stmt = _CONVERSATION_FOR_UPDATE if for_update else _CONVERSATION
    conv = (await session.execute(stmt, {"conversation_id": conversation_id})).scalar_one_or_none()
    if conv is None:
        raise NotFound(f"conversation {conversation_id} not found")
    return conv


async def find_open_conversation(
    session: AsyncSession, channel: str, pseudonym: str, hint: str | None = None
) -> Conversation | None:
    """The person's open conversation: the hinted one if it is theirs and open, else their latest open one.

    On PostgreSQL a transaction-scoped advisory lock on the pseudonym serialises the first messages
    of one person arriving in several processes at once, so that they open one conversation, not two.
    """
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(_PERSON_LOCK, {"person": f"{channel}:{pseudonym}"})
    whose = {"channel": channel, "pseudonym": pseudonym}
    if hint:
        conv = (await session.execute(_HINTED_OPEN, {**whose, "hint": hint})).scalar_one_or_none()
        if conv is not None:
            return conv
    return (await session.execute(_LATEST_OPEN, whose)).scalar_one_or_none()


async def message_by_external_id(session: AsyncSession, channel: str, external_id: str) -> Message | None:
    stmt = select(Message).where(Message.channel == channel, Message.external_id == external_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def messages_of(session: AsyncSession, conversation_id: str, after_seq: int = 0) -> Sequence[Message]:
    stmt = (
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.seq > after_seq)
        .order_by(Message.seq)
    )
    return (await session.execute(stmt)).scalars().all()


async def put_contact(
    session: AsyncSession,
    cipher: ContactCipher,
    conversation_id: str,
    channel: str,
    address: str,
    *,
    new: bool = False,
) -> None:
    """Store the person's address, encrypted; ``new``: the conversation was created in this transaction."""
    existing = None if new else await session.get(ContactRecord, conversation_id)
    if existing is not None:
        if cipher.decrypt(existing.ciphertext) != address:
            existing.ciphertext = cipher.encrypt(address)
        return
    session.add(
        ContactRecord(conversation_id=conversation_id, channel=channel, ciphertext=cipher.encrypt(address))
    )


async def get_contact(session: AsyncSession, cipher: ContactCipher, conversation_id: str) -> str | None:
    record = await session.get(ContactRecord, conversation_id)
    return None if record is None else cipher.decrypt(record.ciphertext)


_AUDIT = insert(AuditEvent.__table__)  # type: ignore[arg-type]


async def audit(
    session: AsyncSession,
    action: str,
    *,
    actor: StaffUser | None = None,
    conversation_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """One row of the audit log, in ``session``'s transaction.  A Core insert, executed at once:
    staff reads are audited on every request, and the ORM's unit of work cost more than the
    statement (nothing refers to the row afterwards)."""
    await session.execute(
        _AUDIT,
        {
            "at": utcnow(),
            "actor_id": actor.id if actor else None,
            "actor": actor.username if actor else "system",
            "action": action,
            "conversation_id": conversation_id,
            "details": details or {},
        },
    )


async def queue_position(session: AsyncSession, conv: Conversation | rows.ConversationRow) -> int | None:
    """1 for the head of the queue; None when the conversation is not waiting."""
    if conv.state != ConversationState.QUEUED.value or conv.queued_at is None:
        return None
    ahead = await session.execute(_AHEAD, {"priority": conv.priority, "queued_at": conv.queued_at})
    return int(ahead.scalar_one()) + 1


async def user_by_name(session: AsyncSession, username: str) -> StaffUser | None:
    return (
        await session.execute(select(StaffUser).where(StaffUser.username == username))
    ).scalar_one_or_none()


async def user_by_id(session: AsyncSession, user_id: int) -> StaffUser:
    user = await session.get(StaffUser, user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def message_dict(msg: Message) -> dict[str, Any]:
    """A message as live events, web chat resume and the console carry it."""
    return rows.message_data({key: getattr(msg, key) for key in rows.MESSAGE_DATA_KEYS})


def delivery_detail(meta: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a channel told of an outgoing message's delivery, kept in its ``meta``: SMS
    ``segments`` and ``encoding``, a failure's ``error`` (never an address)."""
    found = (meta or {}).get("delivery_detail")
    return dict(found) if isinstance(found, Mapping) else {}


def conversation_summary(conv: Conversation | rows.ConversationRow) -> dict[str, Any]:
    """The summary that goes with every conversation event."""
    return {
        "id": conv.id,
        "channel": conv.channel,
        "state": conv.state,
        "priority": Priority(conv.priority).label,
        "intent": conv.intent,
        "language": conv.language,
        "assigned_to": conv.assigned_to,
        "unreachable": conv.unreachable,
        # Why triage raised it (risk type and reason), when it did: never text or an address.
        "risk": (conv.meta or {}).get("risk"),
    }


def conversation_id_of(conv: Conversation) -> ConversationId:
    return ConversationId(conv.id)
