"""The pipeline end to end through the memory channel, on SQLite and on PostgreSQL: a person's message
in, stored, triaged, queued and answered.  A counsellor's actions are in test_staff.py, the sending of
replies in test_egress.py."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, select, text

from gateway import batch
from gateway.errors import InvalidInput
from gateway.store import repo
from gateway.store.models import ContactRecord, Conversation, Message
from handoff import queue
from tests.gateway.conftest import BusyStore, Gateway


async def rows(gw: Gateway, model: type) -> list[Any]:
    async with gw.db.session() as session:
        return list((await session.execute(select(model))).scalars().all())


async def test_message_is_stored_before_ingress_answers_and_the_person_gets_the_safe_response(
    gateway: Gateway,
) -> None:
    result = await gateway.memory.person_writes("anna@example.org", "min bror pratar om att döda folk")
    # Stored already when ingress answered:
    msgs = await rows(gateway, Message)
    assert [m.text for m in msgs if m.direction == "in"] == ["min bror pratar om att döda folk"]
    assert result.priority.label == "critical"
    assert result.state == "queued" and result.queue_position == 1
    got = await gateway.memory.wait_for("anna@example.org", lambda r: r.kind == "message")
    assert got.text == "SAFE:urgent_threat"


async def test_raw_address_is_only_in_the_encrypted_contact_record(gateway: Gateway) -> None:
    address = "secret.person@example.org"
    await gateway.memory.person_writes(address, "jag oroar mig för min son")
    async with gateway.db.engine.connect() as conn:
        for table in ("conversations", "messages", "audit_events", "contact_records"):
            dump = str((await conn.execute(text(f"SELECT * FROM {table}"))).fetchall())
            assert address not in dump, table
    (record,) = await rows(gateway, ContactRecord)
    assert address.encode() not in record.ciphertext
    async with gateway.db.session() as session:
        assert await repo.get_contact(session, gateway.pipeline.cipher, record.conversation_id) == address
    (conv,) = await rows(gateway, Conversation)
    assert conv.pseudonym == gateway.memory.pseudonym(address) != address


async def test_first_messages_arriving_together_open_one_conversation_each_in_one_statement(
    gateway: Gateway,
) -> None:
    """A batch opens its new conversations and stores their contacts with its messages and events:
    on PostgreSQL in the one statement that writes the batch (a critical message from someone new
    was two round trips longer before it could be alerted), so that the batch's later messages of
    the same person find the conversation in the batch, not in the store."""
    inserts: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        head = statement.lstrip().upper()
        if head.startswith(("INSERT INTO CONVERSATIONS", "INSERT INTO CONTACT_RECORDS")):
            inserts.append(statement)

    people = [f"ny-{k}@example.org" for k in range(6)]
    event.listen(gateway.db.engine.sync_engine, "before_cursor_execute", before)
    try:
        await asyncio.gather(
            *(
                gateway.memory.person_writes(p, f"{n}: jag oroar mig för min dotter")
                for n in range(3)
                for p in people
            )
        )
    finally:
        event.remove(gateway.db.engine.sync_engine, "before_cursor_execute", before)
    convs = await rows(gateway, Conversation)
    assert sorted(c.pseudonym for c in convs) == sorted(gateway.memory.pseudonym(p) for p in people)
    assert all(c.message_count >= 3 for c in convs)  # each person's three, and the answers
    async with gateway.db.session() as session:
        for conv in convs:
            address = await repo.get_contact(session, gateway.pipeline.cipher, conv.id)
            assert address is not None and gateway.memory.pseudonym(address) == conv.pseudonym
    if gateway.db.url.startswith("postgresql"):
        assert inserts == []  # inside the batch's one statement


async def test_a_channel_message_delivered_twice_is_stored_once(gateway: Gateway) -> None:
    first = await gateway.memory.person_writes("a", "jag oroar mig", external_id="<m1@x>")
    again = await gateway.memory.person_writes("a", "jag oroar mig", external_id="<m1@x>")
    assert not first.duplicate and again.duplicate
    assert again.message_id == first.message_id
    # The conversation's language, for what a channel answers by itself (XMPP's error answers).
    assert first.language == again.language == "sv"
    assert len([m for m in await rows(gateway, Message) if m.direction == "in"]) == 1


async def test_queue_orders_by_priority_then_waiting_time(gateway: Gateway) -> None:
    order = [
        ("low1", "är det anonymt?"),
        ("normal1", "min dotter har nya vänner"),
        ("high1", "han vill resa till syrien"),
        ("normal2", "jag är lärare och orolig"),
        ("critical1", "de ska spränga skolan"),
        ("low2", "är jag anonym här?"),
        ("critical2", "jag vill inte leva längre"),
    ]
    ids = {}
    for address, text_ in order:
        ids[address] = (await gateway.memory.person_writes(address, text_)).conversation_id
    async with gateway.db.session() as session:
        waiting = await queue.waiting(session)
    assert [e.conversation_id for e in waiting] == [
        ids[a] for a in ("critical1", "critical2", "high1", "normal1", "normal2", "low1", "low2")
    ]
    assert [e.priority.label for e in waiting] == ["critical"] * 2 + ["high"] + ["normal"] * 2 + ["low"] * 2


async def test_greeting_alone_waits_with_the_bot_then_queues(gateway: Gateway) -> None:
    first = await gateway.memory.person_writes("p", "hej")
    assert first.state == "bot" and first.queue_position is None
    second = await gateway.memory.person_writes("p", "min pojkvän har blivit väldigt radikal")
    assert second.conversation_id == first.conversation_id
    assert second.state == "queued" and second.queue_position == 1


async def test_priority_never_goes_down(gateway: Gateway) -> None:
    await gateway.memory.person_writes("p", "de planerar en attack på fredag")
    later = await gateway.memory.person_writes("p", "hej igen")
    assert later.priority.label == "critical"


async def test_critical_message_jumps_a_queue_of_waiting_conversations(gateway: Gateway) -> None:
    for i in range(5):
        await gateway.memory.person_writes(f"n{i}", "jag oroar mig för en vän")
    crit = await gateway.memory.person_writes("c", "han ska spränga en bomb")
    assert crit.queue_position == 1


async def test_oversized_and_empty_messages_are_refused_with_a_reason(gateway: Gateway) -> None:
    with pytest.raises(InvalidInput, match="longer than 4000"):
        await gateway.memory.person_writes("p", "x" * 4001)
    with pytest.raises(InvalidInput, match="empty"):
        await gateway.memory.person_writes("p", "   ")
    assert await rows(gateway, Message) == []


async def test_when_triage_fails_the_message_is_kept_and_queued_high_for_a_person(gateway: Gateway) -> None:
    gateway.triager.fail = True
    result = await gateway.memory.person_writes("p", "något som triage inte klarar")
    assert result.state == "queued" and result.priority.label == "high"
    got = await gateway.memory.wait_for("p", lambda r: r.kind == "message")
    assert "112" in got.text


async def test_person_ending_a_critical_conversation_no_one_has_seen_keeps_it_queued(
    gateway: Gateway,
) -> None:
    crit = await gateway.memory.person_writes("c", "jag ska ta mitt liv i kväll")
    ended = await gateway.memory.person_writes("c", "/stopp", meta={"control": "end"})
    assert ended.state == "queued"
    plain = await gateway.memory.person_writes("n", "orolig för min kusin")
    assert (await gateway.memory.person_writes("n", "", meta={"control": "end"})).state == "closed"
    async with gateway.db.session() as session:
        assert [e.conversation_id for e in await queue.waiting(session)] == [crit.conversation_id]
    assert plain.conversation_id != crit.conversation_id


async def test_notifications_carry_the_conversations_language(gateway: Gateway) -> None:
    conv = (
        await gateway.memory.person_writes("en-person", "I worry about the movement my son joined")
    ).conversation_id
    hanna = await gateway.user("hanna")
    await gateway.pipeline.staff.claim(conv, hanna)
    got = await gateway.memory.wait_for("en-person", lambda r: r.kind == "assigned")
    assert got.data is not None and got.data["language"] == "en"
    assert got.data["counsellor"] == "hanna"


async def test_many_people_writing_at_once_are_each_stored_in_order_and_answered(gateway: Gateway) -> None:
    # Messages that arrive together are committed together (group commit); each person still
    # gets their own conversation, their messages in order, and their own safe response.
    first = await asyncio.gather(
        *(gateway.memory.person_writes(f"p{i}", f"orolig för min son {i}") for i in range(30))
    )
    assert len({r.conversation_id for r in first}) == 30
    again = await asyncio.gather(
        *(
            gateway.memory.person_writes(f"p{i}", f"igen {i}", conversation_hint=first[i].conversation_id)
            for i in range(30)
        )
    )
    assert [r.conversation_id for r in again] == [r.conversation_id for r in first]
    async with gateway.db.session() as session:
        for i, r in enumerate(first):
            msgs = await repo.messages_of(session, r.conversation_id)
            assert [(m.seq, m.sender_kind, m.text) for m in msgs] == [
                (1, "person", f"orolig för min son {i}"),
                (2, "bot", "SAFE:concern_relative"),
                (3, "person", f"igen {i}"),
            ]
    assert gateway.pipeline._incoming.batches < gateway.pipeline._incoming.items


async def test_automatic_mail_is_stored_but_never_triaged_raised_or_queued(gateway: Gateway) -> None:
    first = await gateway.memory.person_writes("p-auto", "min son har nya vänner, jag är orolig")
    assert first.priority.label == "normal"
    # An out-of-office reply whose words a triager would read as a threat:
    auto = await gateway.memory.person_writes(
        "p-auto", "Jag är borta idag, ska döda tiden med en bok", meta={"automatic": True}
    )
    assert auto.priority.label == "normal" and auto.safe_response is None
    stored = next(m for m in await rows(gateway, Message) if m.id == auto.message_id)
    assert "untriaged:automatic" in stored.triage["matched_rules"]
    # From a new sender it does not open a queued conversation either.
    new = await gateway.memory.person_writes("p-auto2", "attack attack bomb", meta={"automatic": True})
    assert new.state == "bot" and new.priority.label == "low" and new.safe_response is None


async def test_one_word_answer_is_not_triaged(gateway: Gateway) -> None:
    gateway.triager.fail = True  # a triager that fails would queue it at high: it is never asked
    first = await gateway.memory.person_writes("p-yes", "ja")
    assert first.priority.label == "low" and first.state == "bot"
    for word in ("Nej.", "ok", "evet", "نعم"):
        r = await gateway.memory.person_writes("p-yes", word)
        assert r.priority.label == "low" and r.safe_response is None, word


async def test_a_conversation_raised_by_the_risk_stage_carries_the_reason(gateway: Gateway) -> None:
    from nlu.triage import build_triager

    gateway.pipeline.triager = build_triager(embedding=False)
    r = await gateway.memory.person_writes("p-risk", "jag har svalt alla sömntabletterna nu")
    assert r.priority.label == "critical"
    (conv,) = [c for c in await rows(gateway, Conversation) if c.id == r.conversation_id]
    assert conv.meta["risk"]["type"] == "self"
    assert "means: pills" in conv.meta["risk"]["reason"]
    async with gateway.db.session() as session:
        summary = repo.conversation_summary(await repo.get_conversation(session, r.conversation_id))
    assert summary["risk"]["type"] == "self"


async def test_typing_signals_read_but_never_commit(gateway: Gateway) -> None:
    from sqlalchemy import event

    from gateway.channel import CONTROL_TYPING

    first = await gateway.memory.person_writes("p-typing", "min son har nya vänner")
    await asyncio.sleep(0.3)  # let the relay publish the message's events first
    commits: list[int] = []
    sync_engine = gateway.db.engine.sync_engine
    listener = lambda conn: commits.append(1)  # noqa: E731
    event.listen(sync_engine, "commit", listener)
    try:
        for _ in range(20):
            r = await gateway.memory.person_writes("p-typing", "", meta={"control": CONTROL_TYPING})
            assert r.conversation_id == first.conversation_id
    finally:
        event.remove(sync_engine, "commit", listener)
    # The outbox relay may commit in the background meanwhile; a commit per signal would be 20.
    assert len(commits) < 5, len(commits)


async def test_a_critical_message_is_stored_before_the_reads_queued_ahead_of_it(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load the queue forms at the store's turns: a message about an attack must not wait
    behind every console read queued before it, while a greeting waits its turn until it is
    overdue (``batch.OVERDUE_SECONDS``), and then goes before the reads too."""
    db = gateway.db

    async def write(sender: str, text: str) -> None:
        await gateway.memory.person_writes(sender, text)
        done.append(text)

    cases = [("hej, jag har en fråga", 60.0), ("hej, jag har en till fråga", 0.01)]
    cases.append(("min bror pratar om att döda folk", 60.0))
    for message, overdue in cases:
        monkeypatch.setattr(batch, "OVERDUE_SECONDS", overdue)
        monkeypatch.setattr(batch, "OVERDUE_SECONDS_POOLED", overdue)
        done: list[str] = []
        async with BusyStore(db, done) as busy:
            await asyncio.sleep(0.04)
            writing = asyncio.create_task(write(f"p{len(message)}", message))
            await asyncio.sleep(0.05)  # triaged, and waiting for a turn
        await writing
        # On SQLite one session runs at a time; on PostgreSQL the reads run db.turns at a time.
        if message.startswith("hej") and overdue > 1:
            # Let in only once every read before it was: all but the last turns' have finished.
            assert done.index(message) >= busy.reads - db.turns + 1, "a greeting waits its turn"
        elif db.turns == 1:
            # At most one read goes in between: the one that took the turn a batch let go.
            assert done.index(message) <= 1, done
        else:
            assert done.index(message) <= busy.reads // 2, done


async def test_messages_arriving_at_once_keep_each_senders_order(gateway: Gateway) -> None:
    """On PostgreSQL batches are stored side by side; a sender's messages still go in the order
    they came, whichever batch each fell in."""
    senders = [f"order-{k}" for k in range(6)]
    writes = [
        gateway.memory.person_writes(sender, f"meddelande {n} från {sender}")
        for n in range(5)
        for sender in senders
    ]
    await asyncio.gather(*writes)
    for sender in senders:
        stored = [m for m in await rows(gateway, Message) if m.direction == "in" and sender in m.text]
        stored.sort(key=lambda m: m.seq)
        assert [m.text for m in stored] == [f"meddelande {n} från {sender}" for n in range(5)]
