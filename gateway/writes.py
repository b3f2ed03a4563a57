"""What the pipeline writes with a change: a batch's rows, and the events of a change.

:class:`Writes` holds one batch's conversations and the message, conversation and outbox rows its
transaction writes at the end (:mod:`gateway.store.rows`).  :class:`EventRows` makes the outbox rows
of a change (:mod:`gateway.outbox`), written in the change's own transaction, and publishes the
live events that change nothing stored (typing), best effort.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.broker.base import Broker, DirectEvents
from gateway.envelope import Envelope
from gateway.events import (
    TOPIC_CONVERSATION,
    TOPIC_QUEUE,
    ConversationEvent,
    NotifyEvent,
    OutboundEvent,
    QueueEvent,
    notify_topic,
    outbound_topic,
)
from gateway.outbox import OUTBOX, Outbox, hand_on, insert_rows
from gateway.store import rows

log = logging.getLogger("gateway.pipeline")  # the name its records had before the split


@dataclass(frozen=True, slots=True)
class PipelineLimits:
    max_message_chars: int = 4000


class Writes:
    """One batch's conversations, and the rows its transaction writes at the end (store.rows)."""

    __slots__ = ("before", "changed", "contacts", "convs", "created", "events", "messages")

    def __init__(self, convs: dict[str, rows.ConversationRow]) -> None:
        self.convs: dict[str, rows.ConversationRow] = {}
        self.before: dict[str, tuple[Any, ...]] = {}
        self.changed: dict[str, rows.ConversationRow] = {}
        self.created: dict[str, rows.ConversationRow] = {}
        """Conversations the batch opens: inserted at the end as they stand then, with the rest
        (on PostgreSQL a round trip less for the conversation, and one for its contact)."""
        self.contacts: list[dict[str, Any]] = []
        """Contact records of the conversations the batch opens (``rows.contact_row``)."""
        self.messages: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        """Outbox rows (gateway.outbox), inserted with the messages."""
        for conv in convs.values():
            self.adopt(conv)

    def create(self, conv: rows.ConversationRow) -> rows.ConversationRow:
        """A conversation the batch opens: written when the batch is, not before.  Until then
        the store does not know it, so a later item of the same person finds it here
        (:meth:`created_for`), not by a query."""
        self.convs[conv.id] = self.created[conv.id] = conv
        return conv

    def created_for(self, channel: str, pseudonym: str) -> rows.ConversationRow | None:
        """The latest conversation this batch opened for the person, if any."""
        for conv in reversed(self.created.values()):
            if conv.channel == channel and conv.pseudonym == pseudonym:
                return conv
        return None

    def adopt(self, conv: rows.ConversationRow) -> rows.ConversationRow:
        """``conv`` as this batch knows it: the batch's own copy if it has one already."""
        known = self.convs.get(conv.id)
        if known is not None:
            return known
        self.convs[conv.id] = conv
        self.before[conv.id] = rows.snapshot(conv)
        return conv

    def add_message(self, conv: rows.ConversationRow, envelope: Envelope, **columns: Any) -> dict[str, Any]:
        """The message's row at the conversation's next position (the conversation is locked)."""
        conv.message_count += 1
        conv.last_message_at = envelope.received_at
        row = rows.message_row(envelope, conv.id, conv.message_count, **columns)
        self.messages.append(row)
        self.changed[conv.id] = conv
        return row

    async def write(self, session: AsyncSession) -> None:
        created = list(self.created.values())
        convs = [(c, self.before[c.id]) for c in self.changed.values() if c.id not in self.created]
        if (
            session.get_bind().dialect.name == "postgresql"
            and _uniform(self.messages)
            and _uniform(self.events)
            and _uniform(self.contacts)
        ):
            # One statement, one round trip (gateway.store.rows.write_together).
            inserts = (
                (rows.CONVERSATIONS, [conv.values() for conv in created]),
                (rows.CONTACTS, self.contacts),
                (OUTBOX, self.events),
            )
            await rows.write_together(session, self.messages, convs, inserts)
            hand_on(session, self.events)
        else:
            await rows.insert_conversations(session, created)
            await rows.insert_contacts(session, self.contacts)
            await rows.insert_messages(session, self.messages)
            await rows.update_conversations(session, convs)
            await insert_rows(session, self.events)
        for conv in [*self.changed.values(), *created]:
            self.before[conv.id] = rows.snapshot(conv)
        self.messages, self.changed, self.events, self.created, self.contacts = [], {}, [], {}, []


def _uniform(rows_of: list[dict[str, Any]]) -> bool:
    """Whether every row names the same columns in the same order (one array per column)."""
    return all(row.keys() == rows_of[0].keys() for row in rows_of[1:]) if rows_of else True


CONTACT_CACHE_SIZE = 50_000


class ContactCache:
    """Digests of the addresses this process stored or saw per conversation (the contact record
    needs writing only for an address not seen)."""

    def __init__(self) -> None:
        self._seen: OrderedDict[str, bytes] = OrderedDict()
        self._key = os.urandom(32)

    def digest(self, address: str) -> bytes:
        return hashlib.blake2b(address.encode(), key=self._key, digest_size=16).digest()

    def known(self, conversation_id: str, digest: bytes) -> bool:
        """True when this process stored or saw this very address for the conversation already.

        Saves reading and decrypting the contact record on every message.  Only a digest under a
        key that lives in this process's memory is kept, never the address.  Should another
        process have stored a different address since, the next message from a new address
        (which misses here) writes it again.
        """
        if self._seen.get(conversation_id) == digest:
            self._seen.move_to_end(conversation_id)
            return True
        return False

    def stored(self, conversation_id: str, digest: bytes) -> None:
        self._seen[conversation_id] = digest
        self._seen.move_to_end(conversation_id)
        while len(self._seen) > CONTACT_CACHE_SIZE:
            self._seen.popitem(last=False)


class EventRows:
    """The outbox rows of a change, and the live events published directly."""

    def __init__(self, outbox: Outbox, broker: Broker, event_channels: frozenset[str]) -> None:
        self.outbox = outbox
        self.broker = broker
        self.direct = DirectEvents(broker)
        """Typing and receipts, published together (:class:`DirectEvents`)."""
        self.event_channels = event_channels
        """Channels whose adapter delivers from fan-out events (``delivers_by_events``)."""

    def new_delivery(self, channel: str) -> str:
        return "queued" if channel in self.event_channels else "pending"

    def egress_rows(self, channel: str, message: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The outbox row that sends ``message`` (none for a channel that delivers by events)."""
        if channel in self.event_channels:
            return []
        return [
            self.outbox.row(
                outbound_topic(channel),
                OutboundEvent(message_id=message["id"]),
                conversation_id=str(message["conversation_id"]),
            )
        ]

    def outgoing_rows(self, summary: Mapping[str, Any], message: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The outbox rows of a stored outgoing message: the ``conversation`` fan-out event that
        shows it (and brings it to a web chat socket), and the egress event that sends it."""
        return [
            self.conv_row("message", summary, message=message),
            *self.egress_rows(str(summary["channel"]), message),
        ]

    def conv_row(self, kind: str, conv: Mapping[str, Any], **data: Any) -> dict[str, Any]:
        """The outbox row of a ``conversation`` fan-out event."""
        payload = cast(
            ConversationEvent,
            {"kind": kind, "conversation_id": conv["id"], "conversation": dict(conv), **data},
        )
        return self.outbox.row(TOPIC_CONVERSATION, payload, conversation_id=str(conv["id"]))

    def queue_row(self, conv_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        event = cast(QueueEvent, {"conversation_id": conv_id, **payload})
        return self.outbox.row(TOPIC_QUEUE, event, conversation_id=conv_id)

    def notify_row(self, summary: Mapping[str, Any], event: str, data: dict[str, Any]) -> dict[str, Any]:
        return self.outbox.row(
            notify_topic(summary["channel"]),
            NotifyEvent(
                conversation_id=summary["id"],
                event=event,
                data={"language": summary["language"], **data},
            ),
            conversation_id=str(summary["id"]),
        )

    async def publish_conversation(self, kind: str, conv: Mapping[str, Any], **data: Any) -> None:
        payload = cast(
            ConversationEvent,
            {"kind": kind, "conversation_id": conv["id"], "conversation": dict(conv), **data},
        )
        try:
            await self.direct.publish(TOPIC_CONVERSATION, dict(payload))
        except Exception as exc:  # live updates are best effort; the store has everything
            log.warning("could not publish %s event (%s)", kind, type(exc).__name__)
