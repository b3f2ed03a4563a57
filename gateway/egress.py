"""Egress: sending a stored outgoing message on its channel, and the person's notifications.

One process's consumers of ``outbound.<channel>`` and ``notify.<channel>`` (group ``egress``).  A
message is sent only by the delivery that claims it (:mod:`gateway.sending`): claim, send, then
mark what the channel did with it, waiting for the store while it is away.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.exc import DBAPIError

from gateway import sending
from gateway.batch import overdue_for
from gateway.broker.base import Broker, Event, Subscription
from gateway.channel import ChannelAdapter, Delivery, DeliveryStatus, notifies
from gateway.crypto import ContactCipher
from gateway.envelope import ConversationId, Direction, Envelope, MessageId, SenderKind, utcnow
from gateway.errors import RecipientUnreachable, StoreUnavailable, TransientChannelError
from gateway.events import EGRESS_GROUP, notify_topic, outbound_topic
from gateway.outbox import Outbox, insert_rows
from gateway.store import repo
from gateway.store.db import Database
from gateway.store.models import Conversation, Message
from gateway.store.repo import conversation_summary
from gateway.writes import EventRows

log = logging.getLogger("gateway.pipeline")  # the name its records had before the split

INBOUND_ONLY_META = frozenset(
    {"full_text", "defects", "suppress_auto_reply", "auto_reason", "control", "size"}
)

MARK_PATIENCE = 300.0
"""Seconds egress waits for the store to record what a channel did with a message it was handed
(the handler keeps its event meanwhile: failing it would send the message again)."""
STORE_AWAY = (StoreUnavailable, DBAPIError, OSError)


def delivery_facts(delivery: Delivery) -> dict[str, Any]:
    """What the pipeline keeps of a channel's delivery on the message (``meta["delivery_detail"]``):
    the channel's facts (SMS segments), and why it failed when it did."""
    out: dict[str, Any] = dict(delivery.facts or {})
    if delivery.status in (DeliveryStatus.FAILED, DeliveryStatus.UNREACHABLE) and delivery.detail:
        out["error"] = delivery.detail[:200]
    return out


class Egress:
    """Sending on the channels in this process (``Pipeline.egress``)."""

    def __init__(
        self, db: Database, broker: Broker, cipher: ContactCipher, outbox: Outbox, event_rows: EventRows
    ) -> None:
        self.db = db
        self.broker = broker
        self.cipher = cipher
        self.outbox = outbox
        self.event_rows = event_rows
        self.send_lease = sending.SEND_LEASE

    async def start(self, adapter: ChannelAdapter, consumer: str) -> list[Subscription]:
        """Consume outgoing messages of one channel in this process, and its notifications where
        it shows them."""
        subs = [
            await self.broker.subscribe(
                outbound_topic(adapter.name), EGRESS_GROUP, self._make_sender(adapter), consumer=consumer
            )
        ]
        if notifies(type(adapter)):
            subs.append(
                await self.broker.subscribe(
                    notify_topic(adapter.name), EGRESS_GROUP, self._make_notifier(adapter), consumer=consumer
                )
            )
        return subs

    def _make_sender(self, adapter: ChannelAdapter) -> Any:
        async def handle(event: Event) -> None:
            await self.deliver(adapter, str(event.payload["message_id"]))

        return handle

    def _make_notifier(self, adapter: ChannelAdapter) -> Any:
        async def handle(event: Event) -> None:
            conv_id = str(event.payload["conversation_id"])
            async with self.db.session() as session:
                address = await repo.get_contact(session, self.cipher, conv_id)
            if address is None:
                return
            await adapter.notify(
                ConversationId(conv_id), address, str(event.payload["event"]), event.payload.get("data") or {}
            )

        return handle

    async def deliver(self, adapter: ChannelAdapter, message_id: str) -> None:
        """Send one stored outgoing message.  Transient failures raise, so the broker redelivers.

        Sent only by the delivery that claims it (gateway.sending): at most once per claim."""
        claimed = await self._claim(message_id)
        if claimed is None:
            return  # sent already, or another delivery holds it (retaken after its lease)
        try:
            status, detail = await self._send_claimed(adapter, *claimed)
        except BaseException:
            await sending.give_back(self.db, message_id)
            raise
        await self._mark_after_send(
            message_id, status, conv_unreachable=status == "unreachable", detail=detail
        )

    async def _claim(self, message_id: str) -> tuple[Envelope, str | None] | None:
        """Claim the message and read what to send, in one transaction (committed before the send):
        the message and the person's address, or None when it is not this delivery's to send.

        One turn at the store, not two: a reply waited for each behind the console's reads, and
        like the batch that stored it, this turn goes ahead of them once it is overdue."""
        async with self.db.session(overdue=overdue_for(self.db.turns)) as session:
            if not await sending.claim(session, message_id, self.send_lease):
                return None
            row = (
                await session.execute(
                    select(Message, Conversation)
                    .join(Conversation, Conversation.id == Message.conversation_id)
                    .where(Message.id == message_id)
                )
            ).one_or_none()
            if row is None:
                return None
            msg, conv = row
            address = await repo.get_contact(session, self.cipher, conv.id)
            # Thread the answer to the person's own last message, not to an auto-reply of theirs.
            recent_in = (
                (
                    await session.execute(
                        select(Message)
                        .where(Message.conversation_id == conv.id, Message.direction == Direction.IN.value)
                        .order_by(Message.seq.desc())
                        .limit(20)
                    )
                )
                .scalars()
                .all()
            )
            last_in = next((m for m in recent_in if not (m.meta or {}).get("suppress_auto_reply")), None) or (
                recent_in[0] if recent_in else None
            )
            envelope = Envelope(
                message_id=MessageId(msg.id),
                direction=Direction.OUT,
                channel=msg.channel,
                sender=conv.pseudonym,  # type: ignore[arg-type]
                text=msg.text,
                conversation_id=ConversationId(conv.id),
                sender_kind=SenderKind(msg.sender_kind),
                received_at=msg.created_at,
                # The adapter threads its answer with what it put on the person's last message
                # (e-mail: subject, reply_in_reply_to, reply_references); the full text stays out.
                meta={
                    **{
                        k: v
                        for k, v in (last_in.meta if last_in else {}).items()
                        if k not in INBOUND_ONLY_META
                    },
                    "seq": msg.seq,
                    "language": conv.language,
                    "inbound_external_id": last_in.external_id if last_in else None,
                },
            )
        return envelope, address

    async def _send_claimed(
        self, adapter: ChannelAdapter, envelope: Envelope, address: str | None
    ) -> tuple[str, dict[str, Any]]:
        """Send a claimed message: its delivery status and what the channel told of it."""
        if address is None:
            return "unreachable", {}
        try:
            # Cut off well within the claim's lease: a send still running when the lease lapsed
            # could cross another process's send of the same message.
            async with asyncio.timeout(self.send_lease / 2):
                delivery = await adapter.send(envelope, address)  # TransientChannelError: redelivered
        except RecipientUnreachable:
            return "unreachable", {}
        except TimeoutError:
            raise TransientChannelError(
                f"{adapter.name}: no answer within {self.send_lease / 2:.0f} s"
            ) from None
        return delivery.status.value, delivery_facts(delivery)

    async def _mark_after_send(
        self,
        message_id: str,
        status: str,
        *,
        conv_unreachable: bool = False,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Record what the channel did with a message it was handed, waiting for the store while
        it is away: a failure here would fail the handler, the broker would hand the event on and
        the message would be sent a second time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + MARK_PATIENCE
        delay = 0.2
        while True:
            try:
                await self._mark_delivery(
                    message_id, status, conv_unreachable=conv_unreachable, detail=detail
                )
                return
            except STORE_AWAY as exc:
                if loop.time() + delay > deadline:
                    raise
                log.warning(
                    "egress: a sent message's delivery not recorded (%s); retrying in %.1fs",
                    type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(5.0, delay * 2)

    async def _mark_delivery(
        self,
        message_id: str,
        status: str,
        *,
        conv_unreachable: bool = False,
        detail: dict[str, Any] | None = None,
    ) -> None:
        async with self.db.session() as session:
            if detail:
                msg = await session.get(Message, message_id)
                if msg is not None:
                    merged = {**repo.delivery_detail(msg.meta), **detail}
                    msg.meta = {**(msg.meta or {}), "delivery_detail": merged}
                    detail = merged
                    await session.flush()
            # One statement for the message: it keeps "delivered" and "failed" (the person's own
            # receipt, or a provider's delivery report, may have arrived while we were sending)
            # and stamps delivered_at when the channel took it.
            values: dict[str, Any] = {
                "delivery": case(
                    (Message.delivery.in_(("delivered", "failed")), Message.delivery), else_=status
                ),
                "sending_until": None,
            }
            if status in ("sent", "delivered"):
                values["delivered_at"] = utcnow()
            marked = (
                await session.execute(
                    update(Message)
                    .where(Message.id == message_id)
                    .values(**values)
                    .returning(Message.conversation_id, Message.delivery)
                    .execution_options(synchronize_session=False)
                )
            ).one_or_none()
            if marked is None:
                return
            conv_id, stored = marked
            status = stored or status
            conv = await repo.get_conversation(session, conv_id)
            if conv_unreachable and not conv.unreachable:
                conv.unreachable = True
                await repo.audit(session, "conversation.unreachable", conversation_id=conv.id)
            extra: dict[str, Any] = {"detail": detail} if detail else {}
            row = self.event_rows.conv_row(
                "delivery", conversation_summary(conv), message_id=message_id, delivery=status, **extra
            )
            await insert_rows(session, [row])
        self.outbox.wake()
