"""An outgoing message is sent once, however many deliveries of it start: the sender claims it
(pending -> sending, with a lease) in one conditional UPDATE before it sends, and the sweeper
retakes only a claim whose lease ran out (its holder died).  On SQLite and on PostgreSQL.

The channel is the in-memory one, slowed down like a network would (so that deliveries overlap),
and counting what each person received."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from bots.memory import MemoryAdapter
from gateway import sending
from gateway.broker.inprocess import InProcessBroker
from gateway.channel import Delivery
from gateway.crypto import ContactCipher
from gateway.envelope import Envelope
from gateway.outbox import Outbox
from gateway.pipeline import Pipeline
from gateway.store.db import Database
from gateway.store.models import Message, OutboxEvent
from tests.gateway.conftest import KeywordTriager

CIPHER = ContactCipher(b"c" * 32)
PEOPLE = [f"person{k}@example.org" for k in range(3)]


class SlowMemory(MemoryAdapter):
    """The memory channel with a network's delay before the person has the message."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.started = 0

    async def send(self, envelope: Envelope, address: str) -> Delivery:
        self.started += 1
        await asyncio.sleep(self.delay)
        return await super().send(envelope, address)

    def messages(self, address: str) -> list[str]:
        return [r.text for r in self.outbox.get(address, []) if r.kind == "message"]


@dataclass
class Fleet:
    db: Database
    broker: InProcessBroker
    channel: SlowMemory
    a: Pipeline
    b: Pipeline

    async def egress(self, per_process: int = 3) -> None:
        """Consumers of the channel's egress group in both processes."""
        for k in range(per_process):
            await self.a.egress.start(self.channel, f"a{k}")
            await self.b.egress.start(self.channel, f"b{k}")

    async def write(self) -> None:
        await asyncio.gather(*(self.channel.person_writes(p, "min dotter har nya vänner") for p in PEOPLE))

    async def published(self) -> None:
        """Wait until the relays published every event."""
        for _ in range(200):
            async with self.db.session() as session:
                if not (await session.execute(select(OutboxEvent.seq))).first():
                    return
            await asyncio.sleep(0.02)
        raise AssertionError("events left unpublished")

    async def bot_messages(self) -> list[Message]:
        async with self.db.session() as session:
            found = await session.execute(select(Message).where(Message.sender_kind == "bot"))
            return list(found.scalars().all())


@pytest.fixture
async def fleet(db_url: str) -> AsyncIterator[Fleet]:
    db = Database(db_url)
    await db.upgrade()
    broker = InProcessBroker(reclaim_idle=0.5)
    channel = SlowMemory(delay=0.4)
    # Two processes: each its own outbox (relay and sweeper), one store, one broker.
    a = Pipeline(db, broker, KeywordTriager(), CIPHER, outbox=Outbox(db, broker, "proc-a", pending_grace=0.0))
    b = Pipeline(db, broker, KeywordTriager(), CIPHER, outbox=Outbox(db, broker, "proc-b", pending_grace=0.0))
    await channel.start(a.ingress)
    try:
        yield Fleet(db, broker, channel, a, b)
    finally:
        await a.outbox.close()
        await b.outbox.close()
        await broker.close()
        await db.close()


async def _until(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def _sweep(outbox: Outbox) -> int:
    """One sweep of ``outbox`` and the publishing of what it wrote (as its started relay does)."""
    found = await outbox.sweep()
    outbox.wake()
    return found


async def _sent_once_each(fleet: Fleet) -> None:
    await _until(lambda: all(fleet.channel.messages(p) for p in PEOPLE))
    await asyncio.sleep(1.5)  # every other delivery that started has ended by now
    assert {p: fleet.channel.messages(p) for p in PEOPLE} == {p: ["SAFE:concern_relative"] for p in PEOPLE}
    assert fleet.channel.started == len(PEOPLE)
    assert {m.delivery for m in await fleet.bot_messages()} == {"sent"}


async def test_a_sweeper_racing_the_sender_sends_each_message_once(fleet: Fleet) -> None:
    await fleet.egress()
    await fleet.write()
    # The senders have each message in hand (the channel is slow); both processes' sweepers run now.
    await _until(lambda: fleet.channel.started == len(PEOPLE))
    await asyncio.gather(_sweep(fleet.a.outbox), _sweep(fleet.b.outbox))
    await _sent_once_each(fleet)


async def test_two_sweepers_after_lost_events_send_each_message_once(fleet: Fleet) -> None:
    # No consumer of the channel yet: the outbound events are lost (as with a broker that lost its
    # data); the messages stay pending.
    await fleet.write()
    await fleet.published()
    await fleet.egress()
    # Two processes' sweepers with different grace periods: different event ids for one message,
    # handled by different consumers at the same time.
    fleet.a.outbox.pending_grace, fleet.b.outbox.pending_grace = 1.0, 1.5
    await asyncio.sleep(1.6)
    found = await asyncio.gather(_sweep(fleet.a.outbox), _sweep(fleet.b.outbox))
    assert list(found) == [len(PEOPLE), len(PEOPLE)]
    await _sent_once_each(fleet)


async def test_a_claim_whose_holder_died_is_retaken_after_its_lease(fleet: Fleet) -> None:
    await fleet.write()
    await fleet.published()
    ids = [m.id for m in await fleet.bot_messages()]
    # A process claims the messages for sending and dies before it sends them.
    async with fleet.db.session() as session:
        assert [await sending.claim(session, mid, lease=1.5) for mid in ids] == [True] * len(ids)
    async with fleet.db.session() as session:
        assert not await sending.claim(session, ids[0], lease=1.5)  # held: nobody else takes it
    await fleet.egress()
    # While its lease runs, neither the sweeper nor a redelivered event sends them.
    assert await _sweep(fleet.a.outbox) == 0
    await asyncio.gather(*(fleet.b.egress.deliver(fleet.channel, mid) for mid in ids))
    assert fleet.channel.started == 0
    await asyncio.sleep(1.6)
    # Its lease ran out: the sweeper hands them to egress again, and they are sent, once.
    assert await _sweep(fleet.a.outbox) == len(ids)
    await _sent_once_each(fleet)
