"""Ingress and egress: the one way every message takes through the gateway.

Ingress triages a message, then stores the conversation, the message, the encrypted contact
record and the bot's safe response in one transaction before it answers the adapter: from then on
the message cannot be lost.  The events it causes are written in the same transaction, to the
outbox (:mod:`gateway.outbox`), whose relay publishes them once the commit is done, until the broker
has them (typing, which changes nothing stored, is published directly, best effort):

* ``outbound.<channel>`` (consumer group ``egress``): an outgoing message to deliver;
* ``notify.<channel>`` (group ``egress``): an event the person should see (assigned, typing, closed);
* ``conversation`` (fan-out): every message, state change, typing and delivery of a conversation,
  for the console and for web chat sockets in every process;
* ``queue`` (fan-out): the queue changed; ``critical`` is true when a critical conversation arrived;
  kind ``critical_assigned`` when a conversation a counsellor holds turned critical (it alerts that
  counsellor and the supervisors, not everyone: nobody else can take it).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import case, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import queue, sending
from gateway.batch import Batcher
from gateway.broker.base import Broker, Event, Subscription
from gateway.channel import (
    CONTROL_DELIVERED,
    CONTROL_END,
    CONTROL_PAUSED,
    CONTROL_TYPING,
    ChannelAdapter,
    IngressResult,
)
from gateway.conversation import ConversationState, move, needs_counsellor
from gateway.crypto import ContactCipher
from gateway.deadletter import DeadLettered, DeadLetters, Unstorable, store_refusal
from gateway.envelope import (
    ConversationId,
    Direction,
    Envelope,
    MessageId,
    Priority,
    SenderKind,
    new_conversation_id,
    new_message_id,
    utcnow,
)
from gateway.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    RecipientUnreachable,
    StoreUnavailable,
)
from gateway.events import (
    CRITICAL_ASSIGNED,
    EGRESS_GROUP,
    TOPIC_CONVERSATION,
    TOPIC_QUEUE,
    ConversationEvent,
    NotifyEvent,
    OutboundEvent,
    QueueEvent,
    notify_topic,
    outbound_topic,
)
from gateway.keys_recognise import recognise_by_previous_keys
from gateway.outbox import Outbox, insert_rows
from gateway.store import action_keys, repo, rows
from gateway.store.db import Database
from gateway.store.models import Conversation, Message, StaffUser
from gateway.store.repo import conversation_summary
from nlu.answers import is_bare_answer, untriaged
from nlu.result import INTENT_PRIORITY, Triager, TriageResult

log = logging.getLogger(__name__)
S = ConversationState

INBOUND_ONLY_META = frozenset(
    {"full_text", "defects", "suppress_auto_reply", "auto_reason", "control", "size"}
)

CONTACT_CACHE_SIZE = 50_000
MARK_PATIENCE = 300.0
"""Seconds egress waits for the store to record what a channel did with a message it was handed
(the handler keeps its event meanwhile: failing it would send the message again)."""
STORE_AWAY = (StoreUnavailable, DBAPIError, OSError)

TRIAGE_FAILED_RESPONSE = {
    "sv": "Tack för ditt meddelande. En samtalsstödjare läser det så snart som möjligt. "
    "Om någon är i akut fara: ring 112 nu.",
    "en": "Thank you for your message. A counsellor will read it as soon as possible. "
    "If someone is in immediate danger: call 112 now.",
}


@dataclass(frozen=True, slots=True)
class _Incoming:
    """An incoming message, triaged, on its way into the store."""

    envelope: Envelope
    address: str
    triage: TriageResult
    check_duplicate: bool = False


@dataclass(frozen=True, slots=True)
class _Stored:
    """What a stored incoming message leaves for after the commit."""

    result: IngressResult
    summary: dict[str, Any]
    message: dict[str, Any] | None = None
    """None for a duplicate."""
    bot_message: dict[str, Any] | None = None
    queued_now: bool = False
    critical: bool = False
    contact_digest: bytes | None = None
    """Set when the contact record was written in this transaction."""


@dataclass(frozen=True, slots=True)
class _Reply:
    conversation_id: str
    text: str
    author: StaffUser
    claim: action_keys.ActionClaim | None = None
    """The idempotency key it is sent under: its answer is stored in the batch's transaction."""


class _Writes:
    """One batch's conversations, and the rows its transaction writes at the end (store.rows)."""

    __slots__ = ("before", "changed", "convs", "events", "messages")

    def __init__(self, convs: dict[str, rows.ConversationRow]) -> None:
        self.convs: dict[str, rows.ConversationRow] = {}
        self.before: dict[str, tuple[Any, ...]] = {}
        self.changed: dict[str, rows.ConversationRow] = {}
        self.messages: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        """Outbox rows (gateway.outbox), inserted with the messages."""
        for conv in convs.values():
            self.adopt(conv)

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
        await rows.insert_messages(session, self.messages)
        await rows.update_conversations(session, ((c, self.before[c.id]) for c in self.changed.values()))
        await insert_rows(session, self.events)
        for conv in self.changed.values():
            self.before[conv.id] = rows.snapshot(conv)
        self.messages, self.changed, self.events = [], {}, []


_Replied = tuple[dict[str, Any], dict[str, Any]]
"""A stored reply: the message and its conversation's summary."""


@dataclass(frozen=True, slots=True)
class PipelineLimits:
    max_message_chars: int = 4000


class Pipeline:
    def __init__(
        self,
        db: Database,
        broker: Broker,
        triager: Triager,
        cipher: ContactCipher,
        limits: PipelineLimits | None = None,
        event_channels: frozenset[str] = frozenset(),
        previous_pseudonym_keys: tuple[bytes, ...] = (),
        outbox: Outbox | None = None,
    ) -> None:
        self.db = db
        self.previous_pseudonym_keys = previous_pseudonym_keys
        """Pseudonym keys before a rotation: they still find a person's open conversation."""
        self.broker = broker
        self.outbox = outbox or Outbox(db, broker, f"pipeline-{os.urandom(6).hex()}")
        """Where the events of a change are written, in its transaction; its relay publishes them."""
        self.triager = triager
        self.cipher = cipher
        self.limits = limits or PipelineLimits()
        self.event_channels = event_channels
        """Channels whose adapter delivers from fan-out events (``delivers_by_events``)."""
        self.dead_letters = DeadLetters(db, cipher)
        self.send_lease = sending.SEND_LEASE
        self._contacts: OrderedDict[str, bytes] = OrderedDict()
        self._contact_key = os.urandom(32)
        # Messages and replies that arrive together are committed together (gateway.batch), one
        # batch of each kind at a time per process.  On SQLite one transaction runs at a time
        # anyway.  On PostgreSQL more batches at once were measured to be slower: each would
        # carry fewer messages, and the transactions' many small steps interleave on the event
        # loop (bench/relay.py at 250 round trips/s: p99 45-48 ms with one, 67-104 ms with two
        # to four).  Several processes still write at once, each with its own batches.
        self._incoming: Batcher[_Incoming, _Stored] = Batcher(
            "ingress", self._store_incoming, self._store_one_incoming
        )
        self._replies: Batcher[_Reply, _Replied] = Batcher(
            "reply", self._store_replies, self._store_one_reply
        )

    # ------------------------------------------------------------------ helpers
    def _new_delivery(self, channel: str) -> str:
        return "queued" if channel in self.event_channels else "pending"

    def _egress_rows(self, channel: str, message: Mapping[str, Any]) -> list[dict[str, Any]]:
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

    def _conv_row(self, kind: str, conv: Mapping[str, Any], **data: Any) -> dict[str, Any]:
        """The outbox row of a ``conversation`` fan-out event."""
        payload = cast(
            ConversationEvent,
            {"kind": kind, "conversation_id": conv["id"], "conversation": dict(conv), **data},
        )
        return self.outbox.row(TOPIC_CONVERSATION, payload, conversation_id=str(conv["id"]))

    def _queue_row(self, conv_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        event = cast(QueueEvent, {"conversation_id": conv_id, **payload})
        return self.outbox.row(TOPIC_QUEUE, event, conversation_id=conv_id)

    def _notify_row(self, summary: Mapping[str, Any], event: str, data: dict[str, Any]) -> dict[str, Any]:
        return self.outbox.row(
            notify_topic(summary["channel"]),
            NotifyEvent(
                conversation_id=summary["id"],
                event=event,
                data={"language": summary["language"], **data},
            ),
            conversation_id=str(summary["id"]),
        )

    def _contact_digest(self, address: str) -> bytes:
        return hashlib.blake2b(address.encode(), key=self._contact_key, digest_size=16).digest()

    def _contact_known(self, conversation_id: str, digest: bytes) -> bool:
        """True when this process stored or saw this very address for the conversation already.

        Saves reading and decrypting the contact record on every message.  Only a digest under a
        key that lives in this process's memory is kept, never the address.  Should another
        process have stored a different address since, the next message from a new address
        (which misses here) writes it again.
        """
        if self._contacts.get(conversation_id) == digest:
            self._contacts.move_to_end(conversation_id)
            return True
        return False

    def _contact_stored(self, conversation_id: str, digest: bytes) -> None:
        self._contacts[conversation_id] = digest
        self._contacts.move_to_end(conversation_id)
        while len(self._contacts) > CONTACT_CACHE_SIZE:
            self._contacts.popitem(last=False)

    # ------------------------------------------------------------------ ingress
    async def ingress(self, envelope: Envelope, address: str) -> IngressResult:
        """Take one incoming envelope; return once it is stored durably.

        A message that can never be stored is kept as a dead letter and refused with
        DeadLettered (an InvalidInput), so that its channel moves past it (gateway.deadletter)."""
        try:
            return await self._ingress(envelope, address)
        except Unstorable as exc:
            reason = exc.reason
        except Exception as exc:
            refusal = store_refusal(exc)
            if refusal is None:
                raise
            reason = refusal
        await self.dead_letters.keep(envelope, address, reason)
        raise DeadLettered(reason)

    async def _ingress(self, envelope: Envelope, address: str) -> IngressResult:
        if envelope.direction is not Direction.IN:
            raise InvalidInput("ingress takes incoming envelopes only")
        control = envelope.meta.get("control")
        if control:
            return await self._control(envelope, str(control))
        text = envelope.text.strip()
        if not text and not envelope.attachments:
            raise InvalidInput("empty message")
        if len(envelope.text) > self.limits.max_message_chars:
            raise Unstorable(f"message longer than {self.limits.max_message_chars} characters")

        # Triage runs before the transaction, so that no transaction waits for the model.  A
        # redelivered message is recognised by the unique (channel, external_id) of messages: the
        # first attempt inserts optimistically (most messages are new), a refused insert rolls the
        # whole transaction back and the second attempt finds the stored copy.
        hint = envelope.meta.get("language_hint")
        skip = self._untriaged_reason(envelope, text)
        triage = (
            untriaged(text, skip, str(hint) if hint else None) if skip else await self._triage(text, hint)
        )
        item = _Incoming(envelope, address, triage)
        try:
            stored = await self._incoming.submit(item)
        except IntegrityError:
            # The channel message is stored already (a redelivery, or the same message arriving
            # twice at once): the unique (channel, external_id) refused this copy.
            if not envelope.external_id:
                raise
            item = _Incoming(envelope, address, triage, check_duplicate=True)
            stored = await self._store_one_incoming(item)
        return await self._after_ingress(item, stored)

    async def _store_one_incoming(self, item: _Incoming) -> _Stored:
        return (await self._store_incoming([item]))[0]

    async def _store_incoming(self, items: Sequence[_Incoming]) -> list[_Stored]:
        """Store incoming messages in one transaction (a batch, or one alone)."""
        async with self.db.session() as session:
            # One statement locks every hinted conversation of the batch, in id order (on
            # PostgreSQL this also spares the advisory lock of find_open_conversation).
            hints = (str(i.envelope.conversation_id) for i in items if i.envelope.conversation_id)
            writes = _Writes(await rows.lock_conversations(session, hints))
            stored = [await self._store_in(session, item, writes) for item in items]
            await writes.write(session)
            # Queue positions count the other waiting conversations, this batch's changes included.
            for k, done in enumerate(stored):
                conv = writes.convs.get(done.result.conversation_id)
                if done.message is not None and conv is not None and conv.state == S.QUEUED.value:
                    position = await repo.queue_position(session, conv)
                    stored[k] = dataclasses.replace(
                        done, result=dataclasses.replace(done.result, queue_position=position)
                    )
        return stored

    async def _store_in(self, session: AsyncSession, item: _Incoming, writes: _Writes) -> _Stored:
        envelope, triage = item.envelope, item.triage
        if item.check_duplicate and envelope.external_id:
            dup = await repo.message_by_external_id(session, envelope.channel, envelope.external_id)
            if dup is not None:
                known = await repo.get_conversation(session, dup.conversation_id)
                result = IngressResult(
                    conversation_id=ConversationId(known.id),
                    message_id=MessageId(dup.id),
                    duplicate=True,
                    priority=Priority(known.priority),
                    state=known.state,
                    seq=dup.seq,
                )
                return _Stored(result, conversation_summary(known))
        now = utcnow()
        conv = writes.convs.get(str(envelope.conversation_id)) if envelope.conversation_id else None
        if conv is not None and not (
            conv.channel == envelope.channel
            and conv.pseudonym == envelope.sender
            and conv.state in repo.OPEN_STATES
        ):
            conv = None
        if conv is None:
            found = await repo.find_open_conversation(
                session, envelope.channel, envelope.sender, envelope.conversation_id
            )
            if found is None and self.previous_pseudonym_keys:
                found = await recognise_by_previous_keys(
                    session, self.previous_pseudonym_keys, envelope.channel, item.address, envelope.sender
                )
            if found is not None:
                # This batch's own copy, if it has one: it carries the batch's changes so far.
                conv = writes.adopt(rows.ConversationRow.of(found))
        created = conv is None
        if conv is None:
            conv = rows.ConversationRow(
                id=new_conversation_id(),
                channel=envelope.channel,
                pseudonym=envelope.sender,
                state=S.BOT.value,
                priority=int(triage.priority),
                intent=triage.intent,
                language=triage.language,
                created_at=now,
                queued_at=None,
                assigned_to=None,
                assigned_at=None,
                first_assigned_at=None,
                closed_at=None,
                last_message_at=now,
                message_count=0,
                unreachable=False,
                resume_code_hash=None,
                meta={},
            )
            await rows.insert_conversation(session, conv)
            writes.adopt(conv)
        previous_priority = Priority(conv.priority)
        stored_env = envelope.with_conversation(ConversationId(conv.id))
        msg = writes.add_message(conv, stored_env, triage=self._triage_record(triage))
        raised = triage.priority > previous_priority
        untriaged_msg = bool(triage.extra.get("untriaged"))
        if raised or created:
            conv.priority = int(max(triage.priority, previous_priority))
            conv.intent = triage.intent
        if triage.risk and (raised or created) and triage.priority >= Priority.HIGH:
            # Why the conversation jumped the queue, for the console (a new dict: the batch
            # writer compares it with the snapshot to know the column changed).
            conv.meta = {
                **(conv.meta or {}),
                "risk": {"type": triage.risk["type"], "reason": triage.risk["reason"]},
            }
        if (created or conv.message_count <= 2) and not untriaged_msg:
            conv.language = triage.language
        was_state = conv.state
        untriaged = bool(triage.extra.get("untriaged"))
        if (
            conv.state == S.BOT.value
            and not untriaged
            and needs_counsellor(triage.intent, int(triage.priority))
        ):
            move(conv, S.QUEUED)
            conv.queued_at = now
        digest = self._contact_digest(item.address)
        contact_known = not created and self._contact_known(conv.id, digest)
        if not contact_known:
            await repo.put_contact(session, self.cipher, conv.id, envelope.channel, item.address, new=created)

        send_safe = not envelope.meta.get("suppress_auto_reply") and (
            created
            or (raised and triage.priority >= Priority.HIGH)
            or (was_state == S.BOT.value and conv.state == S.QUEUED.value)
            or (conv.state == S.BOT.value)
        )
        bot_msg: dict[str, Any] | None = None
        if send_safe and triage.safe_response:
            bot_env = Envelope(
                message_id=new_message_id(),
                direction=Direction.OUT,
                channel=envelope.channel,
                sender=envelope.sender,
                text=triage.safe_response,
                conversation_id=ConversationId(conv.id),
                sender_kind=SenderKind.BOT,
                received_at=utcnow(),
                meta={"intent": triage.intent},
            )
            bot_msg = writes.add_message(conv, bot_env, delivery=self._new_delivery(envelope.channel))
        result = IngressResult(
            conversation_id=ConversationId(conv.id),
            message_id=MessageId(msg["id"]),
            duplicate=False,
            priority=Priority(conv.priority),
            state=conv.state,
            safe_response=None,
            seq=msg["seq"],
        )
        stored = _Stored(
            result,
            conversation_summary(conv),
            message=rows.message_data(msg),
            bot_message=rows.message_data(bot_msg) if bot_msg is not None else None,
            queued_now=was_state != conv.state or (raised and conv.state == S.QUEUED.value),
            critical=bool(raised or created) and triage.priority == Priority.CRITICAL,
            contact_digest=None if contact_known else digest,
        )
        writes.events.extend(self._ingress_events(item, stored))
        return stored

    def _ingress_events(self, item: _Incoming, stored: _Stored) -> list[dict[str, Any]]:
        """The outbox rows of a stored incoming message (written in its transaction)."""
        summary, bot_data = stored.summary, stored.bot_message
        assert stored.message is not None
        events = [self._conv_row("message", summary, message=stored.message)]
        if bot_data is not None:
            events.append(self._conv_row("message", summary, message=bot_data))
            events.extend(self._egress_rows(item.envelope.channel, bot_data))
        if stored.queued_now or summary["state"] == S.QUEUED.value:
            events.append(
                self._queue_row(
                    summary["id"],
                    {"kind": "changed", "critical": stored.critical, "priority": item.triage.priority.label},
                )
            )
        elif stored.critical and summary["state"] == S.ASSIGNED.value:
            events.append(
                self._queue_row(
                    summary["id"],
                    {
                        "kind": CRITICAL_ASSIGNED,
                        "critical": False,
                        "priority": Priority.CRITICAL.label,
                        "assigned_to": summary["assigned_to"],
                        "intent": summary["intent"],
                        "channel": summary["channel"],
                    },
                )
            )
        return events

    async def _after_ingress(self, item: _Incoming, stored: _Stored) -> IngressResult:
        """After the commit: remember the contact, wake the outbox relay, answer the adapter."""
        result, summary, bot_data = stored.result, stored.summary, stored.bot_message
        if stored.message is None:  # a duplicate: its events were written with it
            return result
        if stored.contact_digest is not None:
            self._contact_stored(summary["id"], stored.contact_digest)
        self.outbox.wake()
        if bot_data is None:
            return result
        return dataclasses.replace(
            result,
            safe_response=Envelope(
                message_id=MessageId(bot_data["id"]),
                direction=Direction.OUT,
                channel=item.envelope.channel,
                sender=item.envelope.sender,
                text=bot_data["text"],
                conversation_id=result.conversation_id,
                sender_kind=SenderKind.BOT,
            ),
        )

    @staticmethod
    def _untriaged_reason(envelope: Envelope, text: str) -> str | None:
        """Why a message is stored without triage: mail the channel recognised as automatic (an
        out-of-office reply is not a person's words), or a one-word answer ("ja", "nej", "ok"),
        which answers a question (a consent question, a counsellor's) and says nothing to
        triage.  Such a message never raises a priority, never opens a queued conversation and
        gets no automatic answer."""
        if envelope.meta.get("automatic"):
            return "automatic"
        if is_bare_answer(text):
            return "answer"
        return None

    async def _triage(self, text: str, hint: Any) -> TriageResult:
        try:
            return await self.triager.parse(text, str(hint) if hint else None)
        except Exception as exc:
            # Never lose or delay a message because triage failed: queue it high for a person.
            log.error("triage failed (%s); queued for a counsellor at high priority", type(exc).__name__)
            lang = str(hint) if hint in ("sv", "en") else "sv"
            return TriageResult(
                text=text,
                intent="human_request",
                confidence=0.0,
                language=lang,
                priority=Priority.HIGH,
                safe_response=TRIAGE_FAILED_RESPONSE[lang],
                matched_rules=("triage_error",),
                backend="none",
            )

    @staticmethod
    def _triage_record(t: TriageResult) -> dict[str, Any]:
        data = t.to_dict()
        data.pop("text", None)
        data["backend"] = t.backend
        data["model_version"] = t.model_version
        data["intent_priority"] = INTENT_PRIORITY.get(t.intent, Priority.NORMAL).label
        return data

    async def _publish_conversation(self, kind: str, conv: Mapping[str, Any], **data: Any) -> None:
        payload = cast(
            ConversationEvent,
            {"kind": kind, "conversation_id": conv["id"], "conversation": dict(conv), **data},
        )
        try:
            await self.broker.publish(TOPIC_CONVERSATION, dict(payload))
        except Exception as exc:  # live updates are best effort; the store has everything
            log.warning("could not publish %s event (%s)", kind, type(exc).__name__)

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
        await self._publish_conversation(
            "typing", summary, who="person", typing=control == CONTROL_TYPING, message_id=None
        )
        return result

    async def _control(self, envelope: Envelope, control: str) -> IngressResult:
        if control in (CONTROL_TYPING, CONTROL_PAUSED):
            return await self._typing(envelope, control)
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
                    self._conv_row(
                        kind, summary, who="person", typing=False, message_id=envelope.meta.get("message_id")
                    )
                ]
                if control == CONTROL_END:
                    events.append(self._queue_row(summary["id"], {"kind": "changed", "critical": False}))
                await insert_rows(session, events)
        if control in (CONTROL_END, CONTROL_DELIVERED):
            self.outbox.wake()
        else:  # typing: nothing stored changed; live, best effort
            await self._publish_conversation(
                "typing", summary, who="person", typing=control == CONTROL_TYPING, message_id=None
            )
        return result

    # ------------------------------------------------------------------ counsellor actions
    async def reply(self, conversation_id: str, text: str, author: StaffUser) -> dict[str, Any]:
        text = text.strip()
        if not text:
            raise InvalidInput("empty reply")
        if len(text) > self.limits.max_message_chars:
            raise InvalidInput(f"reply longer than {self.limits.max_message_chars} characters")
        claim = action_keys.claimed("reply")
        data, _summary = await self._replies.submit(_Reply(conversation_id, text, author, claim))
        self.outbox.wake()
        return data

    async def _store_one_reply(self, item: _Reply) -> _Replied:
        outcome = (await self._store_replies([item]))[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def _store_replies(self, items: Sequence[_Reply]) -> list[_Replied | BaseException]:
        """Store counsellors' replies in one transaction; a reply that is not allowed gets its error."""
        out: list[_Replied | BaseException] = []
        async with self.db.session() as session:
            writes = _Writes(await rows.lock_conversations(session, (i.conversation_id for i in items)))
            for item in items:
                conv = writes.convs.get(item.conversation_id)
                if conv is None:
                    out.append(NotFound(f"conversation {item.conversation_id} not found"))
                    continue
                if conv.state != S.ASSIGNED.value or conv.assigned_to != item.author.id:
                    out.append(Conflict("not_assigned_to_you"))
                    continue
                env = Envelope(
                    message_id=new_message_id(),
                    direction=Direction.OUT,
                    channel=conv.channel,
                    sender=conv.pseudonym,  # type: ignore[arg-type]
                    text=item.text,
                    conversation_id=ConversationId(conv.id),
                    sender_kind=SenderKind.COUNSELLOR,
                )
                msg = writes.add_message(
                    conv, env, author_id=item.author.id, delivery=self._new_delivery(conv.channel)
                )
                data, summary = rows.message_data(msg), conversation_summary(conv)
                if item.claim is not None:  # the answer commits with the reply
                    # A key taken over (ActionKeyLost) fails the batch: each is then stored alone.
                    await action_keys.record_for(session, item.claim, data)
                writes.events.append(self._conv_row("message", summary, message=data))
                writes.events.extend(self._egress_rows(conv.channel, data))
                out.append((data, summary))
            await writes.write(session)
        return out

    async def claim(self, conversation_id: str, user: StaffUser) -> None:
        async with self.db.session() as session:
            await queue.claim(session, conversation_id, user)
            await repo.audit(session, "conversation.claimed", actor=user, conversation_id=conversation_id)
            conv = await repo.get_conversation(session, conversation_id)
            summary = conversation_summary(conv)
            await self._state_events(
                session, summary, "assigned", {"counsellor": user.display_name or user.username}
            )
        self.outbox.wake()

    async def release(self, conversation_id: str, user: StaffUser, to_user: StaffUser | None = None) -> None:
        async with self.db.session() as session:
            await queue.release(session, conversation_id, user, to_user=to_user)
            await repo.audit(
                session,
                "conversation.transferred" if to_user else "conversation.released",
                actor=user,
                conversation_id=conversation_id,
                details={"to": to_user.username} if to_user else {},
            )
            if to_user is not None:  # the answer commits with the transfer
                await action_keys.record(session, "transfer", {"to": to_user.username})
            conv = await repo.get_conversation(session, conversation_id)
            await self._state_events(session, conversation_summary(conv), None, {})
        self.outbox.wake()

    async def close(self, conversation_id: str, user: StaffUser, reason: str = "") -> None:
        async with self.db.session() as session:
            conv = await repo.get_conversation(session, conversation_id, for_update=True)
            if conv.state not in (S.ASSIGNED.value, S.QUEUED.value, S.BOT.value):
                raise Conflict("not_open")
            if (
                conv.state == S.ASSIGNED.value
                and conv.assigned_to != user.id
                and user.role not in ("supervisor", "admin")
            ):
                raise Conflict("not_assigned_to_you")
            if conv.state != S.ASSIGNED.value and user.role not in ("supervisor", "admin"):
                raise Conflict("claim_first")
            move(conv, S.CLOSED)
            conv.closed_at = utcnow()
            conv.meta = {**(conv.meta or {}), "closed_by": user.username, "close_reason": reason[:200]}
            await repo.audit(session, "conversation.closed", actor=user, conversation_id=conversation_id)
            await self._state_events(session, conversation_summary(conv), "closed", {})
        self.outbox.wake()

    async def counsellor_typing(self, conversation_id: str, user: StaffUser, typing: bool = True) -> None:
        async with self.db.session() as session:
            conv = await repo.get_conversation(session, conversation_id)
            if conv.assigned_to != user.id:
                raise Conflict("not_assigned_to_you")
            summary = conversation_summary(conv)
        await self._publish_conversation("typing", summary, who="counsellor", typing=typing)
        if typing:
            notify = NotifyEvent(
                conversation_id=summary["id"], event="typing", data={"language": summary["language"]}
            )
            await self.broker.publish(notify_topic(summary["channel"]), dict(notify))

    async def _state_events(
        self, session: AsyncSession, summary: dict[str, Any], notify: str | None, data: dict[str, Any]
    ) -> None:
        """Write the events of a state change in its transaction (the caller wakes the outbox)."""
        # A critical conversation that goes back to the queue alerts every counsellor again.
        critical_waiting = (
            summary["state"] == S.QUEUED.value and summary["priority"] == Priority.CRITICAL.label
        )
        events = [
            self._conv_row("state", summary),
            self._queue_row(summary["id"], {"kind": "changed", "critical": critical_waiting}),
        ]
        if notify:
            events.append(self._notify_row(summary, notify, data))
        await insert_rows(session, events)

    # ------------------------------------------------------------------ egress
    async def start_egress(self, adapter: ChannelAdapter, consumer: str) -> list[Subscription]:
        """Consume outgoing messages and notifications of one channel in this process."""
        return [
            await self.broker.subscribe(
                outbound_topic(adapter.name), EGRESS_GROUP, self._make_sender(adapter), consumer=consumer
            ),
            await self.broker.subscribe(
                notify_topic(adapter.name), EGRESS_GROUP, self._make_notifier(adapter), consumer=consumer
            ),
        ]

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
        async with self.db.session() as session:
            if not await sending.claim(session, message_id, self.send_lease):
                return  # sent already, or another delivery holds it (retaken after its lease)
        try:
            status = await self._send_claimed(adapter, message_id)
        except BaseException:
            await sending.give_back(self.db, message_id)
            raise
        if status is not None:
            await self._mark_after_send(message_id, status, conv_unreachable=status == "unreachable")

    async def _send_claimed(self, adapter: ChannelAdapter, message_id: str) -> str | None:
        """Send a claimed message; its delivery status (None: the message is gone)."""
        async with self.db.session() as session:
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
        if address is None:
            return "unreachable"
        try:
            delivery = await adapter.send(envelope, address)  # TransientChannelError: redelivered
        except RecipientUnreachable:
            return "unreachable"
        return delivery.status.value

    async def _mark_after_send(self, message_id: str, status: str, *, conv_unreachable: bool = False) -> None:
        """Record what the channel did with a message it was handed, waiting for the store while
        it is away: a failure here would fail the handler, the broker would hand the event on and
        the message would be sent a second time."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + MARK_PATIENCE
        delay = 0.2
        while True:
            try:
                await self._mark_delivery(message_id, status, conv_unreachable=conv_unreachable)
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

    async def _mark_delivery(self, message_id: str, status: str, *, conv_unreachable: bool = False) -> None:
        async with self.db.session() as session:
            # One statement for the message: it keeps "delivered" (the person's own receipt may
            # have arrived first) and stamps delivered_at when the channel took it.
            values: dict[str, Any] = {
                "delivery": case((Message.delivery == "delivered", Message.delivery), else_=status),
                "sending_until": None,
            }
            if status in ("sent", "delivered"):
                values["delivered_at"] = utcnow()
            conv_id = (
                await session.execute(
                    update(Message)
                    .where(Message.id == message_id)
                    .values(**values)
                    .returning(Message.conversation_id)
                    .execution_options(synchronize_session=False)
                )
            ).scalar_one_or_none()
            if conv_id is None:
                return
            conv = await repo.get_conversation(session, conv_id)
            if conv_unreachable and not conv.unreachable:
                conv.unreachable = True
                await repo.audit(session, "conversation.unreachable", conversation_id=conv.id)
            row = self._conv_row(
                "delivery", conversation_summary(conv), message_id=message_id, delivery=status
            )
            await insert_rows(session, [row])
        self.outbox.wake()
