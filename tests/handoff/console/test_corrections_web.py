"""Counsellors correct the triage of a person's message through the console's API: kept as a proposed,
redacted training example, audited, one per counsellor and message."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select

from gateway.store.models import AuditEvent, Message
from handoff.triage_admin.correction_models import TriageCorrection
from tests.handoff.console.conftest import Browser, Console

PERSONAL = "Min son Erik Johansson ringer från 070-123 45 67 och bor på Storgatan 12, han vill inte leva"


def correction_url(conv: str, message_id: str) -> str:
    return f"/console/api/conversations/{conv}/messages/{message_id}/correction"


async def person_messages(b: Browser, conv: str) -> list[dict[str, Any]]:
    body = await (await b.get(f"/console/api/conversations/{conv}")).json()
    return [m for m in body["messages"] if m["kind"] == "person"]


async def stored(console: Console) -> list[TriageCorrection]:
    async with console.db.session() as session:
        return list((await session.execute(select(TriageCorrection))).scalars())


async def audited(console: Console, prefix: str) -> list[AuditEvent]:
    async with console.db.session() as session:
        rows = await session.execute(select(AuditEvent).where(AuditEvent.action.startswith(prefix)))
        return list(rows.scalars())


async def test_a_counsellor_corrects_the_intent_and_the_danger_and_the_text_is_kept_redacted(
    console_any_db: Console,
) -> None:
    console = console_any_db
    anna = await console.signed_in("anna")
    conv = await console.person("p", "min bror oroar mig")
    await console.person("p", PERSONAL)
    assert (await anna.claim(conv)).status == 200
    first, second = await person_messages(anna, conv)
    assert second["triage"]["intent"] == "self_harm"

    resp = await anna.post(correction_url(conv, first["id"]), {"intent": "self_harm", "danger": True})
    assert resp.status == 201, await resp.text()
    got = (await resp.json())["correction"]
    assert got["intent"] == "self_harm" and got["danger"] is True and got["state"] == "proposed"
    assert got["original"] == {"intent": "concern_relative", "priority": "normal", "risk": None}
    assert got["counsellor"] == "anna" and got["text"] == "min bror oroar mig"

    resp = await anna.post(correction_url(conv, second["id"]), {"intent": "concern_relative"})
    assert resp.status == 201
    text = (await resp.json())["correction"]["text"]
    for personal in ("Erik", "Johansson", "070", "45 67", "Storgatan"):
        assert personal not in text, text
    assert "[NAMN]" in text and "[TELEFON]" in text and "[ADRESS]" in text and "vill inte leva" in text

    rows = {r.message_id: r for r in await stored(console)}
    assert rows[second["id"]].text == text and rows[second["id"]].original_priority == "critical"
    assert rows[second["id"]].counsellor_id == rows[first["id"]].counsellor_id
    assert rows[second["id"]].danger is None and rows[second["id"]].created_at is not None
    # The correction is audited, without the text.
    events = await audited(console, "triage.correction.")
    assert [e.action for e in events] == ["triage.correction.proposed"] * 2
    assert events[1].conversation_id == conv and events[1].details["intent"] == "concern_relative"
    assert "Erik" not in str(events[1].details) and "leva" not in str(events[1].details)
    assert set(events[1].details["redacted"]) >= {"name", "phone", "address"}
    # The console shows the counsellor their own corrections.
    body = await (await anna.get(f"/console/api/conversations/{conv}")).json()
    assert body["corrections"][first["id"]] == {"intent": "self_harm", "danger": True, "state": "proposed"}


async def test_correcting_the_same_message_again_updates_the_one_correction(console: Console) -> None:
    anna = await console.signed_in("anna")
    conv = await console.person("p", "min kompis pratar om en resa")
    assert (await anna.claim(conv)).status == 200
    (msg,) = await person_messages(anna, conv)
    assert (await anna.post(correction_url(conv, msg["id"]), {"intent": "travel_conflict"})).status == 201
    again = await anna.post(correction_url(conv, msg["id"]), {"intent": "leave_movement", "danger": False})
    assert again.status == 200
    rows = await stored(console)
    assert len(rows) == 1 and rows[0].intent == "leave_movement" and rows[0].danger is False
    actions = [e.action for e in await audited(console, "triage.correction.")]
    assert actions == ["triage.correction.proposed", "triage.correction.updated"]


async def test_only_the_holder_corrects_and_only_a_persons_message(console: Console) -> None:
    anna = await console.signed_in("anna")
    bert = await console.signed_in("bert")
    conv = await console.person("p", "min dotter har nya vänner")
    assert (await anna.claim(conv)).status == 200
    body = await (await anna.get(f"/console/api/conversations/{conv}")).json()
    person = next(m for m in body["messages"] if m["kind"] == "person")
    bot = next(m for m in body["messages"] if m["kind"] == "bot")

    refused = await bert.post(correction_url(conv, person["id"]), {"intent": "greet"})
    assert refused.status == 403 and (await refused.json()) == {"error": "not_assigned_to_you"}
    assert [e.actor for e in await audited(console, "triage.correction.denied")] == ["bert"]

    cases = [
        (bot["id"], {"intent": "greet"}, 422, "not_a_person_message"),
        (person["id"], {}, 422, "nothing_to_correct"),
        (person["id"], {"intent": "bomb"}, 422, "unknown_intent"),
        (person["id"], {"danger": "yes"}, 422, "danger_must_be_bool"),
        (person["id"], {"intent": "concern_relative"}, 422, "same_intent"),
        ("0" * 32, {"intent": "greet"}, 404, "not_found"),
    ]
    for message_id, payload, status, code in cases:
        resp = await anna.post(correction_url(conv, message_id), payload)
        assert (resp.status, (await resp.json())["error"]) == (status, code), payload
    other = await console.person("q", "min bror har blivit konstig")
    assert (await anna.post(correction_url(other, person["id"]), {"intent": "greet"})).status == 403
    assert await stored(console) == []


async def test_a_correction_goes_with_its_message(console: Console) -> None:
    anna = await console.signed_in("anna")
    conv = await console.person("p", "min son har blivit radikal")
    assert (await anna.claim(conv)).status == 200
    (msg,) = await person_messages(anna, conv)
    assert (await anna.post(correction_url(conv, msg["id"]), {"danger": True})).status == 201
    async with console.db.session() as session:  # as retention and erasure on request delete them
        await session.execute(delete(Message).where(Message.conversation_id == conv))
    assert await stored(console) == []
