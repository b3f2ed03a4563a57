"""What each event of the phone system does to a call and its conversation.

A call is a conversation of channel ``phone`` with no messages; :class:`~.models.PhoneCall` holds its
times, who answered and how it ended.  The caller's number, unless withheld, is stored only as the
conversation's encrypted contact record (deleted under retention like every address) and its
keyed pseudonym; a withheld number is never stored.

The events fold into the call whatever their order, each (call id, event) once:

* ``ringing``: the call waits in the queue (state ``queued``);
* ``answered``: the call is assigned to the staff member whose extension answered (state
  ``assigned``; their console opens it) and, with ``phone.busy_on_call``, they are ``on_call``;
* ``ended`` / ``missed``: an answered call is closed for its answerer to document (their console
  opens the documentation form); an unanswered one is closed as ``missed`` (the phone system gave
  up) or ``abandoned`` (the caller hung up in the queue), or stays in the queue as ``callback``
  when the caller asked to be called back.

An event that comes late (``answered`` after ``ended``) completes the call's record but never
reopens a closed conversation.  A repeat of an event already taken changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.conversation import move
from gateway.crypto import ContactCipher
from gateway.envelope import Priority, new_conversation_id, pseudonymize, random_id
from gateway.outbox import Outbox, insert_rows
from gateway.store import repo
from gateway.store.db import Database
from gateway.store.models import Conversation, ConversationState, StaffUser
from gateway.writes import EventRows

from . import busy
from .models import PhoneCall, PhoneCallEvent
from .schemas import CallEventBody

S = ConversationState
CHANNEL = "phone"
PHONE_KIND = "phone"
"""Kind of the ``conversation`` event that tells the answerer's console to open the call or its form."""
ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Applied:
    conversation_id: str
    repeat: bool


def call_view(call: PhoneCall) -> dict[str, Any]:
    """What the console may know of a call: never the number."""
    return {
        "conversation_id": call.conversation_id,
        "outcome": call.outcome,
        "duration_seconds": call.duration_seconds,
        "manual": call.manual,
        "callback": call.callback,
        "withheld": call.withheld,
        "line": call.line,
        "answered_at": call.answered_at.isoformat() if call.answered_at else None,
        "ended_at": call.ended_at.isoformat() if call.ended_at else None,
    }


def outcome_of(call: PhoneCall, missed: bool) -> str | None:
    if call.ended_at is None:
        return None
    if call.answered_at is not None:
        return "answered"
    if call.callback:
        return "callback"
    return "missed" if missed else "abandoned"


def duration_of(call: PhoneCall) -> int | None:
    if call.answered_at is None or call.ended_at is None:
        return None
    return max(0, round((call.ended_at - call.answered_at).total_seconds()))


class PhoneCalls:
    """The calls of one gateway process (the events endpoint and the console use it)."""

    def __init__(
        self,
        db: Database,
        cipher: ContactCipher,
        pseudonym_key: bytes,
        event_rows: EventRows,
        outbox: Outbox,
        *,
        busy_on_call: bool = True,
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.pseudonym_key = pseudonym_key
        self.event_rows = event_rows
        self.outbox = outbox
        self.busy_on_call = busy_on_call

    # -- events of the phone system --------------------------------------------------------------

    async def apply(self, ev: CallEventBody) -> Applied:
        """Fold one event into its call (idempotent by call id and event)."""
        for attempt in range(ATTEMPTS):
            try:
                async with self.db.session() as session:
                    applied = await self._apply(session, ev)
                break
            except IntegrityError:  # the same call's first events at once: the loser tries again
                if attempt == ATTEMPTS - 1:
                    raise
        if not applied.repeat:
            self.outbox.wake()
        return applied

    async def _apply(self, session: AsyncSession, ev: CallEventBody) -> Applied:
        if await session.get(PhoneCallEvent, (ev.call_id, ev.event)) is not None:
            known = await session.get(PhoneCall, ev.call_id)
            return Applied(known.conversation_id if known else "", True)
        session.add(PhoneCallEvent(call_id=ev.call_id, event=ev.event, at=ev.time))
        call = await session.get(PhoneCall, ev.call_id, with_for_update=True)
        before: tuple[str, int | None] | None = None  # a new call joins the queue: a change
        if call is None:
            conv, call = await self._open(session, ev)
        else:
            conv = await repo.get_conversation(session, call.conversation_id, for_update=True)
            before = (conv.state, conv.assigned_to)
        answerer: StaffUser | None = None
        if ev.event == "ringing":
            call.ringing_at = ev.time
        elif ev.event == "answered":
            call.answered_at = ev.time
            call.extension = ev.extension
            answerer = await self._staff_at(session, ev.extension)
            call.answered_by = answerer.id if answerer else None
        else:
            call.ended_at = call.ended_at or ev.time
            call.callback = call.callback or ev.callback
        missed = ev.event == "missed" or call.outcome == "missed"
        call.outcome = outcome_of(call, missed)
        call.duration_seconds = duration_of(call)
        await self._settle(session, conv, call, answerer, ev.time)
        await repo.audit(
            session,
            f"phone.{ev.event}",
            conversation_id=conv.id,
            details={"line": ev.line, "extension": ev.extension or "", "outcome": call.outcome or ""},
        )
        summary = repo.conversation_summary(conv)
        rows = [self.event_rows.conv_row(PHONE_KIND, summary, phone={"event": ev.event, **call_view(call)})]
        if (conv.state, conv.assigned_to) != before:
            rows.append(self.event_rows.queue_row(conv.id, {"kind": "changed", "critical": False}))
        await insert_rows(session, rows)
        return Applied(conv.id, False)

    async def _open(self, session: AsyncSession, ev: CallEventBody) -> tuple[Conversation, PhoneCall]:
        number = ev.number
        # A withheld number is never stored: the call gets a pseudonym of its own.
        pseudonym = pseudonymize(self.pseudonym_key, CHANNEL, number or f"withheld:{random_id()}")
        conv = Conversation(
            id=new_conversation_id(),
            channel=CHANNEL,
            pseudonym=pseudonym,
            state=S.QUEUED.value,
            priority=int(Priority.NORMAL),
            language="sv",
            created_at=ev.time,
            queued_at=ev.time,
            last_message_at=ev.time,
            message_count=0,
            meta={"phone": True},
        )
        session.add(conv)
        await session.flush()
        call = PhoneCall(call_id=ev.call_id, conversation_id=conv.id, line=ev.line, withheld=number is None)
        session.add(call)
        if number is not None:
            await repo.put_contact(session, self.cipher, conv.id, CHANNEL, number, new=True)
        await session.flush()
        return conv, call

    async def _staff_at(self, session: AsyncSession, extension: str | None) -> StaffUser | None:
        if not extension:
            return None
        found = await session.execute(
            select(StaffUser).where(StaffUser.extension == extension, StaffUser.active.is_(True))
        )
        return found.scalar_one_or_none()

    async def _settle(
        self,
        session: AsyncSession,
        conv: Conversation,
        call: PhoneCall,
        answerer: StaffUser | None,
        at: datetime,
    ) -> None:
        """The conversation's state from what is known of the call."""
        if conv.state in (S.CLOSED.value, S.DOCUMENTED.value):
            if conv.assigned_to is None and call.answered_by is not None:
                conv.assigned_to = call.answered_by  # a late ``answered``: the answerer documents it
            return
        if call.ended_at is not None:
            if call.outcome == "callback":
                return  # waits in the queue (or with whoever took it) to be called back
            holder = call.answered_by or conv.assigned_to
            user = await session.get(StaffUser, holder) if holder else None
            move(conv, S.CLOSED)
            conv.assigned_to = holder
            conv.closed_at = call.ended_at
            conv.meta = {**(conv.meta or {}), "closed_by": user.username if user else "system"}
            if user is not None and self.busy_on_call:
                await busy.call_ended(session, self.outbox, user)
            return
        if answerer is not None:
            move(conv, S.ASSIGNED)
            conv.assigned_to = answerer.id
            conv.assigned_at = at
            conv.first_assigned_at = conv.first_assigned_at or at
            if self.busy_on_call:
                await busy.call_started(session, self.outbox, answerer)


__all__ = ["CHANNEL", "PHONE_KIND", "Applied", "PhoneCalls", "call_view", "duration_of", "outcome_of"]
