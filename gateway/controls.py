"""A person's control signals through ingress: typing, paused, the end of a conversation, and the
receipt that a message was delivered, and a provider's delivery report (:mod:`gateway.channel`'s
``CONTROL_*``).

Typing changes nothing stored and is published directly, best effort; the end and a receipt are
stored with their events in one transaction (the outbox relay publishes them).
"""

from __future__ import annotations

from gateway.channel import (
    CONTROL_DELIVERED,
    CONTROL_DELIVERY_REPORT,
    CONTROL_END,
    CONTROL_PAUSED,
    CONTROL_TYPING,
    IngressResult,
)
from gateway.conversation import ConversationState, move
from gateway.envelope import ConversationId, Envelope, Priority, utcnow
from gateway.errors import InvalidInput
from gateway.outbox import Outbox, insert_rows
from gateway.store import repo
from gateway.store.db import Database
from gateway.store.models import Message
from gateway.store.repo import conversation_summary, delivery_detail
from gateway.writes import EventRows

S = ConversationState


class PersonControls:
    """What a control signal from the person does (called by :meth:`Pipeline.ingress`)."""

    def __init__(self, db: Database, outbox: Outbox, event_rows: EventRows) -> None:
        self.db = db
        self.outbox = outbox
        self.event_rows = event_rows

    async def _typing(self, envelope: Envelope, control: str) -> IngressResult:
        """A typing signal changes nothing stored: one read without a lock or a commit, then a
        live event, best effort."""
        async with self.db.reader() as session:
            conv = await repo.peek_open_conversation(
                session, envelope.channel, envelope.sender, envelope.conversation_id
            )
            if conv is None:
                raise InvalidInput("no open conversation")
            summary = conversation_summary(conv)
            result = IngressResult(
                conversation_id=ConversationId(conv.id),
                message_id=envelope.message_id,
                duplicate=False,
                priority=Priority(conv.priority),
                state=conv.state,
            )
        await self.event_rows.publish_conversation(
            "typing", summary, who="person", typing=control == CONTROL_TYPING, message_id=None
        )
        return result

    async def _report(self, envelope: Envelope) -> IngressResult:
        """A provider's report on one of our outgoing messages: ``delivered`` (kept over any
        other status) or ``failed`` (with its reason, shown to the counsellor, and audited).
        The conversation may be closed by now; the message and its channel identify it."""
        mid = str(envelope.meta.get("message_id", ""))
        status = envelope.meta.get("status")
        if status not in ("delivered", "failed"):
            raise InvalidInput(f"unknown delivery status {status!r}")
        async with self.db.session() as session:
            msg = await session.get(Message, mid) if mid else None
            if msg is None or msg.channel != envelope.channel or msg.direction != "out":
                raise InvalidInput("no such outgoing message")
            conv = await repo.get_conversation(session, msg.conversation_id)
            if status == "delivered":
                msg.delivery = "delivered"
                msg.delivered_at = utcnow()
            elif msg.delivery != "delivered":
                reason = str(envelope.meta.get("reason") or "")[:200]
                msg.delivery = "failed"
                msg.meta = {
                    **(msg.meta or {}),
                    "delivery_detail": {
                        **delivery_detail(msg.meta),
                        "error": reason,
                        "failure": "not_delivered",
                    },
                }
                await repo.audit(
                    session, "message.delivery_failed", conversation_id=conv.id, details={"message_id": mid}
                )
            summary = conversation_summary(conv)
            await insert_rows(
                session,
                [
                    self.event_rows.conv_row(
                        "delivery",
                        summary,
                        message_id=mid,
                        delivery=msg.delivery,
                        detail=delivery_detail(msg.meta),
                    )
                ],
            )
            result = IngressResult(
                conversation_id=ConversationId(conv.id),
                message_id=envelope.message_id,
                duplicate=False,
                priority=Priority(conv.priority),
                state=conv.state,
            )
        self.outbox.wake()
        return result

    async def control(self, envelope: Envelope, control: str) -> IngressResult:
        if control in (CONTROL_TYPING, CONTROL_PAUSED):
            return await self._typing(envelope, control)
        if control == CONTROL_DELIVERY_REPORT:
            return await self._report(envelope)
        async with self.db.session() as session:
            conv = await repo.find_open_conversation(
                session, envelope.channel, envelope.sender, envelope.conversation_id
            )
            if conv is None:
                raise InvalidInput("no open conversation")
            if control == CONTROL_END:
                if conv.priority >= Priority.CRITICAL and conv.first_assigned_at is None:
                    # A critical conversation is never closed without a counsellor having seen it.
                    conv.meta = {**(conv.meta or {}), "person_ended": True}
                    if conv.state == S.BOT.value:
                        move(conv, S.QUEUED)
                        conv.queued_at = utcnow()
                else:
                    move(conv, S.CLOSED)
                    conv.closed_at = utcnow()
                    conv.meta = {**(conv.meta or {}), "closed_by": "person"}
                    await repo.audit(session, "conversation.closed_by_person", conversation_id=conv.id)
            elif control == CONTROL_DELIVERED:
                mid = str(envelope.meta.get("message_id", ""))
                msg = await session.get(Message, mid)
                if msg is not None and msg.conversation_id == conv.id:
                    msg.delivery = "delivered"
                    msg.delivered_at = utcnow()
            elif control not in (CONTROL_TYPING, CONTROL_PAUSED):
                raise InvalidInput(f"unknown control {control!r}")
            summary = conversation_summary(conv)
            result = IngressResult(
                conversation_id=ConversationId(conv.id),
                message_id=envelope.message_id,
                duplicate=False,
                priority=Priority(conv.priority),
                state=conv.state,
            )
            if control in (CONTROL_END, CONTROL_DELIVERED):
                kind = "state" if control == CONTROL_END else "delivery"
                events = [
                    self.event_rows.conv_row(
                        kind, summary, who="person", typing=False, message_id=envelope.meta.get("message_id")
                    )
                ]
                if control == CONTROL_END:
                    events.append(
                        self.event_rows.queue_row(summary["id"], {"kind": "changed", "critical": False})
                    )
                await insert_rows(session, events)
        if control in (CONTROL_END, CONTROL_DELIVERED):
            self.outbox.wake()
        else:  # typing: nothing stored changed; live, best effort
            await self.event_rows.publish_conversation(
                "typing", summary, who="person", typing=control == CONTROL_TYPING, message_id=None
            )
        return result
