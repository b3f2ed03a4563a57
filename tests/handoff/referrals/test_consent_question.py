"""The consent question and the thanks go to the person as the pipeline writes every outgoing
message (``Pipeline.outgoing``): once, threaded like a reply, stored ``pending`` for egress on the
memory channel and ``queued`` on the web chat (which delivers from events), and in the very
transaction that changes the referral: a crash between the two leaves neither (the question when
it is asked; the person's answer and the thanks, which the consent group then hands on again)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bots.memory import Received
from bots.webchat.adapter import WebchatAdapter
from gateway import writes
from gateway.store import repo
from gateway.store.models import Message, OutboxEvent
from handoff.referrals.web import REFERRALS
from tests.bots.webchat.conftest import WEBCHAT_CONFIG, Visitor
from tests.handoff.conftest import Env, start_env, stop_env
from tests.handoff.referrals.test_web import new_referral

ANNA = "anna@example.org"
THREAD = {"subject": "Orolig för min son", "reply_in_reply_to": "<m1@example.org>"}


class Died(Exception):
    """The process died here: nothing after this point of the request runs."""


def _questions(env: Env, address: str = ANNA) -> list[Received]:
    return [r for r in env.memory.outbox.get(address, []) if "Svara JA" in r.text]


async def _stored(env: Env, conv_id: str, words: str) -> list[Message]:
    async with env.db.session() as session:
        found = await session.execute(
            select(Message).where(Message.conversation_id == conv_id).order_by(Message.seq)
        )
        return [m for m in found.scalars().all() if words in m.text]


async def _delivery(env: Env, message_id: str) -> str | None:
    async with env.db.session() as session:
        msg = await session.get(Message, message_id)
        return msg.delivery if msg is not None and msg.delivery != "pending" else None


async def _outbox_rows(env: Env, conv_id: str) -> list[OutboxEvent]:
    async with env.db.session() as session:
        found = await session.execute(select(OutboxEvent).where(OutboxEvent.conversation_id == conv_id))
        return list(found.scalars().all())


async def test_the_question_and_the_thanks_reach_the_person_once_threaded(env_any_db: Env) -> None:
    env = env_any_db
    counsellor = await env.signed_in("cora")
    conv_id = await env.person(ANNA, "Jag är orolig för min son")
    await env.memory.person_writes(ANNA, "Han har ändrat sig mycket", meta=THREAD)
    await env.pipeline.staff.claim(conv_id, counsellor.user)
    status, data = await counsellor.post(
        f"/console/api/conversations/{conv_id}/referrals",
        {
            "recipient_id": "kunskapshus-goteborg",
            "topic": "radicalisation_concern",
            "contact_type": "relative",
            "municipality_code": "1481",
            "summary": "Sonen umgås med en våldsbejakande grupp.",
        },
    )
    assert status == 201, data
    rid = data["referral"]["id"]
    status, data = await counsellor.post(f"/console/api/referrals/{rid}/consent-request")
    assert status == 200 and data["referral"]["status"] == "consent_requested"

    question = await env.memory.wait_for(ANNA, lambda r: "Svara JA" in r.text)
    assert question.envelope is not None
    # Threaded to the person's own last message, like a counsellor's reply.
    assert question.envelope.meta["reply_in_reply_to"] == "<m1@example.org>"
    assert question.envelope.meta["subject"] == "Orolig för min son"
    [stored] = await _stored(env, conv_id, "Svara JA")
    assert (stored.sender_kind, stored.direction) == ("system", "out")
    assert stored.meta == {"referral_id": rid}
    assert stored.id == question.envelope.message_id

    await env.memory.person_writes(ANNA, "ja")
    await env.memory.wait_for(ANNA, lambda r: "Vi skickar uppgifterna" in r.text)
    await asyncio.sleep(0.5)  # time for a second copy to arrive, were there one
    assert len(_questions(env)) == 1
    assert len([r for r in env.memory.outbox[ANNA] if "Vi skickar uppgifterna" in r.text]) == 1
    [thanks] = await _stored(env, conv_id, "Vi skickar uppgifterna")
    assert thanks.meta == {"referral_id": rid} and thanks.seq > stored.seq
    assert await env.until(lambda: _delivery(env, thanks.id)) == "sent"  # stored pending, sent by egress


async def test_a_crash_between_the_question_and_the_referral_leaves_neither(
    env_any_db: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = env_any_db
    counsellor = await env.signed_in("cora")
    conv_id, rid = await new_referral(env, counsellor)
    audit = repo.audit

    async def dies_on_the_question(session: Any, action: str, *args: Any, **kw: Any) -> Any:
        if action == "referral.consent_requested":  # after the message, before the commit
            raise Died
        return await audit(session, action, *args, **kw)

    monkeypatch.setattr(repo, "audit", dies_on_the_question)
    with pytest.raises(Died):
        await env.server.app[REFERRALS].consent.request(rid, counsellor.user)
    await asyncio.sleep(0.3)
    assert _questions(env) == []
    assert await _stored(env, conv_id, "Svara JA") == []
    assert await _outbox_rows(env, conv_id) == []
    _, data = await counsellor.get(f"/console/api/referrals/{rid}")
    assert data["referral"]["status"] == "proposed"

    monkeypatch.setattr(repo, "audit", audit)  # the process is back: asking again asks once
    status, data = await counsellor.post(f"/console/api/referrals/{rid}/consent-request")
    assert status == 200 and data["referral"]["status"] == "consent_requested"
    await env.memory.wait_for(ANNA, lambda r: "Svara JA" in r.text)
    await asyncio.sleep(0.3)
    assert len(_questions(env)) == 1
    assert len(await _stored(env, conv_id, "Svara JA")) == 1


@pytest.fixture
async def chat_env(db_url: str, tmp_path: Path) -> AsyncIterator[Env]:
    """The referrals' gateway with the web chat besides the memory channel."""
    adapter = WebchatAdapter(dict(WEBCHAT_CONFIG), pseudonym_key=b"\1" * 32)
    env = await start_env(db_url, tmp_path, adapters=[adapter])
    try:
        yield env
    finally:
        await stop_env(env)


async def test_the_question_reaches_a_web_chat_once_from_events(chat_env: Env) -> None:
    env = chat_env
    counsellor = await env.signed_in("cora")
    visitor = Visitor(await env.gateway.client.ws_connect("/chat/ws"))
    try:
        await visitor.hello()
        ack = await visitor.write("Jag är orolig för min son", "client-0001")
        assert ack["type"] == "ack"
        welcome = await visitor.expect(lambda f: f["type"] == "welcome" and f["conversation_id"])
        conv_id = str(welcome["conversation_id"])
        await env.pipeline.staff.claim(conv_id, counsellor.user)
        status, data = await counsellor.post(
            f"/console/api/conversations/{conv_id}/referrals",
            {
                "recipient_id": "kunskapshus-goteborg",
                "topic": "radicalisation_concern",
                "contact_type": "relative",
                "municipality_code": "1481",
                "summary": "Sonen umgås med en våldsbejakande grupp.",
            },
        )
        assert status == 201, data
        rid = data["referral"]["id"]
        status, _ = await counsellor.post(f"/console/api/referrals/{rid}/consent-request")
        assert status == 200

        frame = await visitor.expect(lambda f: f["type"] == "message" and "Svara JA" in f["text"])
        assert frame["kind"] == "system"
        [stored] = await _stored(env, conv_id, "Svara JA")
        assert stored.delivery == "queued"  # the web chat delivers from the event, not by egress
        assert frame["seq"] == stored.seq and frame["id"] == stored.id

        await visitor.write("ja", "client-0002")
        await visitor.expect(lambda f: f["type"] == "message" and "Vi skickar uppgifterna" in f["text"])
        await visitor.settle()  # every frame the socket sends until it is quiet
        shown = [f for f in visitor.frames if f["type"] == "message"]
        assert len([f for f in shown if "Svara JA" in f["text"]]) == 1
        assert len([f for f in shown if "Vi skickar uppgifterna" in f["text"]]) == 1
        [thanks] = await _stored(env, conv_id, "Vi skickar uppgifterna")
        assert thanks.delivery == "queued"
        _, data = await counsellor.get(f"/console/api/referrals/{rid}")
        assert data["referral"]["consent_via"] == "person"
    finally:
        await visitor.close()


async def test_a_crash_between_the_answer_and_the_thanks_leaves_neither_and_the_answer_counts_once(
    env_any_db: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = env_any_db
    counsellor = await env.signed_in("cora")
    conv_id, rid = await new_referral(env, counsellor)
    await counsellor.post(f"/console/api/referrals/{rid}/consent-request")
    await env.memory.wait_for(ANNA, lambda r: "Svara JA" in r.text)
    write = writes.Writes.write
    died = asyncio.Event()

    async def dies_writing_the_thanks(self: writes.Writes, session: Any) -> None:
        # The answer is stored in this transaction already; the thanks' rows and the commit never
        # come (on PostgreSQL the thanks, its events and the conversation are one statement).
        if any(
            "Vi skickar ingenting" in str((r["payload"].get("message") or {}).get("text"))
            for r in self.events
        ):
            died.set()
            raise Died
        await write(self, session)

    monkeypatch.setattr(writes.Writes, "write", dies_writing_the_thanks)
    await env.memory.person_writes(ANNA, "nej")
    await asyncio.wait_for(died.wait(), 5)
    _, data = await counsellor.get(f"/console/api/referrals/{rid}")
    assert data["referral"]["status"] == "consent_requested"
    assert await _stored(env, conv_id, "Vi skickar ingenting") == []

    # Back on its feet: the consent group hands the answer on again, and it counts once.
    monkeypatch.setattr(writes.Writes, "write", write)
    await env.memory.wait_for(ANNA, lambda r: "Vi skickar ingenting" in r.text, timeout=10)
    await asyncio.sleep(0.5)
    _, data = await counsellor.get(f"/console/api/referrals/{rid}")
    assert data["referral"]["status"] == "refused" and data["referral"]["consent_via"] == "person"
    assert len(await _stored(env, conv_id, "Vi skickar ingenting")) == 1
    assert len([r for r in env.memory.outbox[ANNA] if "Vi skickar ingenting" in r.text]) == 1
    assert (await env.actions(conv_id)).count("referral.refused") == 1
