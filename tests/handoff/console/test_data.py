"""The queue as the consoles' live feed reads it on every queue event (handoff.console.data)."""

from __future__ import annotations

from sqlalchemy import select

from gateway.store.models import Conversation
from handoff import queue
from handoff.console.data import mine_entry, queue_snapshot
from tests.handoff.console.conftest import Console


async def test_the_live_feeds_queue_is_the_queue_and_each_counsellors_own(console: Console) -> None:
    anna = await console.signed_in("anna")
    await console.person("p1", "min son har blivit radikal")
    critical = await console.person("p2", "jag vill inte leva längre")
    await console.person("p3", "min bror pratar om att resa till syrien")
    held = await console.person("p4", "min dotter har nya vänner som skrämmer mig")
    assert (await anna.claim(held)).status == 200

    async with console.db.session() as session:
        waiting, by_user = await queue_snapshot(session)
        entries = [e.to_dict() for e in await queue.waiting(session)]
        mine = (await session.execute(select(Conversation).where(Conversation.id == held))).scalar_one()
        anna_id = mine.assigned_to
        expected_mine = mine_entry(mine)

    # The same conversations in the same order (the critical one first), shown alike.
    assert [w["conversation_id"] for w in waiting] == [e["conversation_id"] for e in entries]
    assert waiting[0]["conversation_id"] == critical and waiting[0]["priority"] == "critical"
    for got, want in zip(waiting, entries, strict=True):
        assert abs(got.pop("waiting_seconds") - want.pop("waiting_seconds")) < 1
        assert got == want
    assert by_user == {anna_id: [expected_mine]}
