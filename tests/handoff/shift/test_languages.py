"""Issue 19, item 4: counsellors matched by language.  Each account lists the languages its holder
speaks (the admin page, ``helpline users edit --languages``); the queue shows each conversation's
language; "Nästa samtal" and the console's "new conversation" offer a conversation first to
counsellors on duty who speak its language, never before a more urgent one; when nobody on duty
speaks it, the person is told once, in their language, what they can do, and the conversation still
waits at its priority."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import update

from gateway import catalogues
from gateway.store.models import StaffUser
from tests.handoff.console.conftest import Browser, Console, start_console, stop_console
from tests.handoff.console.test_live import connect, next_of, nothing_of
from tests.handoff.shift.test_reminders_and_next import take_next


async def speaker(console: Console, name: str, languages: list[str]) -> Browser:
    """A counsellor on duty (available) who speaks ``languages``."""
    b = await console.signed_in(name)
    async with console.db.session() as session:
        await session.execute(
            update(StaffUser).where(StaffUser.username == name).values(spoken_languages=languages)
        )
    assert (await b.post("/console/api/status", {"status": "available"})).status == 200
    return b


async def person(console: Console, address: str, text: str, language: str) -> str:
    """A person writes; the (test) triage takes the language from the hint, as from a page's choice."""
    result = await console.memory.person_writes(address, text, meta={"language_hint": language})
    return str(result.conversation_id)


def told(console: Console, address: str) -> list[str]:
    return [m.text for m in console.memory.outbox.get(address, [])]


async def test_next_offers_a_conversation_first_to_a_counsellor_who_speaks_its_language(
    console_any_db: Console,
) -> None:
    console = console_any_db
    anna = await speaker(console, "anna", ["sv", "en"])
    amal = await speaker(console, "amal", ["sv", "en", "ar"])
    swedish = await person(console, "s", "min son har blivit radikal", "sv")
    arabic = await person(console, "a", "ابني أصبح متطرفًا", "ar")
    somali = await person(console, "so", "wiilkayga wuu isbeddelay", "so")  # nobody on duty speaks it
    queue = await (await anna.get("/console/api/queue")).json()
    assert [(e["conversation_id"], e["language"]) for e in queue["waiting"]] == [
        (swedish, "sv"),
        (arabic, "ar"),
        (somali, "so"),
    ]
    # Anna does not speak Arabic and Amal does: Anna takes the Swedish one, then the Somali one
    # (a language nobody on duty speaks keeps its place), and the Arabic one is left for Amal.
    assert await take_next(anna) == (200, {"ok": True, "conversation_id": swedish})
    assert await take_next(anna) == (200, {"ok": True, "conversation_id": somali})
    assert await take_next(amal) == (200, {"ok": True, "conversation_id": arabic})


async def test_the_arabic_speaker_gets_it_first_but_never_before_a_more_urgent_one(console: Console) -> None:
    amal = await speaker(console, "amal", ["sv", "ar"])
    await speaker(console, "anna", ["sv", "en"])
    normal_sv = await person(console, "s1", "min son har blivit radikal", "sv")
    normal_ar = await person(console, "a1", "ابني أصبح متطرفًا", "ar")
    critical_sv = await person(console, "s2", "jag vill inte leva längre", "sv")
    # Priority first: the critical Swedish one; then, within normal, Arabic before the older Swedish.
    assert (await take_next(amal))[1]["conversation_id"] == critical_sv
    assert (await take_next(amal))[1]["conversation_id"] == normal_ar
    assert (await take_next(amal))[1]["conversation_id"] == normal_sv


async def test_with_nobody_on_duty_who_speaks_it_the_person_is_told_in_their_language(
    sqlite_url: str, tmp_path: Path
) -> None:
    console = await start_console(
        sqlite_url, tmp_path, **{"console.language_hours": {"so": "Isniinta 17–21"}}
    )
    try:
        anna = await speaker(console, "anna", ["sv", "en"])
        amal = await speaker(console, "amal", ["sv", "ar"])
        arabic = await person(console, "a", "ابني أصبح متطرفًا", "ar")
        somali = await person(console, "so", "wiilkayga wuu isbeddelay", "so")
        await person(console, "so", "fadlan i caawi", "so")
        notice = catalogues.text("person", "so", "notice.language_unspoken")
        for _ in range(100):
            if notice in "\n".join(told(console, "so")):
                break
            await asyncio.sleep(0.05)
        somali_told = [t for t in told(console, "so") if notice in t]
        # Once, in Somali, with when a Somali speaker usually is on duty; the numbers kept.
        assert len(somali_told) == 1
        assert "Isniinta 17–21" in somali_told[0] and "112" in somali_told[0]
        assert not any("af-Iswiidhish" in t for t in told(console, "a"))  # Amal speaks Arabic
        await asyncio.sleep(0.3)
        assert len([t for t in told(console, "so") if notice in t]) == 1
        # It still waits at its priority, and anyone may take it.
        queue = await (await anna.get("/console/api/queue")).json()
        waiting = {e["conversation_id"]: e for e in queue["waiting"]}
        assert waiting[somali]["language"] == "so" and waiting[somali]["priority"] == "normal"
        assert await take_next(anna) == (200, {"ok": True, "conversation_id": somali})
        # Amal goes on a break: the next Arabic writer is told in Arabic.
        assert (await amal.post("/console/api/status", {"status": "break"})).status == 200
        await person(console, "a2", "ابنتي تتحدث عن السفر", "ar")
        arabic_notice = catalogues.text("person", "ar", "notice.language_unspoken")
        for _ in range(100):
            if arabic_notice in "\n".join(told(console, "a2")):
                break
            await asyncio.sleep(0.05)
        assert any(arabic_notice in t for t in told(console, "a2"))
        assert arabic in {
            e["conversation_id"] for e in (await (await anna.get("/console/api/queue")).json())["waiting"]
        }
    finally:
        await stop_console(console)


async def test_a_new_conversation_is_offered_first_to_the_consoles_that_speak_it(console: Console) -> None:
    anna = await speaker(console, "anna", ["sv", "en"])
    amal = await speaker(console, "amal", ["sv", "ar"])
    sockets = [await connect(b) for b in (anna, amal)]
    for ws in sockets:
        await next_of(ws, "queue")
    arabic = await person(console, "a", "ابني أصبح متطرفًا", "ar")
    got = await next_of(sockets[1], "new_conversation")
    assert got["conversation_id"] == arabic and got["language"] == "ar" and got["your_language"] is True
    await nothing_of(sockets[0], "new_conversation")
    swedish = await person(console, "s", "min son har blivit radikal", "sv")
    for ws in sockets:
        got = await next_of(ws, "new_conversation")
        assert got["conversation_id"] == swedish
    # A critical one goes to everyone, whatever its language.
    critical = await person(console, "c", "jag vill inte leva längre", "ar")  # the test triage: critical
    console_any: list[Any] = []
    for ws in sockets:
        console_any.append(await next_of(ws, "alert"))
    assert all(a["conversation_id"] == critical for a in console_any)
    for ws in sockets:
        await ws.close()


async def test_the_admin_sets_the_languages_an_account_speaks(console: Console) -> None:
    admin = await console.signed_in("ada", "admin")
    made = await admin.post(
        "/console/api/staff",
        {"username": "amal", "role": "counsellor", "spoken_languages": ["ar", "SV", "hr"]},
    )
    assert made.status == 201
    user = (await made.json())["user"]
    assert user["spoken_languages"] == ["sv", "ar", "hr"]
    bad = await admin.post(f"/console/api/staff/{user['id']}/edit", {"spoken_languages": ["xx"]})
    assert bad.status == 422 and (await bad.json())["error"] == "bad_spoken_languages"
    none = await admin.post(f"/console/api/staff/{user['id']}/edit", {"spoken_languages": []})
    assert none.status == 422
    ok = await admin.post(f"/console/api/staff/{user['id']}/edit", {"spoken_languages": ["so", "sv", "en"]})
    assert (await ok.json())["user"]["spoken_languages"] == ["sv", "en", "so"]
    page = await (await admin.get("/console/staff")).text()
    assert 'id="st-edit-spoken"' in page and "Talar med personer på" in page
