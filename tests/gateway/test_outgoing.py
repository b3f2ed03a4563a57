"""``Pipeline.outgoing``: one system message to the person, in the caller's transaction, stored and
evented as the batches store the bot's and the counsellors' messages (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest
from sqlalchemy import select

from gateway.errors import NotFound
from gateway.outgoing import OutgoingMessages
from gateway.store import repo
from gateway.store.models import Message, OutboxEvent
from gateway.writes import EventRows
from tests.gateway.conftest import Gateway

ANNA = "anna@example.org"
THREAD = {
    "subject": "Min son",
    "reply_in_reply_to": "<m1@example.org>",
    "reply_references": "<m1@example.org>",
}


class Died(Exception):
    """The caller's transaction fails after the message was written."""


def _about(rows: Iterable[OutboxEvent], message_id: str) -> list[str]:
    """The topics of the outbox rows about one message (a fan-out event, an egress event)."""
    return [
        r.topic
        for r in rows
        if r.payload.get("message_id") == message_id
        or (r.payload.get("message") or {}).get("id") == message_id
    ]


async def _delivery(gw: Gateway, message_id: str) -> str | None:
    async with gw.db.session() as session:
        msg = await session.get(Message, message_id)
        return msg.delivery if msg is not None else None


async def test_a_system_message_goes_out_once_threaded_in_the_callers_transaction(gateway: Gateway) -> None:
    conv_id = str(
        (await gateway.memory.person_writes(ANNA, "jag oroar mig för min son", meta=THREAD)).conversation_id
    )
    await gateway.memory.wait_for(ANNA, lambda r: r.text.startswith("SAFE:"))
    outgoing = gateway.pipeline.outgoing
    async with gateway.db.session() as session:
        conv = await repo.get_conversation(session, conv_id)  # the caller's own copy, kept in step
        written = await outgoing.write(
            session, conv_id, "Vill du att vi skickar det?", meta={"referral_id": "r1"}
        )
        assert conv.message_count == written.seq == 3  # the person's message, the safe response, this
        stored = await session.get(Message, written.id)
        assert stored is not None and stored.delivery == "pending"  # for the channel's egress
        assert stored.sender_kind == "system" and stored.meta == {"referral_id": "r1"}
        rows = (
            await session.execute(select(OutboxEvent).where(OutboxEvent.conversation_id == conv_id))
        ).scalars()
        assert sorted(_about(rows, written.id)) == ["conversation", "outbound.memory"]
    assert written.message["text"] == "Vill du att vi skickar det?"
    assert written.summary["id"] == conv_id
    outgoing.committed()

    got = await gateway.memory.wait_for(ANNA, lambda r: r.text == "Vill du att vi skickar det?")
    assert got.envelope is not None and got.envelope.message_id == written.id
    assert got.envelope.meta["reply_in_reply_to"] == "<m1@example.org>"  # threaded like a reply
    assert got.envelope.meta["subject"] == "Min son" and got.envelope.meta["seq"] == 3
    await asyncio.sleep(0.3)
    assert [r.text for r in gateway.memory.outbox[ANNA]].count("Vill du att vi skickar det?") == 1
    assert await _delivery(gateway, written.id) == "sent"


async def test_a_transaction_that_fails_after_the_write_leaves_no_message_and_no_event(
    gateway: Gateway,
) -> None:
    conv_id = str((await gateway.memory.person_writes(ANNA, "jag oroar mig för min son")).conversation_id)
    await gateway.memory.wait_for(ANNA, lambda r: r.text.startswith("SAFE:"))
    await asyncio.sleep(0.2)  # the relay has published (and removed) the first events
    with pytest.raises(Died):
        async with gateway.db.session() as session:
            await gateway.pipeline.outgoing.write(session, conv_id, "Detta ska aldrig synas")
            raise Died
    gateway.pipeline.outgoing.committed()
    await asyncio.sleep(0.3)
    assert "Detta ska aldrig synas" not in [r.text for r in gateway.memory.outbox[ANNA]]
    async with gateway.db.session() as session:
        kept = await session.execute(select(Message.text).where(Message.conversation_id == conv_id))
        assert "Detta ska aldrig synas" not in kept.scalars().all()
    # Its place was not taken: the next message is the third.
    written = await gateway.pipeline.outgoing.send(conv_id, "Hej igen")
    assert written.seq == 3
    await gateway.memory.wait_for(ANNA, lambda r: r.text == "Hej igen")


async def test_on_a_channel_that_delivers_by_events_it_is_stored_queued_without_egress(
    gateway: Gateway,
) -> None:
    conv_id = str((await gateway.memory.person_writes(ANNA, "jag oroar mig för min son")).conversation_id)
    await gateway.memory.wait_for(ANNA, lambda r: r.text.startswith("SAFE:"))
    await asyncio.sleep(0.2)  # the relay has published (and removed) the first events
    pipeline = gateway.pipeline
    # The same writer as for a web chat: the memory channel counted among those that deliver by events.
    by_events = OutgoingMessages(
        pipeline.db, pipeline.outbox, EventRows(pipeline.outbox, pipeline.broker, frozenset({"memory"}))
    )
    async with gateway.db.session() as session:
        written = await by_events.write(session, conv_id, "Via händelser")
        rows = (
            await session.execute(select(OutboxEvent).where(OutboxEvent.conversation_id == conv_id))
        ).scalars()
        assert _about(rows, written.id) == ["conversation"]
    assert await _delivery(gateway, written.id) == "queued"


async def test_a_conversation_that_does_not_exist_is_not_found(gateway: Gateway) -> None:
    with pytest.raises(NotFound):
        await gateway.pipeline.outgoing.send("0" * 32, "Hej")
