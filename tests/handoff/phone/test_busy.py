"""On a call (handoff.phone.busy): the answering counsellor's console opens the call, they are shown
as on call and offered no chat until it ends; ``phone.busy_on_call: false`` keeps them available."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select, update

from gateway.store.models import StaffUser
from tests.handoff.console.test_live import absorb, connect, next_of, nothing_of
from tests.handoff.phone.conftest import PhoneGateway, start_phone


async def with_extension(phone: PhoneGateway, name: str, extension: str) -> None:
    async with phone.db.session() as session:
        await session.execute(update(StaffUser).where(StaffUser.username == name).values(extension=extension))


async def both(ws: aiohttp.ClientWebSocketResponse, conv_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The call's ``phone`` event and the member's new status, in whichever order they come."""
    found: dict[str, dict[str, Any]] = {}
    async with asyncio.timeout(5):
        while len(found) < 2:
            msg: dict[str, Any] = absorb(ws, await ws.receive_json())
            if msg.get("type") == "status":
                found["status"] = msg
            elif msg.get("type") == "conversation" and msg.get("kind") == "phone":
                assert msg["conversation_id"] == conv_id
                found["phone"] = msg
    return found["phone"], found["status"]


async def test_on_a_call_no_chat_is_offered_and_the_call_opens_then_its_form(phone: PhoneGateway) -> None:
    anna = await phone.signed_in("anna")
    await with_extension(phone, "anna", "201")
    assert (await anna.post("/console/api/status", {"status": "available"})).status == 200
    ws = await connect(anna)
    await next_of(ws, "queue")

    status, answer = await phone.event("b-1", "ringing")
    assert status == 200
    conv_id = answer["conversation_id"]
    offer = await next_of(ws, "new_conversation")  # a ringing call is offered like a chat
    assert offer["conversation_id"] == conv_id and offer["channel"] == "phone"
    await phone.event("b-1", "answered", extension="201")
    opened, status_now = await both(ws, conv_id)
    assert opened["phone"]["event"] == "answered" and opened["conversation"]["state"] == "assigned"
    assert status_now["status"] == "on_call"

    chat = await phone.person("p", "min bror har nya vänner")
    await next_of(ws, "queue", where=lambda m: chat in [e["conversation_id"] for e in m["waiting"]])
    await nothing_of(ws, "new_conversation")

    await phone.event("b-1", "ended")
    ended, status_now = await both(ws, conv_id)
    assert ended["phone"]["event"] == "ended" and ended["phone"]["outcome"] == "answered"
    assert ended["conversation"]["state"] == "closed"  # the console opens the documentation form
    assert status_now["status"] == "available"
    later = await phone.person("q", "min kompis har blivit konstig")
    assert (await next_of(ws, "new_conversation"))["conversation_id"] == later
    await ws.close()


async def test_busy_on_call_can_be_turned_off(sqlite_url: str, tmp_path: Path) -> None:
    phone = await start_phone(sqlite_url, tmp_path, **{"phone.busy_on_call": False})
    try:
        anna = await phone.signed_in("anna")
        await with_extension(phone, "anna", "201")
        await anna.post("/console/api/status", {"status": "available"})
        await phone.call("b-2", "ringing", "answered", extension="201")
        assert (await (await anna.get("/console/api/status")).json())["status"] == "available"
    finally:
        await phone.close()


async def test_signing_out_on_a_call_leaves_the_member_away_not_available(phone: PhoneGateway) -> None:
    anna = await phone.signed_in("anna")
    await with_extension(phone, "anna", "201")
    await anna.post("/console/api/status", {"status": "available"})
    await phone.call("b-3", "ringing", "answered", extension="201")
    assert (await anna.post("/console/logout", {})).status in (302, 303)
    await phone.event("b-3", "ended")
    from handoff.shift import presence

    async with phone.db.session() as session:
        user = (await session.execute(select(StaffUser).where(StaffUser.username == "anna"))).scalar_one()
        assert await presence.status_of(session, user.id) == ("away", True)
