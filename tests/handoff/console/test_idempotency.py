"""Staff actions that create something are stored once per Idempotency-Key: a resend after a lost
answer gets the first answer, and the person sees the reply once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from gateway.envelope import utcnow
from gateway.store import action_keys
from gateway.store.models import AuditEvent, Message, StaffActionKey
from handoff.disclosures.models import Disclosure
from handoff.records.models import DocumentationRecord
from handoff.referrals.models import Referral
from tests.handoff.console.conftest import Browser, Console, start_console, stop_console
from tests.handoff.records.test_documentation import complete


def _key() -> str:
    return uuid.uuid4().hex


async def _send(b: Browser, path: str, body: Any, key: str) -> tuple[int, Any]:
    resp = await b.post(path, body, headers={"Idempotency-Key": key})
    return resp.status, await resp.json()


async def _count(console: Console, model: Any, *where: Any) -> int:
    async with console.db.session() as s:
        return int((await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def _held(console: Console, b: Browser, address: str, text: str) -> str:
    conv = await console.person(address, text)
    assert (await b.claim(conv)).status == 200
    return conv


async def _to_document(console: Console, b: Browser, address: str, text: str) -> tuple[str, str]:
    """A conversation held and closed: its id and the path its documentation is saved to."""
    conv = await _held(console, b, address, text)
    assert (await b.post(f"/console/api/conversations/{conv}/close", {"reason": "done"})).status == 200
    return conv, f"/console/api/conversations/{conv}/documentation"


async def test_a_reply_resent_with_its_key_is_stored_and_sent_once(console_any_db: Console) -> None:
    console = console_any_db
    anna = await console.signed_in("anna")
    conv = await _held(console, anna, "p1", "Jag oroar mig för min bror")
    path = f"/console/api/conversations/{conv}/reply"
    key = _key()
    first = await _send(anna, path, {"text": "Berätta mer."}, key)
    again = await _send(anna, path, {"text": "Berätta mer."}, key)
    assert first[0] == 200 and again == first
    staff_replies = (Message.conversation_id == conv, Message.author_id.is_not(None))
    assert await _count(console, Message, *staff_replies) == 1
    await console.memory.wait_for("p1", lambda r: r.text == "Berätta mer.")
    assert [r.text for r in console.memory.outbox["p1"]].count("Berätta mer.") == 1  # the person sees it once
    # The same key for another text is refused; a new key is a new reply.
    assert (await _send(anna, path, {"text": "Något annat."}, key))[0] == 422
    other = await _send(anna, path, {"text": "Berätta mer."}, _key())
    assert other[0] == 200 and other[1]["message"]["id"] != first[1]["message"]["id"]
    assert await _count(console, Message, *staff_replies) == 2
    # Keys are the user's own: another counsellor's key of the same value is another action.
    assert (await _send(anna, path, {"text": "Hej"}, "shared-key-123"))[0] == 200


async def test_a_transfer_resent_with_its_key_gets_the_first_answer(console_any_db: Console) -> None:
    console = console_any_db
    anna = await console.signed_in("anna")
    await console.signed_in("bo")
    conv = await _held(console, anna, "p2", "Min kompis har blivit konstig")
    path = f"/console/api/conversations/{conv}/transfer"
    key = _key()
    first = await _send(anna, path, {"to": "bo"}, key)
    again = await _send(anna, path, {"to": "bo"}, key)
    assert first[0] == 200 and again == first
    # Without the key the second transfer is refused: anna no longer holds the conversation.
    assert (await _send(anna, path, {"to": "bo"}, _key()))[0] == 409
    assert await _count(console, AuditEvent, AuditEvent.action.like("%transfer%")) == 1


async def test_a_referral_and_a_disclosure_resent_with_their_keys_are_stored_once(
    db_url: str, tmp_path: Path
) -> None:
    methods = {
        "exit-fryshuset": [{"method": "email", "address": "mottagning@exit.example"}],
        "polisen": [{"method": "email", "address": "tips@polisen.example"}],
    }
    console = await start_console(db_url, tmp_path, **{"handoff.recipient_methods": methods})
    try:
        await _referral_and_disclosure(console)
    finally:
        await stop_console(console)


async def _referral_and_disclosure(console: Console) -> None:
    anna = await console.signed_in("anna")
    conv = await _held(console, anna, "p3", "Min son vill lämna rörelsen")
    referral = {
        "recipient_id": "exit-fryshuset",
        "topic": "exit",
        "contact_type": "relative",
        "summary": "En förälder vars son vill lämna en rörelse.",
    }
    path = f"/console/api/conversations/{conv}/referrals"
    key = _key()
    first = await _send(anna, path, referral, key)
    assert first[0] == 201, first
    assert await _send(anna, path, referral, key) == first
    assert await _count(console, Referral, Referral.conversation_id == conv) == 1
    assert (await _send(anna, path, referral, _key()))[0] == 201
    assert await _count(console, Referral, Referral.conversation_id == conv) == 2

    disclosure = {
        "recipient_id": "polisen",
        "what": "Planerat sprängdåd mot en bro.",
        "certainty": "probable",
        "source_seqs": [1],
        "legal_ground": "avert_serious_crime",
    }
    path = f"/console/api/conversations/{conv}/disclosures"
    key = _key()
    first = await _send(anna, path, disclosure, key)
    assert first[0] == 201, first
    assert await _send(anna, path, disclosure, key) == first
    assert await _count(console, Disclosure, Disclosure.conversation_id == conv) == 1
    assert (await _send(anna, path, disclosure, _key()))[0] == 201
    assert await _count(console, Disclosure, Disclosure.conversation_id == conv) == 2


async def test_documentation_resent_with_its_key_gets_the_first_answer(console_any_db: Console) -> None:
    console = console_any_db
    anna = await console.signed_in("anna")
    conv, path = await _to_document(console, anna, "p4", "Jag är orolig för min son")
    key = _key()
    first = await _send(anna, path, {"values": complete()}, key)
    assert first[0] == 200 and first[1]["created"] is True, first
    assert await _send(anna, path, {"values": complete()}, key) == first
    assert await _count(console, DocumentationRecord, DocumentationRecord.conversation_id == conv) == 1
    saved_again = await _send(anna, path, {"values": complete()}, _key())
    assert saved_again[0] == 200 and saved_again[1]["created"] is False  # a second save, not a replay


async def test_the_same_key_sent_several_times_at_once_stores_one_reply(db_url: str, tmp_path: Path) -> None:
    console = await start_console(db_url, tmp_path)
    try:
        anna = await console.signed_in("anna")
        conv = await _held(console, anna, "p5", "Hjälp mig")
        path = f"/console/api/conversations/{conv}/reply"
        key = _key()
        answers = await asyncio.gather(
            *(_send(anna, path, {"text": "Jag finns här."}, key) for _ in range(5))
        )
        done = [a for a in answers if a[0] == 200]
        assert done and all(a == done[0] for a in done)
        assert all(a[0] == 200 or a == (409, {"error": "in_progress"}) for a in answers)
        assert (
            await _count(console, Message, Message.conversation_id == conv, Message.author_id.is_not(None))
            == 1
        )
    finally:
        await stop_console(console)


async def test_documentation_sent_several_times_at_once_with_one_key_is_saved_once(
    console_any_db: Console,
) -> None:
    # Its key is claimed in the save's own transaction: the copies all act, and all but the one
    # that committed first roll back when they find the key taken, and answer what it answered.
    console = console_any_db
    anna = await console.signed_in("anna")
    conv, path = await _to_document(console, anna, "p6", "Jag är orolig för min bror")
    key = _key()
    answers = await asyncio.gather(*(_send(anna, path, {"values": complete()}, key) for _ in range(5)))
    done = [a for a in answers if a[0] == 200]
    assert done and all(a == done[0] for a in done), answers
    assert done[0][1]["created"] is True
    assert all(a[0] == 200 or a == (409, {"error": "in_progress"}) for a in answers), answers
    saves = AuditEvent.action.in_(["documentation.saved", "documentation.updated"])
    assert await _count(console, AuditEvent, AuditEvent.conversation_id == conv, saves) == 1


async def test_a_reply_resent_after_its_conversation_closed_gets_its_answer(console_any_db: Console) -> None:
    # The reply's key is claimed in the reply's own transaction, after the conversation is
    # checked: the resend's refusal (not yours any more) must not hide the answer it already has.
    console = console_any_db
    anna = await console.signed_in("anna")
    conv = await _held(console, anna, "p6", "Min bror har ändrat sig")
    path = f"/console/api/conversations/{conv}/reply"
    key = _key()
    first = await _send(anna, path, {"text": "Vi hörs."}, key)
    assert first[0] == 200
    assert (await anna.post(f"/console/api/conversations/{conv}/close", {"reason": "done"})).status == 200
    assert await _send(anna, path, {"text": "Vi hörs."}, key) == first
    assert (await _send(anna, path, {"text": "Vi hörs."}, _key()))[0] == 409  # a new reply is refused


async def test_keys_older_than_a_day_are_removed_as_replies_are_sent(
    console_any_db: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    console = console_any_db
    anna = await console.signed_in("anna")
    conv = await _held(console, anna, "p7", "Min son vill lämna rörelsen")
    path = f"/console/api/conversations/{conv}/reply"
    old, recent = _key(), _key()
    assert (await _send(anna, path, {"text": "Första."}, old))[0] == 200
    assert (await _send(anna, path, {"text": "Andra."}, recent))[0] == 200
    async with console.db.session() as s:
        await s.execute(
            update(StaffActionKey)
            .where(StaffActionKey.key == old)
            .values(created_at=utcnow() - timedelta(days=2))
        )
    monkeypatch.setattr(action_keys, "_last_purge", 0.0)  # a minute has passed since the last purge
    assert (await _send(anna, path, {"text": "Tredje."}, _key()))[0] == 200
    async with console.db.session() as s:
        kept = set((await s.execute(select(StaffActionKey.key))).scalars())
    assert old not in kept and recent in kept
