"""System messages to the person of a conversation, stored with the events that show and send them
(outbox rows in the same transaction)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.broker.base import Broker
from gateway.envelope import ConversationId, Direction, Envelope, SenderKind, new_message_id, utcnow
from gateway.events import TOPIC_CONVERSATION
from gateway.outbox import Outbox, insert_rows, outbox_for
from gateway.store import repo
from gateway.store.db import Database
from gateway.store.models import Conversation
from gateway.store.repo import conversation_summary, message_dict


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A system message stored in a transaction, to be published once it committed."""

    channel: str
    summary: dict[str, Any]
    message: dict[str, Any]


async def add_system_message(
    session: AsyncSession, conv: Conversation, text: str, meta: Mapping[str, Any] | None = None
) -> Outgoing:
    """Store a system message to the person (delivery pending), like ``Pipeline.reply`` does."""
    env = Envelope(
        message_id=new_message_id(),
        direction=Direction.OUT,
        channel=conv.channel,
        sender=conv.pseudonym,  # type: ignore[arg-type]
        text=text,
        conversation_id=ConversationId(conv.id),
        sender_kind=SenderKind.SYSTEM,
        received_at=utcnow(),
        meta=dict(meta or {}),
    )
    msg = await repo.add_message(session, env, conv, delivery="pending")
    await session.flush()
    return Outgoing(conv.channel, conversation_summary(conv), message_dict(msg))


async def stage_outgoing(session: AsyncSession, outbox: Outbox, out: Outgoing) -> None:
    """In the transaction that stored the message: the events that show it in the console and
    hand it to the channel's egress (gateway.outbox; the caller wakes the outbox after the commit)."""
    conv_id = str(out.summary["id"])
    payload = {
        "kind": "message",
        "conversation_id": conv_id,
        "conversation": out.summary,
        "message": out.message,
    }
    await insert_rows(
        session,
        [
            outbox.row(TOPIC_CONVERSATION, payload, conversation_id=conv_id),
            outbox.row(f"outbound.{out.channel}", {"message_id": out.message["id"]}, conversation_id=conv_id),
        ],
    )


async def send_system_message(
    db: Database, broker: Broker, conversation_id: str, text: str
) -> dict[str, Any]:
    """Send a system message to the person of a conversation in their own channel."""
    outbox = outbox_for(db, broker)
    async with db.session() as session:
        conv = await repo.get_conversation(session, conversation_id)
        out = await add_system_message(session, conv, text)
        await stage_outgoing(session, outbox, out)
    outbox.wake()
    return out.message
