"""Egress (gateway/egress.py): what a channel answers when a counsellor's reply is sent."""

from __future__ import annotations

import asyncio

import pytest

from gateway.store import repo
from tests.gateway.conftest import BusyStore, Gateway


async def test_a_person_who_blocked_the_channel_marks_the_conversation_unreachable(gateway: Gateway) -> None:
    conv = (await gateway.memory.person_writes("gone", "orolig förälder")).conversation_id
    gateway.memory.blocked.add("gone")
    gus = await gateway.user("gus")
    await gateway.pipeline.staff.claim(conv, gus)
    await gateway.pipeline.staff.reply(conv, "Är du kvar?", gus)
    for _ in range(100):
        async with gateway.db.session() as session:
            if (await repo.get_conversation(session, conv)).unreachable:
                return
        await asyncio.sleep(0.05)
    pytest.fail("conversation was not marked unreachable")


async def test_a_send_that_never_answers_is_cut_off_and_the_message_sent_again(gateway: Gateway) -> None:
    # The claim on sending holds for the lease; a send still hanging then could cross another
    # process's send of the same message, so egress cuts it off at half the lease and retries.
    gateway.pipeline.egress.send_lease = 1.0
    gateway.memory.stalled["p"] = 1
    conv = (await gateway.memory.person_writes("p", "jag oroar mig för min bror")).conversation_id
    got = await gateway.memory.wait_for("p", lambda r: r.kind == "message", timeout=10)
    assert got.text.startswith("SAFE:")
    assert gateway.memory.stalled["p"] == 0
    for _ in range(100):  # the mark follows the send
        async with gateway.db.session() as session:
            (bot,) = [m for m in await repo.messages_of(session, conv) if m.sender_kind == "bot"]
        if bot.delivery == "sent":
            break
        await asyncio.sleep(0.05)
    assert bot.delivery == "sent"
    assert [r.kind for r in gateway.memory.outbox["p"]].count("message") == 1


async def test_a_reply_is_sent_before_the_reads_queued_ahead_of_it(gateway: Gateway) -> None:
    """Under load the queue forms at the store's turns: a counsellor's reply, stored (one turn)
    and then sent (one turn to claim it and read what to send), goes before the console's reads
    each time it has waited its overdue time, instead of after every read queued before it."""
    conv = (await gateway.memory.person_writes("q", "min bror har ändrat sig")).conversation_id
    gus = await gateway.user("gus")
    await gateway.pipeline.staff.claim(conv, gus)
    await gateway.memory.wait_for("q", lambda r: r.kind == "message")  # the safe answer is out
    done: list[str] = []

    async def sent() -> None:
        await gateway.memory.wait_for("q", lambda r: r.text == "Vi hörs.", timeout=20)
        done.append("sent")

    waiting = asyncio.create_task(sent())
    # A console read under load holds its turn a while: the queue behind it is long.
    async with BusyStore(gateway.db, done, read_seconds=0.02) as busy:
        replying = asyncio.create_task(gateway.pipeline.staff.reply(conv, "Vi hörs.", gus))
        await asyncio.sleep(0.2)  # the reply waits for a turn, and is overdue
    await asyncio.gather(replying, waiting)
    assert done.index("sent") <= busy.reads // 2, done
