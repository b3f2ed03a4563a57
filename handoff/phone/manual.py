"""Calls logged by hand ("Registrera samtal"), for phone systems that send nothing, and the one
read of a caller's number: for a callback, by the counsellor who holds the call, audited."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.conversation import move
from gateway.envelope import Priority, new_conversation_id, pseudonymize, random_id, utcnow
from gateway.errors import Conflict, NotFound, PermissionDenied
from gateway.outbox import insert_rows
from gateway.store import repo
from gateway.store.models import Conversation, ConversationState, StaffUser

from . import busy
from .calls import CHANNEL, PHONE_KIND, PhoneCalls, call_view, duration_of
from .models import PhoneCall

S = ConversationState


async def log_call(calls: PhoneCalls, user: StaffUser, duration_seconds: int | None) -> PhoneCall:
    """A call the counsellor is on now (no duration: stopped later with :func:`stop_call`), or one
    that is over (``duration_seconds``): then it is closed, ready to document."""
    now = utcnow()
    started = now - timedelta(seconds=duration_seconds or 0)
    async with calls.db.session() as session:
        conv = Conversation(
            id=new_conversation_id(),
            channel=CHANNEL,
            # No number is asked for: a pseudonym of the call's own.
            pseudonym=pseudonymize(calls.pseudonym_key, CHANNEL, f"manual:{random_id()}"),
            state=S.ASSIGNED.value,
            priority=int(Priority.NORMAL),
            language=user.language or "sv",
            created_at=started,
            queued_at=started,
            assigned_to=user.id,
            assigned_at=started,
            first_assigned_at=started,
            last_message_at=started,
            message_count=0,
            meta={"phone": True},
        )
        session.add(conv)
        await session.flush()
        call = PhoneCall(
            call_id=f"manual-{random_id()}",
            conversation_id=conv.id,
            manual=True,
            withheld=True,
            ringing_at=started,
            answered_at=started,
            answered_by=user.id,
        )
        session.add(call)
        if duration_seconds is not None:
            call.ended_at = now
            call.outcome = "answered"
            call.duration_seconds = duration_seconds
            move(conv, S.CLOSED)
            conv.closed_at = now
            conv.meta = {**conv.meta, "closed_by": user.username}
        elif calls.busy_on_call:
            await busy.call_started(session, calls.outbox, user)
        await repo.audit(
            session,
            "phone.logged",
            actor=user,
            conversation_id=conv.id,
            details={"duration_seconds": duration_seconds},
        )
        await _events(calls, session, conv, call, "logged")
    calls.outbox.wake()
    return call


async def stop_call(calls: PhoneCalls, conversation_id: str, user: StaffUser) -> PhoneCall:
    """The end of a call logged by hand: closed, ready to document."""
    async with calls.db.session() as session:
        call = await _call_of(session, conversation_id)
        conv = await repo.get_conversation(session, conversation_id, for_update=True)
        if not call.manual or call.ended_at is not None or conv.state != S.ASSIGNED.value:
            raise Conflict("call_not_running")
        if conv.assigned_to != user.id and user.role not in ("supervisor", "admin"):
            raise PermissionDenied("not_assigned_to_you")
        call.ended_at = utcnow()
        call.outcome = "answered"
        call.duration_seconds = duration_of(call)
        move(conv, S.CLOSED)
        conv.closed_at = call.ended_at
        conv.meta = {**(conv.meta or {}), "closed_by": user.username}
        holder = await session.get(StaffUser, conv.assigned_to) if conv.assigned_to else None
        if holder is not None and calls.busy_on_call:
            await busy.call_ended(session, calls.outbox, holder)
        await repo.audit(session, "phone.stopped", actor=user, conversation_id=conv.id)
        await _events(calls, session, conv, call, "ended")
    calls.outbox.wake()
    return call


async def get_call(calls: PhoneCalls, conversation_id: str) -> PhoneCall:
    async with calls.db.reader() as session:
        return await _call_of(session, conversation_id)


async def callback_number(calls: PhoneCalls, conversation_id: str, user: StaffUser) -> str:
    """The number to call back: only for a call whose caller asked for it, only to the counsellor
    who holds it; every read audited (``phone.number_read``)."""
    async with calls.db.session() as session:
        call = await _call_of(session, conversation_id)
        conv = await repo.get_conversation(session, conversation_id)
        if not call.callback:
            raise PermissionDenied("no_callback")
        if conv.state != S.ASSIGNED.value or conv.assigned_to != user.id:
            raise PermissionDenied("not_assigned_to_you")
        number = await repo.get_contact(session, calls.cipher, conversation_id)
        if number is None:
            raise NotFound("no_number")
        await repo.audit(session, "phone.number_read", actor=user, conversation_id=conversation_id)
    return number


async def _call_of(session: AsyncSession, conversation_id: str) -> PhoneCall:
    found = await session.execute(select(PhoneCall).where(PhoneCall.conversation_id == conversation_id))
    call = found.scalar_one_or_none()
    if call is None:
        raise NotFound("not_a_call")
    return call


async def _events(
    calls: PhoneCalls, session: AsyncSession, conv: Conversation, call: PhoneCall, event: str
) -> None:
    summary = repo.conversation_summary(conv)
    await insert_rows(
        session,
        [
            calls.event_rows.conv_row(PHONE_KIND, summary, phone={"event": event, **call_view(call)}),
            calls.event_rows.queue_row(conv.id, {"kind": "changed", "critical": False}),
        ],
    )


__all__ = ["callback_number", "get_call", "log_call", "stop_call"]
