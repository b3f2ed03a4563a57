"""The pipeline's writer of one outgoing message outside a batch: a system message to the person
(a referral's consent question, its thanks), written in the caller's own transaction so that the
message and the change it belongs to (the referral's new status) commit together or not at all.

It writes exactly what the batches write for the bot's safe responses and the counsellors'
replies (:mod:`gateway.pipeline`, :mod:`gateway.staff`): the message at the conversation's next
``seq`` from the locked conversation row (:class:`gateway.writes.Writes`), stored ``queued`` on a
channel that delivers by events (web chat) and ``pending`` on the others, with the same outbox
rows (the ``conversation`` fan-out event, and ``outbound.<channel>`` for egress).  Egress threads
it to the person's last own message like any other (e-mail: ``In-Reply-To``, ``References``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from gateway.envelope import ConversationId, Direction, Envelope, SenderKind, new_message_id, utcnow
from gateway.errors import NotFound
from gateway.outbox import Outbox
from gateway.store import rows
from gateway.store.db import Database
from gateway.store.models import Conversation
from gateway.store.repo import conversation_summary
from gateway.writes import EventRows, Writes


@dataclass(frozen=True, slots=True)
class Written:
    """An outgoing message stored in a transaction (its events go out once that commits)."""

    message: dict[str, Any]
    """The message as events carry it (``gateway.store.rows.message_data``)."""
    summary: dict[str, Any]
    """Its conversation's summary after the message."""

    @property
    def id(self) -> str:
        return str(self.message["id"])

    @property
    def seq(self) -> int:
        return int(self.message["seq"])


class OutgoingMessages:
    """System messages to the person (``Pipeline.outgoing``)."""

    def __init__(self, db: Database, outbox: Outbox, event_rows: EventRows) -> None:
        self.db = db
        self.outbox = outbox
        self.event_rows = event_rows

    async def write(
        self,
        session: AsyncSession,
        conversation_id: str,
        text: str,
        *,
        meta: Mapping[str, Any] | None = None,
    ) -> Written:
        """Store a system message to the person in ``session``'s transaction, with its events.

        The caller commits, then calls :meth:`committed` (or ``Pipeline.outbox.wake``)."""
        writes = Writes(await rows.lock_conversations(session, [conversation_id]))
        conv = writes.convs.get(conversation_id)
        if conv is None:
            raise NotFound(f"conversation {conversation_id} not found")
        envelope = Envelope(
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
        row = writes.add_message(conv, envelope, delivery=self.event_rows.new_delivery(conv.channel))
        data, summary = rows.message_data(row), conversation_summary(conv)
        writes.events.extend(self.event_rows.outgoing_rows(summary, data))
        await writes.write(session)
        _keep_in_step(session, conv)
        return Written(data, summary)

    def committed(self) -> None:
        """After the commit of :meth:`write`: publish its events now."""
        self.outbox.wake()

    async def send(
        self, conversation_id: str, text: str, *, meta: Mapping[str, Any] | None = None
    ) -> Written:
        """Store a system message to the person in a transaction of its own, and send it."""
        async with self.db.session() as session:
            written = await self.write(session, conversation_id, text, meta=meta)
        self.committed()
        return written


def _keep_in_step(session: AsyncSession, conv: rows.ConversationRow) -> None:
    """The caller may hold the conversation as an ORM object of the same session (it read it
    before): give that object the count and time just written, as the store has them now."""
    found = session.identity_map.get(identity_key(Conversation, conv.id))
    if isinstance(found, Conversation):
        set_committed_value(found, "message_count", conv.message_count)
        set_committed_value(found, "last_message_at", conv.last_message_at)
