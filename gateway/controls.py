"""A person's control signals through ingress: typing, paused, the end of a conversation, and the
receipt that a message was delivered, and a provider's delivery report (:mod:`gateway.channel`'s
``CONTROL_*``).

Typing changes nothing stored and is published directly, best effort; the end is stored with its
events in one transaction (the outbox relay publishes them).  A receipt (the person's page saw a
message: web chat's ``seen``) comes once per message out, so it is the commonest signal after
typing: it is read without a lock, published directly like typing, and the receipts are written
together at most :data:`RECEIPT_FLUSH_SECONDS` later in one transaction (and when the process
stops), not one transaction and outbox row each.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import os
from collections import defaultdict
from typing import Any

from sqlalchemy import bindparam, update

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
from gateway.store import repo, rows
from gateway.store.db import Database
from gateway.store.models import Message
from gateway.store.repo import conversation_summary, delivery_detail
from gateway.tasks import cancel_and_wait
from gateway.writes import EventRows

log = logging.getLogger(__name__)

_RECEIPT = (
    update(rows.MESSAGES)
    .where(rows.MESSAGES.c.conversation_id == bindparam("conv"), rows.MESSAGES.c.id == bindparam("mid"))
    .values(delivery="delivered", delivered_at=bindparam("at"))
)

RECEIPT_FLUSH_SECONDS = 1.0
"""The longest a person's receipt waits before it is stored (with the others that came meanwhile)."""

PEEK_SECONDS = 30.0
"""How long a signal's read of its conversation serves the person's next signals: a typing person
sends one every few seconds and a receipt per message, and each was a read of its own (at 2 s
about 1.7 reads per round trip under the benchmark's load, issue #18).  A signal changes nothing
stored; the consoles route it by who holds the conversation as they know it and take from it only
the typing or the delivery (``handoff.console.live``), so an older summary misleads nobody.  Only
web chat's signals name their conversation (and so are remembered), and its socket passes none
after the close it was told of; the person's own end forgets the read at once."""
PEEKS_KEPT = 10_000

S = ConversationState


class PersonControls:
    """What a control signal from the person does (called by :meth:`Pipeline.ingress`)."""

    def __init__(self, db: Database, outbox: Outbox, event_rows: EventRows) -> None:
        self.db = db
        self.outbox = outbox
        self.event_rows = event_rows
        self._receipts: dict[str, set[str]] = defaultdict(set)
        """Message ids seen by their person, per conversation, not stored yet."""
        self._flush: asyncio.Task[None] | None = None
        self._peeked: dict[bytes, tuple[float, dict[str, Any], IngressResult]] = {}
        """A keyed digest of (channel, sender, conversation) -> until when, summary, answer."""
        self._peek_key = os.urandom(32)

    def _peek_digest(self, envelope: Envelope) -> bytes:
        # A digest, not the address: no raw channel address is kept outside the contact record.
        raw = f"{envelope.channel}\0{envelope.sender}\0{envelope.conversation_id or ''}".encode()
        return hashlib.blake2b(raw, key=self._peek_key, digest_size=16).digest()

    async def _peek(self, envelope: Envelope) -> tuple[dict[str, Any], IngressResult]:
        """The sender's open conversation, read without a lock or a commit (typing and receipts
        change nothing a lock guards), or as read for a signal of theirs in the last
        :data:`PEEK_SECONDS`: its summary for the live event, and the answer."""
        # Only for a signal that names its conversation (web chat's socket is bound to one): one
        # that names only its sender (XMPP) means the sender's newest open conversation, which a
        # message may have just replaced, and its receipt must be stored on that one.
        digest = self._peek_digest(envelope) if envelope.conversation_id else None
        now = asyncio.get_running_loop().time()
        known = self._peeked.get(digest) if digest is not None else None
        if known is not None and now < known[0]:
            return known[1], dataclasses.replace(known[2], message_id=envelope.message_id)
        async with self.db.connection() as conn:
            conv = await rows.peek_open(conn, envelope.channel, envelope.sender, envelope.conversation_id)
        if conv is None:
            if digest is not None:
                self._peeked.pop(digest, None)
            raise InvalidInput("no open conversation")
        summary = conversation_summary(conv)
        result = IngressResult(
            conversation_id=ConversationId(conv.id),
            message_id=envelope.message_id,
            duplicate=False,
            priority=Priority(conv.priority),
            state=conv.state,
        )
        if digest is not None:
            if len(self._peeked) >= PEEKS_KEPT:
                self._peeked = {k: v for k, v in self._peeked.items() if now < v[0]}
            self._peeked[digest] = (now + PEEK_SECONDS, summary, result)
        return summary, result

    async def _typing(self, envelope: Envelope, control: str) -> IngressResult:
        """A typing signal changes nothing stored: one read without a lock or a commit, then a
        live event, best effort."""
        summary, result = await self._peek(envelope)
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

    async def _receipt(self, envelope: Envelope) -> IngressResult:
        """The person saw a message: a read without a lock or a commit, a live event, and the
        receipt stored with the others within :data:`RECEIPT_FLUSH_SECONDS`."""
        summary, result = await self._peek(envelope)
        mid = str(envelope.meta.get("message_id", ""))
        self._receipts[result.conversation_id].add(mid)
        if self._flush is None or self._flush.done():
            self._flush = asyncio.create_task(self._flush_later(), name="receipts")
        await self.event_rows.publish_conversation(
            "delivery", summary, who="person", typing=False, message_id=mid, delivery="delivered"
        )
        return result

    async def _flush_later(self) -> None:
        await asyncio.sleep(RECEIPT_FLUSH_SECONDS)
        await self.store_receipts()

    async def store_receipts(self) -> None:
        """Store the receipts that came since the last time, in one transaction (kept for the
        next time if the store is away)."""
        receipts, self._receipts = self._receipts, defaultdict(set)
        if not receipts:
            return
        try:
            now = utcnow()
            # One executemany for all of them: a statement per conversation (a hundred a second
            # under load) ran on the loop in one stretch on SQLite, stalling every socket.
            params = [
                {"conv": conv_id, "mid": mid, "at": now}
                for conv_id, mids in receipts.items()
                for mid in sorted(mids)
            ]
            async with self.db.session() as session:
                await session.execute(_RECEIPT, params)
        except Exception as exc:
            log.warning("receipts not stored yet (%s); kept for the next time", type(exc).__name__)
            for conv_id, mids in receipts.items():
                self._receipts[conv_id] |= mids
            if self._flush is None or self._flush.done() or self._flush is asyncio.current_task():
                self._flush = asyncio.create_task(self._flush_later(), name="receipts")

    async def close(self) -> None:
        """The process stops: the receipts not stored yet are stored now."""
        flush, self._flush = self._flush, None
        if flush is not None and flush is not asyncio.current_task():
            await cancel_and_wait(flush)
        await self.store_receipts()
        flush, self._flush = self._flush, None  # a retry scheduled by a failure: not waited for
        await cancel_and_wait(flush)

    async def control(self, envelope: Envelope, control: str) -> IngressResult:
        if control in (CONTROL_TYPING, CONTROL_PAUSED):
            return await self._typing(envelope, control)
        if control == CONTROL_DELIVERY_REPORT:
            return await self._report(envelope)
        if control == CONTROL_DELIVERED:
            return await self._receipt(envelope)
        self._peeked.pop(self._peek_digest(envelope), None)  # the end changes what a signal finds
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
            else:
                raise InvalidInput(f"unknown control {control!r}")
            summary = conversation_summary(conv)
            result = IngressResult(
                conversation_id=ConversationId(conv.id),
                message_id=envelope.message_id,
                duplicate=False,
                priority=Priority(conv.priority),
                state=conv.state,
            )
            await insert_rows(
                session,
                [
                    self.event_rows.conv_row(
                        "state",
                        summary,
                        who="person",
                        typing=False,
                        message_id=envelope.meta.get("message_id"),
                    ),
                    self.event_rows.queue_row(summary["id"], {"kind": "changed", "critical": False}),
                ],
            )
        self.outbox.wake()
        return result
