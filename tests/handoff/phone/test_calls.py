"""A call's life through the real gateway (handoff.phone.calls): ringing in the queue, answered on
the console of the counsellor whose extension answered, ended into documentation; the caller's
number only in the encrypted contact record; events out of order or repeated; missed, abandoned
and callback calls."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from gateway.crypto import ContactCipher
from gateway.store.models import AuditEvent, ContactRecord, Conversation, StaffUser
from handoff.phone.models import PhoneCall
from tests.handoff.console.conftest import Browser
from tests.handoff.phone.conftest import PhoneGateway
from tests.handoff.records.test_documentation import complete

NUMBER = "+46701740605"


async def counsellor(phone: PhoneGateway, name: str, extension: str) -> Browser:
    b = await phone.signed_in(name)
    async with phone.db.session() as session:
        await session.execute(update(StaffUser).where(StaffUser.username == name).values(extension=extension))
    await b.post("/console/api/status", {"status": "available"})
    return b


async def queue(b: Browser) -> dict[str, Any]:
    resp = await b.get("/console/api/queue")
    assert resp.status == 200
    data: dict[str, Any] = await resp.json()
    return data


async def call_row(phone: PhoneGateway, conv_id: str) -> PhoneCall:
    async with phone.db.session() as session:
        found = await session.execute(select(PhoneCall).where(PhoneCall.conversation_id == conv_id))
        return found.scalar_one()


async def conversation(phone: PhoneGateway, conv_id: str) -> Conversation:
    async with phone.db.session() as session:
        conv = await session.get(Conversation, conv_id)
        assert conv is not None
        return conv


async def test_a_call_rings_in_the_queue_opens_for_the_answering_extension_and_ends_in_documentation(
    phone_any_db: PhoneGateway,
) -> None:
    phone = phone_any_db
    anna = await counsellor(phone, "anna", "201")
    bo = await counsellor(phone, "bo", "202")

    status, answer = await phone.event("c-1", "ringing", caller=NUMBER)
    assert status == 200 and answer["repeat"] is False
    conv_id = answer["conversation_id"]
    waiting = (await queue(bo))["waiting"]
    assert [(e["conversation_id"], e["channel"]) for e in waiting] == [(conv_id, "phone")]

    status, _ = await phone.event("c-1", "answered", extension="202")
    assert status == 200
    assert [m["conversation_id"] for m in (await queue(bo))["mine"]] == [conv_id]
    assert (await queue(anna))["mine"] == [] and (await queue(anna))["waiting"] == []
    # Bo is on the call: shown as busy, so no chat is offered to him.
    assert (await (await bo.get("/console/api/status")).json())["status"] == "on_call"

    status, _ = await phone.event("c-1", "ended")
    assert status == 200
    conv = await conversation(phone, conv_id)
    assert conv.state == "closed" and conv.meta["closed_by"] == "bo"
    call = await call_row(phone, conv_id)
    assert call.outcome == "answered" and call.duration_seconds is not None and not call.withheld
    assert (await (await bo.get("/console/api/status")).json())["status"] == "available"
    # The call has no transcript; the documentation form is Bo's to fill in.
    form = await (await bo.get(f"/console/api/conversations/{conv_id}/documentation")).json()
    assert form["can_document"] is True
    saved = await bo.post(f"/console/api/conversations/{conv_id}/documentation", {"values": complete()})
    assert saved.status == 200, await saved.text()
    assert (await conversation(phone, conv_id)).state == "documented"
    # Anna did not take the call: she cannot read it.
    assert (await anna.get(f"/console/api/phone/calls/{conv_id}")).status == 403
    seen = await (await bo.get(f"/console/api/phone/calls/{conv_id}")).json()
    assert seen["outcome"] == "answered" and NUMBER not in str(seen)

    # The number: only in the contact record, encrypted; the conversation has its pseudonym.
    async with phone.db.session() as session:
        record = await session.get(ContactRecord, conv_id)
    assert record is not None and NUMBER.encode() not in record.ciphertext
    cipher = ContactCipher(phone.settings.contact_key)
    assert cipher.decrypt(record.ciphertext) == NUMBER
    assert NUMBER not in conv.pseudonym and NUMBER not in str(conv.meta)


async def test_a_repeated_event_changes_nothing_and_events_out_of_order_make_the_same_call(
    phone: PhoneGateway,
) -> None:
    await counsellor(phone, "anna", "201")
    # ended before answered before ringing: the same call as in order.
    conv_id = await phone.call("c-2", "ended", "answered", "ringing", extension="201")
    conv = await conversation(phone, conv_id)
    call = await call_row(phone, conv_id)
    assert conv.state == "closed" and conv.meta["closed_by"] == "system"
    assert call.outcome == "answered" and call.answered_by is not None
    assert conv.assigned_to == call.answered_by  # the late answer tells who documents it

    status, answer = await phone.event("c-2", "ended")
    assert status == 200 and answer == {"ok": True, "repeat": True, "conversation_id": conv_id}
    async with phone.db.session() as session:
        audits = (
            (await session.execute(select(AuditEvent.action).where(AuditEvent.conversation_id == conv_id)))
            .scalars()
            .all()
        )
    assert sorted(a for a in audits if a.startswith("phone.")) == [
        "phone.answered",
        "phone.ended",
        "phone.ringing",
    ]


async def test_missed_abandoned_and_callback_calls(phone: PhoneGateway) -> None:
    anna = await counsellor(phone, "anna", "201")
    missed = await phone.call("c-3", "ringing", "missed")
    abandoned = await phone.call("c-4", "ringing", "ended")
    callback = await phone.call("c-5", "ringing", "ended", callback=True)
    assert (await call_row(phone, missed)).outcome == "missed"
    assert (await call_row(phone, abandoned)).outcome == "abandoned"
    assert (await call_row(phone, callback)).outcome == "callback"
    assert (await conversation(phone, missed)).state == "closed"
    # The callback waits in the queue; its number is shown only to whoever takes it, audited.
    assert [e["conversation_id"] for e in (await queue(anna))["waiting"]] == [callback]
    assert (await anna.get(f"/console/api/phone/calls/{callback}/number")).status == 403
    assert (await anna.claim(callback)).status == 200
    resp = await anna.get(f"/console/api/phone/calls/{callback}/number")
    assert resp.status == 200 and (await resp.json()) == {"number": NUMBER}
    async with phone.db.session() as session:
        read = (
            await session.execute(select(AuditEvent).where(AuditEvent.action == "phone.number_read"))
        ).scalar_one()
    assert read.actor == "anna" and read.conversation_id == callback
    # Not a callback: never shown.
    assert (await anna.get(f"/console/api/phone/calls/{abandoned}/number")).status == 403


async def test_the_number_is_deleted_under_retention_and_the_call_stays_counted(phone: PhoneGateway) -> None:
    from datetime import timedelta

    from gateway.envelope import utcnow
    from handoff.phone.models import PhoneCallEvent
    from handoff.records.retention import RetentionPolicy, purge

    conv_id = await phone.call("ret-1", "ringing", "ended", caller=NUMBER)
    policy = RetentionPolicy.from_config({})
    async with phone.db.session() as session:
        await purge(session, policy, utcnow() + timedelta(days=2), dry_run=False)
    async with phone.db.session() as session:
        assert await session.get(ContactRecord, conv_id) is None
        assert (await session.execute(select(PhoneCallEvent))).scalars().all() != []
    async with phone.db.session() as session:
        await purge(session, policy, utcnow() + timedelta(days=40), dry_run=False)
    async with phone.db.session() as session:
        assert (await session.execute(select(PhoneCallEvent))).scalars().all() == []
        call = (await session.execute(select(PhoneCall))).scalar_one()
    assert call.outcome == "abandoned"  # the call itself stays, for the reports


async def test_the_same_events_at_once_make_one_call(phone_any_db: PhoneGateway) -> None:
    """Two processes (or a phone system's retries) posting at once: one call, each event once."""
    import asyncio

    phone = phone_any_db
    await counsellor(phone, "anna", "201")
    answers = await asyncio.gather(
        *(phone.event("race-1", "ringing") for _ in range(4)),
        *(phone.event("race-1", "answered", extension="201") for _ in range(3)),
    )
    assert {status for status, _ in answers} == {200}
    assert len({answer["conversation_id"] for _, answer in answers}) == 1
    assert sum(not answer["repeat"] for _, answer in answers) == 2
    async with phone.db.session() as session:
        assert len((await session.execute(select(PhoneCall))).scalars().all()) == 1
        conv = (await session.execute(select(Conversation))).scalar_one()
    assert conv.state == "assigned"
