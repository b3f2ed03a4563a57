"""An outgoing message whose event was lost (Redis restarted without its data before any
consumer took it) is still delivered, once: the sweeper sends every message left pending."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from bots.memory import MemoryAdapter
from gateway.broker.redis import RedisBroker
from gateway.crypto import ContactCipher
from gateway.outbox import Outbox
from gateway.pipeline import Pipeline
from gateway.store.db import Database
from gateway.store.models import Message, OutboxEvent
from tests.gateway.conftest import KeywordTriager, PrivateRedis


async def test_a_safe_response_whose_event_was_lost_is_delivered_once(pg_url: str, tmp_path: Path) -> None:
    server = PrivateRedis(tmp_path)
    server.start()
    db = Database(pg_url)
    await db.upgrade()
    broker = RedisBroker(server.url, prefix="sweep:", reclaim_idle=0.5)
    await broker.start()
    outbox = Outbox(db, broker, "sweeper-test", poll=0.2, pending_grace=1.5)
    pipeline = Pipeline(db, broker, KeywordTriager(), ContactCipher(b"s" * 32), outbox=outbox)
    memory = MemoryAdapter()
    await memory.start(pipeline.ingress)
    try:
        outbox.start()
        result = await memory.person_writes("person@example.org", "min dotter har nya vänner")
        async with db.session() as session:
            bot = (
                await session.execute(
                    select(Message).where(
                        Message.conversation_id == result.conversation_id, Message.sender_kind == "bot"
                    )
                )
            ).scalar_one()
        assert bot.delivery == "pending"
        # The relay has the event on Redis; Redis then restarts without its data, before any
        # process of the channel consumed it.
        for _ in range(100):
            async with db.session() as session:
                if not (await session.execute(select(OutboxEvent.seq))).first():
                    break
            await asyncio.sleep(0.05)
        server.stop()
        server.start()
        await pipeline.egress.start(memory, "egress-1")

        got = await memory.wait_for("person@example.org", lambda r: r.kind == "message", timeout=20)
        assert got.text == "SAFE:concern_relative"
        await asyncio.sleep(3)  # another grace period: nothing is sent again
        assert [r.text for r in memory.outbox["person@example.org"] if r.kind == "message"] == [got.text]
        async with db.session() as session:
            assert (await session.get(Message, bot.id)).delivery == "sent"  # type: ignore[union-attr]
    finally:
        await outbox.close()
        await broker.close()
        await db.close()
        server.stop()
