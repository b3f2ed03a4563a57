"""The store hands each committed transaction's events to its process's relay: they are published
without being read back, never when the transaction rolled back, and what was not handed over
(a commit whose answer was lost) is still found by the poll, under steady load too."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select

from gateway.broker.base import Event
from gateway.broker.inprocess import InProcessBroker
from gateway.outbox import OUTBOX, Outbox
from gateway.store.db import Database
from gateway.store.models import OutboxEvent
from tests.gateway.conftest import wait_until


async def _listening(broker: InProcessBroker) -> list[Event]:
    got: list[Event] = []

    async def on_event(ev: Event) -> None:
        got.append(ev)

    await broker.fanout("queue", on_event)
    return got


def _outbox_reads(db: Database) -> list[str]:
    """The statements that read the outbox table back, as they are sent to the store."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "outbox_events" in statement:
            seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", before)
    return seen


async def _started(db: Database, origin: str) -> tuple[InProcessBroker, list[Event], Outbox]:
    """A broker with a listener, and a started relay whose poll never runs in the test."""
    broker = InProcessBroker()
    await broker.start()
    got = await _listening(broker)
    outbox = Outbox(db, broker, origin, poll=30.0)
    outbox.start()
    await asyncio.sleep(0.05)  # the start's first look for rows left behind
    return broker, got, outbox


async def _left(db: Database) -> int:
    async with db.session() as session:
        return int((await session.execute(select(func.count()).select_from(OutboxEvent))).scalar_one())


async def test_committed_events_are_published_without_a_read_and_a_rollback_publishes_nothing(
    db: Database,
) -> None:
    broker = InProcessBroker()
    await broker.start()
    got = await _listening(broker)
    outbox = Outbox(db, broker, "handover", poll=30.0)  # the poll never runs in this test
    outbox.start()
    await asyncio.sleep(0.05)  # the start's first look for rows left behind
    reads = _outbox_reads(db)
    try:
        with pytest.raises(RuntimeError):
            async with db.session() as session:
                await outbox.add(session, "queue", {"n": "rolled back"})
                raise RuntimeError("the change failed")
        outbox.wake()
        async with db.session() as session:
            await outbox.add(session, "queue", {"n": 1})
            await outbox.add(session, "queue", {"n": 2})
        outbox.wake()
        async with db.session() as session:
            await outbox.add(session, "queue", {"n": 3})
        outbox.wake()
        await wait_until(lambda: len(got) >= 3)
        await asyncio.sleep(0.2)
        assert [e.payload["n"] for e in got] == [1, 2, 3]  # in the order of the commits
        assert reads == []
        await wait_until(lambda: outbox.published == 3)
        assert await _left(db) == 0
    finally:
        await outbox.close()
        await broker.close()


async def test_a_row_not_handed_over_is_published_by_the_poll_while_commits_keep_waking_the_relay(
    db: Database,
) -> None:
    broker = InProcessBroker()
    await broker.start()
    got = await _listening(broker)
    outbox = Outbox(db, broker, "steady", poll=0.3)
    outbox.start()
    stop = asyncio.Event()

    async def steady() -> None:  # a commit every 20 ms: the relay never waits as long as the poll
        n = 0
        while not stop.is_set():
            async with db.session() as session:
                await outbox.add(session, "queue", {"n": n})
            outbox.wake()
            n += 1
            await asyncio.sleep(0.02)

    load = asyncio.create_task(steady())
    try:
        await asyncio.sleep(0.2)
        async with db.session() as session:  # as if the commit's answer had been lost
            await session.execute(insert(OUTBOX), [outbox.row("queue", {"n": "lost answer"})])
        took = await wait_until(lambda: any(e.payload["n"] == "lost answer" for e in got), timeout=3.0)
        assert took < 1.5
    finally:
        stop.set()
        await load
        await outbox.close()
        await broker.close()


class Turns:
    """Transactions that take the store's turns (once one is free) and keep them, and a critical
    commit that takes the urgent lane and leaves its turn to another holder, not to the relay."""

    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.db, self.outbox = db, outbox
        self.holders: list[tuple[asyncio.Task[None], asyncio.Event]] = []

    def hold(self, urgent: bool = False) -> asyncio.Event:
        release = asyncio.Event()

        async def hold() -> None:
            async with self.db.session(urgent=urgent):
                await release.wait()

        self.holders.append((asyncio.create_task(hold()), release))
        return release

    async def critical(self) -> None:
        async with self.db.session(urgent=True) as session:
            await self.outbox.add(session, "queue", {"n": "critical"})
            self.hold(urgent=True)
            await asyncio.sleep(0.05)
        self.outbox.wake()

    async def left_when_free(self) -> int:
        """The outbox rows left once every holder let go and the relay's deletes ran."""
        for task, release in self.holders:
            release.set()
            await task
        await self.outbox.forgotten()
        return await _left(self.db)

    async def release_all(self) -> None:
        for _task, release in self.holders:
            release.set()
        await asyncio.gather(*(task for task, _ in self.holders), return_exceptions=True)


async def test_a_commit_is_published_while_the_delete_of_what_went_before_waits_for_the_store(
    db: Database,
) -> None:
    """Under load the relay's delete of published rows waits for a turn at the store; a critical
    alert committed meanwhile used to wait for that delete before it was published."""
    broker, got, outbox = await _started(db, "beside")
    turns = Turns(db, outbox)
    try:
        for _ in range(db.turns - 1):  # every other turn of the store is taken
            turns.hold()
        await asyncio.sleep(0.05)
        async with db.session() as session:
            await outbox.add(session, "queue", {"n": "before"})
            after_before = turns.hold()  # takes this turn, before the relay's delete asks
            await asyncio.sleep(0.05)
        outbox.wake()
        await wait_until(lambda: len(got) == 1)
        await asyncio.sleep(0.1)  # the delete of "before" waits for a turn now
        writer = asyncio.create_task(turns.critical())
        await asyncio.sleep(0.05)  # waiting in the urgent lane, ahead of the delete
        after_before.set()
        await asyncio.wait_for(writer, 2.0)
        await wait_until(lambda: len(got) == 2, timeout=2.0)
        assert [e.payload["n"] for e in got] == ["before", "critical"]
        assert all(not task.done() for task, _ in turns.holders[:-2])  # the store was full all along
        assert await asyncio.wait_for(turns.left_when_free(), 5.0) == 0
    finally:
        await turns.release_all()
        await outbox.close()
        await broker.close()


async def test_a_commit_is_published_while_the_poll_for_rows_left_behind_waits_for_the_store(
    db: Database,
) -> None:
    """The poll reads the store once a second; under load its read waits for a turn, and the relay
    published nothing meanwhile, a critical alert included."""
    broker = InProcessBroker()
    await broker.start()
    got = await _listening(broker)
    outbox = Outbox(db, broker, "polling", poll=0.3)
    outbox.start()
    await asyncio.sleep(0.05)
    turns = Turns(db, outbox)
    try:
        first = turns.hold()
        for _ in range(db.turns - 1):  # every turn of the store is taken
            turns.hold()
        await wait_until(lambda: db._gate.waiting >= 1, timeout=2.0)  # the poll's read waits
        writer = asyncio.create_task(turns.critical())
        await asyncio.sleep(0.05)  # in the urgent lane, ahead of the poll
        first.set()
        await asyncio.wait_for(writer, 2.0)
        await wait_until(lambda: len(got) == 1, timeout=2.0)
        assert got[0].payload["n"] == "critical"
        assert db._gate.waiting >= 1  # the poll still waits
    finally:
        await turns.release_all()
        await outbox.close()
        await broker.close()


async def test_the_rows_of_many_commits_are_deleted_together_once_published(db: Database) -> None:
    """Under load the relay publishes a few events at a time; their rows are deleted together
    (one statement for many commits), and whoever waits for the delete does not wait the gather."""
    broker, got, outbox = await _started(db, "gather")
    deletes: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE") and "outbox_events" in statement:
            deletes.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", before)
    try:
        for n in range(10):  # ten commits, each published on its own
            async with db.session() as session:
                await outbox.add(session, "queue", {"n": n})
            outbox.wake()
            await wait_until(lambda n=n: len(got) == n + 1)  # type: ignore[misc]
        await wait_until(lambda: outbox.published == 10, timeout=3.0)
        assert await _left(db) == 0
        assert 1 <= len(deletes) <= 4, f"{len(deletes)} deletes for ten commits"

        async with db.session() as session:
            await outbox.add(session, "queue", {"n": "last"})
        outbox.wake()
        await wait_until(lambda: len(got) == 11)
        started = asyncio.get_running_loop().time()
        await outbox.forgotten()
        assert asyncio.get_running_loop().time() - started < 0.2
        assert await _left(db) == 0
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", before)
        await outbox.close()
        await broker.close()
