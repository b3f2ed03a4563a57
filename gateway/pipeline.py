"""Ingress: the one way every message takes into the gateway, and the one writer of outgoing
messages (the bot's safe responses here, counsellors' replies in :mod:`gateway.staff`, system
messages such as a referral's consent question in :mod:`gateway.outgoing`; sending them is
:mod:`gateway.egress`).

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

import dataclasses
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import batch, triage_handoff
from gateway.batch import Batcher, Stretch
from gateway.broker.base import Broker
from gateway.channel import IngressResult
from gateway.controls import PersonControls
from gateway.conversation import ConversationState, move, needs_counsellor
from gateway.crypto import ContactCipher
from gateway.deadletter import DeadLettered, DeadLetters, Unstorable, store_refusal
from gateway.egress import Egress
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
from gateway.errors import InvalidInput
from gateway.events import CRITICAL_ASSIGNED
from gateway.keys_recognise import recognise_by_previous_keys
from gateway.metrics import Metrics
from gateway.outbox import Outbox
from gateway.outgoing import OutgoingMessages
from gateway.staff import StaffActions
from gateway.store import repo, rows
from gateway.store.db import Database
from gateway.store.repo import conversation_summary
from gateway.writes import ContactCache, EventRows, PipelineLimits, Writes
from nlu.answers import untriaged
from nlu.result import Triager, TriageResult

log = logging.getLogger(__name__)
S = ConversationState


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
        metrics: Metrics | None = None,
    ) -> None:
        self.db = db
        self.metrics = metrics
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
        self.event_rows = EventRows(self.outbox, broker, event_channels)
        self.controls = PersonControls(db, self.outbox, self.event_rows)
        self.staff = StaffActions(db, broker, self.outbox, self.event_rows, self.limits, metrics)
        """The counsellors' actions (gateway.staff)."""
        self.egress = Egress(db, broker, cipher, self.outbox, self.event_rows)
        """Sending on the channels (gateway.egress)."""
        self.outgoing = OutgoingMessages(db, self.outbox, self.event_rows)
        """System messages to the person, in a caller's transaction (gateway.outgoing)."""
        self.dead_letters = DeadLetters(db, cipher)
        self._contacts = ContactCache()
        # Messages that arrive together are committed together (gateway.batch).  On SQLite one
        # transaction runs at a time anyway.  On PostgreSQL up to three batches run side by side
        # (each sender's messages in their order), and a critical message beside them.  The two
        # benchmarks disagree on that: bench/relay.py (fake triage, counsellors in the process,
        # paced at 250 round trips/s) gives p99 77-93 ms with one batch at a time and 92-99 ms
        # with three, as in an earlier session (45-48 against 67-104 ms); bench.deployed (helpline
        # serve, 200 visitors and 20 page consoles, saturated) gives the message's ack p99
        # 2.3 s with one and 0.72 s with three, the batch in flight being the queue there.  The
        # deployed path is what people use.  Replies stay one batch at a time (gateway.staff).
        self._incoming: Batcher[_Incoming, _Stored] = Batcher(
            "ingress",
            self._store_incoming,
            self._store_one_incoming,
            side_lane=db.turns > 1,
            workers=batch.workers_for(db.turns),
            key=lambda item: (item.envelope.channel, item.envelope.sender),
        )

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
            return await self.controls.control(envelope, str(control))
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
        skip = triage_handoff.untriaged_reason(envelope, text)
        triage = (
            untriaged(text, skip, str(hint) if hint else None)
            if skip
            else await triage_handoff.triage(self.triager, text, hint, self.metrics)
        )
        item = _Incoming(envelope, address, triage)
        try:
            stored = await self._incoming.submit(item, urgent=triage.priority == Priority.CRITICAL)
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
        # A batch with a critical message goes before the store's other work (gateway.batch).
        async with self.db.session(urgent=batch.hurry(), overdue=batch.overdue_for(self.db.turns)) as session:
            # One statement locks every hinted conversation of the batch, in id order (on
            # PostgreSQL this also spares the advisory lock of find_open_conversation).
            hints = (str(i.envelope.conversation_id) for i in items if i.envelope.conversation_id)
            writes = Writes(await rows.lock_conversations(session, hints))
            stored = []
            stretch = Stretch()
            for item in items:
                stored.append(await self._store_in(session, item, writes))
                await stretch.pause()
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

    async def _store_in(self, session: AsyncSession, item: _Incoming, writes: Writes) -> _Stored:
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
                    language=known.language,
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
            # A conversation this batch opened for the person (an earlier message of theirs in
            # it) is not in the store yet: it is this batch's own.
            conv = writes.created_for(envelope.channel, envelope.sender)
            if conv is not None and conv.state not in repo.OPEN_STATES:
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
            writes.create(conv)
        previous_priority = Priority(conv.priority)
        stored_env = envelope.with_conversation(ConversationId(conv.id))
        msg = writes.add_message(conv, stored_env, triage=triage_handoff.triage_record(triage))
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
        digest = self._contacts.digest(item.address)
        contact_known = not created and self._contacts.known(conv.id, digest)
        if created:
            ciphertext = self.cipher.encrypt(item.address)
            writes.contacts.append(rows.contact_row(conv.id, envelope.channel, ciphertext, now))
        elif not contact_known and conv.id not in writes.created:  # the batch stores its contact
            await repo.put_contact(session, self.cipher, conv.id, envelope.channel, item.address)

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
            bot_msg = writes.add_message(
                conv, bot_env, delivery=self.event_rows.new_delivery(envelope.channel)
            )
        result = IngressResult(
            conversation_id=ConversationId(conv.id),
            message_id=MessageId(msg["id"]),
            duplicate=False,
            priority=Priority(conv.priority),
            state=conv.state,
            safe_response=None,
            seq=msg["seq"],
            language=conv.language,
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
        events = [self.event_rows.conv_row("message", summary, message=stored.message)]
        if bot_data is not None:
            events.extend(self.event_rows.outgoing_rows(summary, bot_data))
        if stored.queued_now or summary["state"] == S.QUEUED.value:
            events.append(
                self.event_rows.queue_row(
                    summary["id"],
                    {"kind": "changed", "critical": stored.critical, "priority": item.triage.priority.label},
                )
            )
        elif stored.critical and summary["state"] == S.ASSIGNED.value:
            events.append(
                self.event_rows.queue_row(
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
            self._contacts.stored(summary["id"], stored.contact_digest)
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
            safe_response_seq=bot_data["seq"],
        )
