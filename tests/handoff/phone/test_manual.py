"""Calls logged by hand (handoff.phone.manual): "Registrera samtal" started and stopped, or logged
with its duration afterwards, then documented like any call; a referral on a call: consent is
recorded by the counsellor ("the caller agreed on the phone"), audited, never asked in a channel."""

from __future__ import annotations

from sqlalchemy import select

from gateway.store.models import AuditEvent, Conversation
from tests.handoff.phone.conftest import PhoneGateway
from tests.handoff.records.test_documentation import complete
from tests.handoff.web.kit import DISCLOSURE, REFERRAL


async def test_a_call_logged_by_hand_is_started_stopped_and_documented(phone: PhoneGateway) -> None:
    anna = await phone.signed_in("anna")
    bo = await phone.signed_in("bo")
    await anna.post("/console/api/status", {"status": "available"})
    started = await anna.post("/console/api/phone/calls", {})
    assert started.status == 201
    call = await started.json()
    conv_id = call["conversation_id"]
    assert call["manual"] is True and call["outcome"] is None
    assert (await (await anna.get("/console/api/status")).json())["status"] == "on_call"
    mine = await (await anna.get("/console/api/queue")).json()
    assert [(m["conversation_id"], m["channel"]) for m in mine["mine"]] == [(conv_id, "phone")]
    # A call has no transcript: nothing can be written to it.
    reply = await anna.post(f"/console/api/conversations/{conv_id}/reply", {"text": "Hej"})
    assert reply.status == 409 and (await reply.json())["error"] == "no_channel_to_write"
    # Only the one on the call (or a supervisor) stops it.
    assert (await bo.post(f"/console/api/phone/calls/{conv_id}/stop")).status == 403
    stopped = await anna.post(f"/console/api/phone/calls/{conv_id}/stop")
    assert stopped.status == 200
    assert (await stopped.json())["outcome"] == "answered"
    assert (await anna.post(f"/console/api/phone/calls/{conv_id}/stop")).status == 403  # not hers now
    assert (await (await anna.get("/console/api/status")).json())["status"] == "available"
    saved = await anna.post(f"/console/api/conversations/{conv_id}/documentation", {"values": complete()})
    assert saved.status == 200, await saved.text()


async def test_a_call_over_is_logged_with_its_duration(phone: PhoneGateway) -> None:
    anna = await phone.signed_in("anna")
    logged = await anna.post("/console/api/phone/calls", {"duration_seconds": 540})
    assert logged.status == 201
    call = await logged.json()
    assert call["duration_seconds"] == 540 and call["outcome"] == "answered"
    async with phone.db.session() as session:
        conv = await session.get(Conversation, call["conversation_id"])
    assert conv is not None and conv.state == "closed" and conv.meta["closed_by"] == "anna"
    assert (await anna.post("/console/api/phone/calls", {"duration_seconds": -1})).status == 422
    assert (await anna.post("/console/api/phone/calls", {"duration_seconds": "9"})).status == 422


async def test_consent_to_a_referral_is_recorded_on_the_phone(phone: PhoneGateway) -> None:
    anna = await phone.signed_in("anna")
    started = await anna.post("/console/api/phone/calls", {})
    conv_id = (await started.json())["conversation_id"]
    made = await anna.post(f"/console/api/conversations/{conv_id}/referrals", REFERRAL)
    assert made.status == 201, await made.text()
    rid = (await made.json())["referral"]["id"]
    asked = await anna.post(f"/console/api/referrals/{rid}/consent-request")
    assert asked.status == 409 and (await asked.json())["error"] == "ask_on_the_phone"
    agreed = await anna.post(f"/console/api/referrals/{rid}/consent", {"consent": True})
    assert agreed.status == 200, await agreed.text()
    async with phone.db.session() as session:
        audit = (
            await session.execute(select(AuditEvent).where(AuditEvent.action == "referral.consented"))
        ).scalar_one()
    assert audit.actor == "anna" and audit.details["via"] == "counsellor"
    assert audit.details["on_the_phone"] is True


async def test_crime_information_from_a_call_cites_the_call(phone: PhoneGateway) -> None:
    anna = await phone.signed_in("anna")
    started = await anna.post("/console/api/phone/calls", {})
    conv_id = (await started.json())["conversation_id"]
    made = await anna.post(
        f"/console/api/conversations/{conv_id}/disclosures", {**DISCLOSURE, "source_seqs": []}
    )
    assert made.status == 201, await made.text()
    package = (await made.json())["disclosure"]
    listed = await (await anna.get(f"/console/api/conversations/{conv_id}/disclosures")).json()
    assert [d["id"] for d in listed["disclosures"]] == [package["id"]]
    # A chat still needs the messages it cites.
    chat = await phone.person("p", "de ska spränga stationen")
    assert (await anna.claim(chat)).status == 200
    refused = await anna.post(
        f"/console/api/conversations/{chat}/disclosures", {**DISCLOSURE, "source_seqs": []}
    )
    assert refused.status == 422
