"""An outgoing message the channel took while the store went away is marked sent once the store is
back, and is not sent a second time (a failed mark used to fail the egress handler, so the event
was handled again and the message sent again)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bots.memory import MemoryAdapter
from gateway.broker.inprocess import InProcessBroker
from gateway.channel import Delivery
from gateway.crypto import ContactCipher
from gateway.envelope import Envelope
from gateway.outbox import Outbox
from gateway.pipeline import Pipeline
from gateway.store.db import Database
from gateway.store.models import Message
from tests.faults.private_pg import PrivatePostgres
from tests.gateway.conftest import KeywordTriager


class StoreGoesAwayOnSend(MemoryAdapter):
    """Takes the message, then PostgreSQL stops (and starts again 2 s later) before egress can
    mark it sent."""

    def __init__(self, pg: PrivatePostgres) -> None:
        super().__init__()
        self.pg = pg
        self.restarted: asyncio.Task[None] | None = None

    async def send(self, envelope: Envelope, address: str) -> Delivery:
        delivery = await super().send(envelope, address)
        if self.restarted is None:
            await asyncio.to_thread(self.pg.stop)
            self.restarted = asyncio.create_task(self._start_later())
        return delivery

    async def _start_later(self) -> None:
        await asyncio.sleep(2)
        await asyncio.to_thread(self.pg.start)


async def test_a_message_sent_while_the_store_restarts_is_sent_once(private_pg: PrivatePostgres) -> None:
    db = Database(private_pg.url)
    await db.upgrade()
    broker = InProcessBroker(reclaim_idle=0.5)
    await broker.start()
    outbox = Outbox(db, broker, "mark-test", poll=0.2)
    pipeline = Pipeline(db, broker, KeywordTriager(), ContactCipher(b"m" * 32), outbox=outbox)
    memory = StoreGoesAwayOnSend(private_pg)
    await memory.start(pipeline.ingress)
    try:
        outbox.start()
        await pipeline.egress.start(memory, "egress-1")
        result = await memory.person_writes("person@example.org", "min dotter har nya vänner")
        await memory.wait_for("person@example.org", lambda r: r.kind == "message", timeout=10)
        for _ in range(200):
            if memory.restarted is not None:
                break
            await asyncio.sleep(0.05)
        assert memory.restarted is not None
        await memory.restarted

        async def delivery() -> str | None:
            try:
                async with db.session() as session:
                    return (
                        await session.execute(
                            select(Message.delivery).where(
                                Message.conversation_id == result.conversation_id,
                                Message.sender_kind == "bot",
                            )
                        )
                    ).scalar_one()
            except Exception:
                return None

        for _ in range(200):
            if await delivery() == "sent":
                break
            await asyncio.sleep(0.1)
        assert await delivery() == "sent"
        await asyncio.sleep(2)  # the broker's redelivery would have come by now
        sent = [r.text for r in memory.outbox["person@example.org"] if r.kind == "message"]
        assert sent == ["SAFE:concern_relative"]
    finally:
        await outbox.close(drain_timeout=0.5)
        await broker.close()
        await db.close()
