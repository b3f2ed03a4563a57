"""A counsellor's actions (gateway/staff.py) through the memory channel: claims (one winner, the
counsellor's capacity), replies (only the holder's, each in its own place), closing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import insert

from gateway.envelope import utcnow
from gateway.errors import Conflict
from gateway.store import repo
from gateway.store.action_keys import KEYS
from tests.gateway.conftest import Gateway
from tests.harness import make_settings, start


async def test_two_counsellors_claim_at_once_exactly_one_wins(gateway: Gateway) -> None:
    conv = (await gateway.memory.person_writes("p", "jag oroar mig för min bror")).conversation_id
    alice, bob = await gateway.user("alice"), await gateway.user("bob")
    results = await asyncio.gather(
        gateway.pipeline.staff.claim(conv, alice),
        gateway.pipeline.staff.claim(conv, bob),
        return_exceptions=True,
    )
    winners = [r for r in results if r is None]
    losers = [r for r in results if isinstance(r, Conflict)]
    assert len(winners) == 1 and len(losers) == 1
    assert str(losers[0]) == "already_claimed"


async def test_claims_stop_at_the_counsellors_capacity(gateway: Gateway) -> None:
    c1 = (await gateway.memory.person_writes("p1", "orolig för min son")).conversation_id
    c2 = (await gateway.memory.person_writes("p2", "orolig för min dotter")).conversation_id
    carl = await gateway.user("carl", capacity=1)
    await gateway.pipeline.staff.claim(c1, carl)
    with pytest.raises(Conflict, match="capacity_full"):
        await gateway.pipeline.staff.claim(c2, carl)
    await gateway.pipeline.staff.release(c1, carl)
    await gateway.pipeline.staff.claim(c2, carl)


async def test_counsellor_joins_replies_and_closes_and_the_person_sees_each_step(gateway: Gateway) -> None:
    conv = (await gateway.memory.person_writes("p", "jag vill lämna rörelsen")).conversation_id
    dana = await gateway.user("dana")
    await gateway.pipeline.staff.claim(conv, dana)
    await gateway.memory.wait_for("p", lambda r: r.kind == "assigned")
    await gateway.pipeline.staff.reply(conv, "Hej, jag heter Dana. Berätta mer.", dana)
    await gateway.memory.wait_for("p", lambda r: r.text == "Hej, jag heter Dana. Berätta mer.")
    await gateway.pipeline.staff.close(conv, dana)
    await gateway.memory.wait_for("p", lambda r: r.kind == "closed")
    # Writing again later starts a new conversation.
    again = await gateway.memory.person_writes("p", "jag vill lämna rörelsen igen")
    assert again.conversation_id != conv
    async with gateway.db.session() as session:
        msgs = await repo.messages_of(session, conv)
    assert [m.sender_kind for m in msgs] == ["person", "bot", "counsellor"]
    deliveries = {m.sender_kind: m.delivery for m in msgs}
    for _ in range(50):
        async with gateway.db.session() as session:
            deliveries = {m.sender_kind: m.delivery for m in await repo.messages_of(session, conv)}
        if deliveries.get("counsellor") == "sent":
            break
        await asyncio.sleep(0.05)
    assert deliveries["counsellor"] == "sent"


async def test_only_the_assigned_counsellor_replies(gateway: Gateway) -> None:
    conv = (await gateway.memory.person_writes("p", "orolig förälder")).conversation_id
    erik, fia = await gateway.user("erik"), await gateway.user("fia")
    await gateway.pipeline.staff.claim(conv, erik)
    with pytest.raises(Conflict):
        await gateway.pipeline.staff.reply(conv, "hej", fia)


async def test_replies_sent_at_once_get_their_own_places_and_a_stranger_is_refused(gateway: Gateway) -> None:
    convs = [
        (await gateway.memory.person_writes(f"r{i}", "orolig förälder")).conversation_id for i in range(3)
    ]
    hanna, ivar = await gateway.user("hanna"), await gateway.user("ivar")
    for conv in convs:
        await gateway.pipeline.staff.claim(conv, hanna)
    results = await asyncio.gather(
        *(gateway.pipeline.staff.reply(convs[0], f"svar {k}", hanna) for k in range(5)),
        gateway.pipeline.staff.reply(convs[1], "inte din", ivar),
        gateway.pipeline.staff.reply(convs[2], "till tre", hanna),
        return_exceptions=True,
    )
    assert isinstance(results[5], Conflict)
    assert sorted(r["seq"] for r in results[:5]) == [3, 4, 5, 6, 7]  # type: ignore[index]
    assert results[6]["seq"] == 3  # type: ignore[index]
    async with gateway.db.session() as session:
        texts = [m.text for m in await repo.messages_of(session, convs[1])]
    assert "inte din" not in texts


async def test_a_claim_and_a_reply_do_not_wait_for_a_write_that_only_names_the_counsellor(
    pg_url: str, tmp_path: Path
) -> None:
    """On PostgreSQL a row that names a counsellor or a conversation (a reply's message, an
    idempotency key) holds a key-share lock on it until its transaction ends.  The claim's lock on
    the counsellor and the reply's on the conversation change no key, so they must not wait for such
    a write: under load they did, for hundreds of milliseconds (issue #18)."""
    gw = await start(make_settings(pg_url, tmp_path), memory=True, cls=Gateway)
    try:
        c1 = (await gw.memory.person_writes("p1", "orolig för min son")).conversation_id
        c2 = (await gw.memory.person_writes("p2", "orolig för min dotter")).conversation_id
        lena = await gw.user("lena")
        await gw.pipeline.staff.claim(c1, lena)
        async with gw.db.session() as session:  # another transaction of hers, still writing
            await session.execute(
                insert(KEYS).values(
                    user_id=lena.id,
                    key="k" * 16,
                    action="reply",
                    request_hash="h" * 64,
                    conversation_id=c1,
                    created_at=utcnow(),
                )
            )
            await session.flush()
            await asyncio.wait_for(gw.pipeline.staff.claim(c2, lena), 5)
            await asyncio.wait_for(gw.pipeline.staff.reply(c1, "Hej, jag heter Lena.", lena), 5)
    finally:
        await gw.close()
