"""The counsellors' actions on a conversation: reply, claim, release and transfer, close, typing.

Replies that arrive together are stored together (:mod:`gateway.batch`), like incoming messages;
each action writes its events in its own transaction, to the outbox (:mod:`gateway.outbox`), and
wakes the relay after the commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from gateway import queue
from gateway.batch import Batcher, Stretch, overdue_for
from gateway.broker.base import Broker
from gateway.channel import shows_notifications
from gateway.conversation import ConversationState, move
from gateway.envelope import (
    ConversationId,
    Direction,
    Envelope,
    Priority,
    SenderKind,
    new_message_id,
    utcnow,
)
from gateway.errors import Conflict, InvalidInput, NotFound
from gateway.events import NotifyEvent, notify_topic
from gateway.outbox import Outbox, insert_rows
from gateway.outgoing import OutgoingMessages
from gateway.store import action_keys, repo, rows
from gateway.store.db import Database
from gateway.store.models import Conversation, StaffUser
from gateway.store.repo import conversation_summary
from gateway.writes import EventRows, PipelineLimits, Writes

if TYPE_CHECKING:
    from gateway.metrics import Metrics

S = ConversationState

T = TypeVar("T")
Then = Callable[[AsyncSession, Conversation], Awaitable[T]]
"""What a caller reads of the conversation an action changed, in the action's own transaction."""


@dataclass(frozen=True, slots=True)
class _Reply:
    conversation_id: str
    text: str
    author: StaffUser
    claim: action_keys.ActionClaim | None = None
    """The idempotency key it is sent under: its answer is stored in the batch's transaction."""


_Replied = tuple[dict[str, Any], dict[str, Any]]
"""A stored reply: the message and its conversation's summary."""


class StaffActions:
    """The counsellors' actions on conversations (``Pipeline.staff``)."""

    def __init__(
        self,
        db: Database,
        broker: Broker,
        outbox: Outbox,
        event_rows: EventRows,
        limits: PipelineLimits,
        metrics: Metrics | None = None,
    ) -> None:
        self.db = db
        self.metrics = metrics
        self.broker = broker
        self.outbox = outbox
        self.event_rows = event_rows
        self.limits = limits
        self.outgoing = OutgoingMessages(db, outbox, event_rows)
        """System messages to the person in an action's transaction (the transfer's notice)."""
        # One batch of replies at a time per process, even on PostgreSQL: side by side, the reply
        # POST's p99 in bench.deployed was no better (2.67-2.85 s against 2.64-2.74 s).
        self._replies: Batcher[_Reply, _Replied] = Batcher(
            "reply", self._store_replies, self._store_one_reply
        )

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
        first_answers: list[Any] = []  # when each conversation answered for the first time had begun waiting
        answered: list[tuple[action_keys.ActionClaim, Any]] = []
        async with self.db.session(overdue=overdue_for(self.db.turns)) as session:
            writes = Writes(await rows.lock_conversations(session, (i.conversation_id for i in items)))
            stretch = Stretch()
            for item in items:
                conv = writes.convs.get(item.conversation_id)
                if conv is None:
                    out.append(NotFound(f"conversation {item.conversation_id} not found"))
                    continue
                if conv.state != S.ASSIGNED.value or conv.assigned_to != item.author.id:
                    out.append(Conflict("not_assigned_to_you"))
                    continue
                if conv.channel == "phone":  # a call (handoff.phone): nothing to write to
                    out.append(Conflict("no_channel_to_write"))
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
                    conv, env, author_id=item.author.id, delivery=self.event_rows.new_delivery(conv.channel)
                )
                data, summary = rows.message_data(msg), conversation_summary(conv)
                if "first_answer_at" not in (conv.meta or {}):
                    # Kept in meta (a new dict: the batch writes changed columns only) so that the
                    # time to the first answer is measured once per conversation, across processes.
                    first_answers.append(conv.queued_at or conv.created_at)
                    conv.meta = {**(conv.meta or {}), "first_answer_at": msg["created_at"].isoformat()}
                if item.claim is not None:  # the key and its answer commit with the reply
                    answered.append((item.claim, data))
                writes.events.extend(self.event_rows.outgoing_rows(summary, data))
                out.append((data, summary))
                await stretch.pause()  # a long batch on SQLite must not stop the loop
            # A key taken (KeyTaken) or taken over (ActionKeyLost) fails the batch: each reply is
            # then stored alone, and the one whose key it was gets that error.
            await action_keys.record_all(session, answered)
            await writes.write(session)
        if self.metrics is not None:
            for waiting_since in first_answers:
                self.metrics.answered_first(waiting_since)
        return out

    async def claim(self, conversation_id: str, user: StaffUser, then: Then[T] | None = None) -> T | None:
        """Take a waiting conversation (:func:`gateway.queue.claim`).  ``then``: what the caller
        reads of it in the claim's own transaction (the console: the transcript its answer
        brings), whose result is returned; should it fail, so does the claim."""
        async with self.db.session() as session:
            conv = await queue.claim(session, conversation_id, user)
            await repo.audit(session, "conversation.claimed", actor=user, conversation_id=conversation_id)
            summary = conversation_summary(conv)
            await self._state_events(
                session, summary, "assigned", {"counsellor": user.display_name or user.username}
            )
            found = await then(session, conv) if then is not None else None
        self.outbox.wake()
        return found

    async def claim_next(
        self, user: StaffUser, prefer: Collection[str] = (), leave: Collection[str] = ()
    ) -> str:
        """Take the most urgent waiting conversation (gateway.queue.claim_next: ``prefer`` and
        ``leave`` order languages within a priority); its id."""
        async with self.db.session() as session:
            conversation_id = await queue.claim_next(session, user, prefer=prefer, leave=leave)
            await repo.audit(
                session,
                "conversation.claimed",
                actor=user,
                conversation_id=conversation_id,
                details={"via": "next"},
            )
            conv = await repo.get_conversation(session, conversation_id)
            await self._state_events(
                session,
                conversation_summary(conv),
                "assigned",
                {"counsellor": user.display_name or user.username},
            )
        self.outbox.wake()
        return conversation_id

    async def release(
        self,
        conversation_id: str,
        user: StaffUser,
        to_user: StaffUser | None = None,
        notice: str | None = None,
    ) -> None:
        """Give the conversation back to the queue, or to ``to_user`` (a transfer).  ``notice``: a
        system message to the person, stored and sent in the same transaction (the console passes
        "another counsellor takes over" in the person's language; the core names no words)."""
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
            if notice:  # after the state event: the console that gave it away hears only that
                await self.outgoing.write(session, conversation_id, notice)
        self.outbox.wake()

    async def close(
        self, conversation_id: str, user: StaffUser, reason: str = "", then: Then[T] | None = None
    ) -> T | None:
        """Close the conversation.  ``then``: what the caller reads of the closed conversation in
        the same transaction (the console: the panel's parts for documenting it), returned."""
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
            found = await then(session, conv) if then is not None else None
        self.outbox.wake()
        return found

    async def counsellor_typing(
        self,
        conversation_id: str,
        user: StaffUser,
        typing: bool = True,
        *,
        known: Mapping[str, Any] | None = None,
    ) -> None:
        """Nothing stored changes: live events from ``known`` (the conversation's summary as the
        console's feed last saw it, held by ``user``), else from :meth:`held_by`."""
        held = (
            await self.held_by(conversation_id, user)
            if known is None
            else _held(conversation_id, user, known)
        )
        summary = dict(held)
        await self.event_rows.publish_conversation("typing", summary, who="counsellor", typing=typing)
        if not shows_notifications(summary["channel"]):
            return
        # Stopping is told too: XMPP shows it as the ``paused`` chat state (XEP-0085); a channel
        # without such a state ignores the event.
        notify = NotifyEvent(
            conversation_id=summary["id"],
            event="typing" if typing else "paused",
            data={"language": summary["language"]},
        )
        await self.broker.publish(notify_topic(summary["channel"]), dict(notify))

    async def held_by(self, conversation_id: str, user: StaffUser) -> Mapping[str, Any]:
        """The conversation's summary from one read without a lock, if ``user`` holds it."""
        async with self.db.connection() as conn:
            conv = await rows.peek(conn, conversation_id)
        if conv is None:
            raise NotFound(f"conversation {conversation_id} not found")
        return _held(conversation_id, user, conversation_summary(conv))

    async def _state_events(
        self, session: AsyncSession, summary: dict[str, Any], notify: str | None, data: dict[str, Any]
    ) -> None:
        """Write the events of a state change in its transaction (the caller wakes the outbox)."""
        # A critical conversation that goes back to the queue alerts every counsellor again.
        critical_waiting = (
            summary["state"] == S.QUEUED.value and summary["priority"] == Priority.CRITICAL.label
        )
        events = [
            self.event_rows.conv_row("state", summary),
            self.event_rows.queue_row(summary["id"], {"kind": "changed", "critical": critical_waiting}),
        ]
        if notify and shows_notifications(summary["channel"]):
            events.append(self.event_rows.notify_row(summary, notify, data))
        await insert_rows(session, events)


def _held(conversation_id: str, user: StaffUser, known: Mapping[str, Any]) -> Mapping[str, Any]:
    if known["id"] != conversation_id:
        raise NotFound(f"conversation {conversation_id} not found")
    if known["assigned_to"] != user.id or known["state"] != S.ASSIGNED.value:
        raise Conflict("not_assigned_to_you")
    return known
