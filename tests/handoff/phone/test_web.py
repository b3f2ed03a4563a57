"""The phone's routes (handoff.phone.web): the events endpoint refuses a forged or stale event and
takes a repeat as a no-op; a withheld number is never stored; the endpoint is off without a
secret; the admin gives an account its extension."""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
from sqlalchemy import func, select, text

from gateway.store.models import ContactRecord, Conversation
from handoff.phone.models import PhoneCall
from handoff.phone.replay import signed_headers
from tests.handoff.phone.conftest import SECRET, PhoneGateway
from tests.harness import make_settings, start

NUMBER = "+46701740605"


async def count(phone: PhoneGateway, model: type) -> int:
    async with phone.db.session() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def test_a_forged_event_is_refused_and_nothing_is_stored(phone: PhoneGateway) -> None:
    status, answer = await phone.event("f-1", "ringing", secret="not-the-secret")
    assert (status, answer) == (401, {"error": "bad_signature"})
    # A right signature over another body: the body was changed on the way.
    real = b'{"call_id":"f-1","event":"ringing","caller":"withheld","time":"2026-12-04T10:00:00+00:00"}'
    headers = signed_headers(SECRET, real)
    async with aiohttp.ClientSession() as http:
        async with http.post(
            phone.url("/channels/phone/events"), data=real.replace(b"f-1", b"f-2"), headers=headers
        ) as resp:
            assert resp.status == 401
        async with http.post(phone.url("/channels/phone/events"), data=real) as resp:
            assert resp.status == 401  # no signature at all
    assert await count(phone, Conversation) == 0 and await count(phone, PhoneCall) == 0


async def test_an_old_event_replayed_is_refused_a_repeat_is_a_no_op(phone: PhoneGateway) -> None:
    old = int(time.time()) - 3600
    status, answer = await phone.event("r-1", "ringing", timestamp=old)
    assert (status, answer) == (400, {"error": "stale_timestamp"})
    assert await count(phone, Conversation) == 0
    first = await phone.event("r-1", "ringing")
    again = await phone.event("r-1", "ringing")
    assert first[0] == again[0] == 200
    assert first[1]["repeat"] is False and again[1]["repeat"] is True
    assert first[1]["conversation_id"] == again[1]["conversation_id"]
    assert await count(phone, Conversation) == 1


async def test_a_withheld_number_is_never_stored(phone: PhoneGateway) -> None:
    conv_id = await phone.call("w-1", "ringing", "ended", caller="withheld")
    assert await count(phone, ContactRecord) == 0
    async with phone.db.session() as session:
        call = (await session.execute(select(PhoneCall))).scalar_one()
        assert call.withheld and call.conversation_id == conv_id
        # Two withheld calls are not the same caller.
    await phone.call("w-2", "ringing", caller="withheld")
    async with phone.db.session() as session:
        pseudonyms = (await session.execute(select(Conversation.pseudonym))).scalars().all()
    assert len(set(pseudonyms)) == 2
    # And a number is kept nowhere but in the encrypted contact record.
    await phone.call("w-3", "ringing", caller=NUMBER)
    async with phone.db.session() as session:
        for table in ("conversations", "phone_calls", "phone_call_events", "audit_events", "outbox_events"):
            rows = (await session.execute(text(f"SELECT * FROM {table}"))).all()
            assert NUMBER not in str(rows) and NUMBER[1:] not in str(rows), table


async def test_a_body_that_does_not_fit_is_refused_with_its_fields(phone: PhoneGateway) -> None:
    status, answer = await phone.event("b-1", "rang")
    assert status == 422 and "event" in answer["fields"]
    status, answer = await phone.event("b-1", "ringing", caller="call me maybe")
    assert status == 422 and "caller" in answer["fields"]
    assert await count(phone, Conversation) == 0


async def test_without_a_secret_the_endpoint_is_off(sqlite_url: str, tmp_path: Path) -> None:
    gw = await start(make_settings(sqlite_url, tmp_path), memory=True, cls=PhoneGateway)
    try:
        status, answer = await gw.event("o-1", "ringing", secret="")
        assert (status, answer) == (404, {"error": "phone_events_off"})
    finally:
        await gw.close()


async def test_the_admin_gives_an_account_its_extension_once(phone: PhoneGateway) -> None:
    admin = await phone.signed_in("admin1", "admin")
    anna = await phone.user("anna")
    bo = await phone.user("bo")
    ok = await admin.post(f"/console/api/staff/{anna.id}/edit", {"extension": "201"})
    assert ok.status == 200 and (await ok.json())["user"]["extension"] == "201"
    taken = await admin.post(f"/console/api/staff/{bo.id}/edit", {"extension": "201"})
    assert taken.status == 422 and (await taken.json())["fields"] == {"extension": "extension_taken"}
    bad = await admin.post(f"/console/api/staff/{bo.id}/edit", {"extension": "2 0 1"})
    assert bad.status == 422
    # The answered call opens on Anna's console.
    conv_id = await phone.call("x-1", "ringing", "answered", extension="201")
    async with phone.db.session() as session:
        conv = await session.get(Conversation, conv_id)
    assert conv is not None and conv.assigned_to == anna.id and conv.state == "assigned"


async def test_a_body_too_large_is_refused(phone: PhoneGateway) -> None:
    status, answer = await phone.event("big-1", "ringing", line="x" * 20000)
    assert (status, answer) == (413, {"error": "too_large"})
