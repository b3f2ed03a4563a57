"""Returning contacts: the Person panel shows a person's earlier conversations (dates, documentation,
referrals; never transcripts), opening one is audited; the person (in the chat) or a counsellor (on
their behalf) can unlink them, after which no conversation finds the others, retention included."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from gateway import catalogues
from gateway.envelope import utcnow
from gateway.store.models import AuditEvent, Conversation, Message
from handoff.history.person import asks_to_be_forgotten
from handoff.records.models import DocumentationRecord
from handoff.records.retention import RetentionPolicy, run_retention
from handoff.referrals.models import Referral
from tests.handoff.console.conftest import Browser, Console

CONCERN = "jag oroar mig för min bror"


async def closed_and_documented(console: Console, anna: Browser, address: str, summary: str) -> str:
    conv = await console.person(address, CONCERN)
    assert (await anna.claim(conv)).status == 200
    assert (await anna.post(f"/console/api/conversations/{conv}/close", {})).status == 200
    async with console.db.session() as session:
        session.add(
            DocumentationRecord(conversation_id=conv, fields={}, summary=summary, outcome="advice_given")
        )
        session.add(referral(conv, "kunskapshus-goteborg", "sent"))
    return conv


async def returning_person(console: Console, anna: Browser) -> tuple[str, str]:
    """Anna closed and documented a person's conversation; the person writes again, and Anna holds
    the new one: (the first conversation, the new one)."""
    first = await closed_and_documented(console, anna, "p", "Orolig för brodern, fick råd.")
    again = await console.person("p", "det har hänt något nytt med min bror")
    assert (await anna.claim(again)).status == 200
    return first, again


def referral(conversation_id: str, recipient_id: str, status: str) -> Referral:
    """A referral of a relative's concern, as stored."""
    return Referral(
        id=uuid.uuid4().hex,
        conversation_id=conversation_id,
        recipient_id=recipient_id,
        topic="radicalisation_concern",
        contact_type="relative",
        idempotency_key=uuid.uuid4().hex,
        status=status,
    )


async def audits(console: Console, action: str) -> list[AuditEvent]:
    async with console.db.session() as session:
        rows = await session.execute(select(AuditEvent).where(AuditEvent.action == action))
        return list(rows.scalars())


async def test_a_returning_person_is_recognised_with_documentation_not_transcripts(
    console_any_db: Console,
) -> None:
    console = console_any_db
    anna = await console.signed_in("anna")
    bert = await console.signed_in("bert")
    stranger = await closed_and_documented(console, anna, "someone-else", "Annan person.")
    first, again = await returning_person(console, anna)

    panel = await (await anna.get(f"/console/api/conversations/{again}/person")).json()
    assert panel["unlinked"] is False
    assert [e["conversation_id"] for e in panel["earlier"]] == [first]  # not the stranger's
    entry = panel["earlier"][0]
    assert entry["documented"] is True and entry["referrals"] == 1 and entry["closed_at"]
    assert "messages" not in entry and "summary" not in entry  # the list itself shows no text

    opened = await anna.get(f"/console/api/conversations/{again}/person/{first}")
    assert opened.status == 200
    detail = await opened.json()
    assert detail["documentation"]["summary"] == "Orolig för brodern, fick råd."
    assert [r["recipient_id"] for r in detail["referrals"]] == ["kunskapshus-goteborg"]
    assert CONCERN not in str(detail)  # never the transcript
    [event] = await audits(console, "person.earlier_opened")
    assert event.actor == "anna" and event.conversation_id == first and event.details == {"from": again}

    # Only an earlier conversation of the same person can be opened this way.
    assert (await anna.get(f"/console/api/conversations/{again}/person/{stranger}")).status == 404
    # A colleague who does not hold the conversation sees nothing (refusal audited).
    assert (await bert.get(f"/console/api/conversations/{again}/person")).status == 403
    assert len(await audits(console, "person.denied")) == 1


async def test_the_person_asks_in_the_chat_and_is_no_longer_recognised(console_any_db: Console) -> None:
    console = console_any_db
    anna = await console.signed_in("anna")
    first = await closed_and_documented(console, anna, "p", "Första samtalet.")
    second = await console.person("p", CONCERN)
    assert (await anna.claim(second)).status == 200
    panel = await (await anna.get(f"/console/api/conversations/{second}/person")).json()
    assert [e["conversation_id"] for e in panel["earlier"]] == [first]

    await console.memory.person_writes("p", "Glöm mig mellan samtalen, tack.")
    told = await console.memory.wait_for(
        "p", lambda r: r.kind == "message" and r.text == catalogues.text("person", "sv", "notice.forgotten")
    )
    assert told.envelope is not None and told.envelope.sender_kind.value == "system"
    panel = await (await anna.get(f"/console/api/conversations/{second}/person")).json()
    assert panel["unlinked"] is True and panel["earlier"] == []
    [event] = await audits(console, "person.unlinked")
    assert event.actor == "system" and event.details == {"via": "person", "earlier": 1}

    # After the close, the next conversation finds neither of the two.
    assert (await anna.post(f"/console/api/conversations/{second}/close", {})).status == 200
    third = await console.person("p", "hej igen, det gäller min bror")
    assert (await anna.claim(third)).status == 200
    panel = await (await anna.get(f"/console/api/conversations/{third}/person")).json()
    assert panel["unlinked"] is False and panel["earlier"] == []
    async with console.db.session() as session:
        pseudonyms = {
            c.id: c.pseudonym
            for c in (
                await session.execute(select(Conversation).where(Conversation.id.in_([first, second, third])))
            ).scalars()
        }
    assert len(set(pseudonyms.values())) == 3
    assert pseudonyms[first].startswith("u:") and pseudonyms[second].startswith("u:")


async def test_a_counsellor_unlinks_on_the_persons_behalf_and_retention_still_purges(
    console_any_db: Console,
) -> None:
    console = console_any_db
    anna = await console.signed_in("anna")
    first = await closed_and_documented(console, anna, "p", "Första.")
    second = await console.person("p", CONCERN)
    assert (await anna.claim(second)).status == 200
    resp = await anna.post(f"/console/api/conversations/{second}/forget", {})
    assert resp.status == 200 and (await resp.json()) == {"ok": True, "unlinked": 1}
    panel = await (await anna.get(f"/console/api/conversations/{second}/person")).json()
    assert panel["unlinked"] is True and panel["earlier"] == []
    [event] = await audits(console, "person.unlinked")
    assert event.actor == "anna" and event.details == {"via": "counsellor", "earlier": 1}

    # Retention treats the unlinked conversation like any other: its transcript goes on time,
    # and in "anonymise" mode too (the pseudonym is not empty until then).
    async with console.db.session() as session:
        conv = await session.get(Conversation, first)
        assert conv is not None
        conv.closed_at = utcnow() - timedelta(days=40)
    report = await run_retention(console.db, RetentionPolicy(transcripts_mode="anonymise"), utcnow())
    assert report.total > 0
    async with console.db.session() as session:
        conv = await session.get(Conversation, first)
        assert conv is not None and conv.pseudonym == ""
        metas = (
            await session.execute(select(Message.meta).where(Message.conversation_id == first))
        ).scalars()
        assert [m.get("anonymised") for m in metas] == [True, True]


def test_the_persons_words_for_forget_me() -> None:
    for text in (
        "glöm mig mellan samtalen",
        "Kan ni GLÖM MIG MELLAN SAMTALEN?",
        "glom mig mellan samtal",
        "Glöm mig!",
        "Please forget me between conversations.",
        "forget me",
        "/glöm",
    ):
        assert asks_to_be_forgotten(text), text
    for text in ("glöm mig inte", "jag glömde mig själv", "don't forget me", "forget it"):
        assert not asks_to_be_forgotten(text), text


async def test_an_english_request_in_the_chat_is_answered_in_english(console: Console) -> None:
    anna = await console.signed_in("anna")
    await closed_and_documented(console, anna, "p", "First.")
    conv = await console.person("p", "i am worried about the kids at my school")
    await console.memory.person_writes("p", "Please forget me between conversations")
    await console.memory.wait_for(
        "p", lambda r: r.kind == "message" and r.text == catalogues.text("person", "en", "notice.forgotten")
    )
    async with console.db.session() as session:
        found = await session.get(Conversation, conv)
        assert found is not None and found.meta.get("unlink_at_close") is True
