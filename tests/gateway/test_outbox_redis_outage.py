"""Events survive a Redis outage: they are written to the outbox with the change and published
once Redis is back (a private redis-server this test stops and starts again)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.broker.base import Event
from gateway.broker.redis import RedisBroker
from gateway.store.models import Message, OutboxEvent
from tests.gateway.conftest import Gateway, PrivateRedis
from tests.harness import make_settings, start

CRITICAL = "jag ska döda dem på skolan imorgon"


@pytest.fixture
def private_redis(tmp_path: Path) -> Any:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def gateway(pg_url: str, tmp_path: Path, private_redis: PrivateRedis) -> AsyncIterator[Gateway]:
    settings = make_settings(pg_url, tmp_path, redis_url=private_redis.url, redis_prefix="outage:")
    gw = await start(settings, memory=True, cls=Gateway)
    try:
        yield gw
    finally:
        await gw.close()


async def until(check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.1)


async def test_a_critical_message_and_a_reply_during_a_redis_outage_are_alerted_and_delivered_once(
    gateway: Gateway, private_redis: PrivateRedis
) -> None:
    # Another process's console: it listens to the queue and the conversations on the same Redis.
    console = RedisBroker(private_redis.url, prefix="outage:", consumer_name="console")
    await console.start()
    queue_events: list[Event] = []
    conv_events: list[Event] = []

    async def on_queue(event: Event) -> None:
        queue_events.append(event)

    async def on_conversation(event: Event) -> None:
        conv_events.append(event)

    await console.fanout("queue", on_queue)
    await console.fanout("conversation", on_conversation)
    try:
        counsellor = await gateway.user("kim")
        held = await gateway.memory.person_writes("held@example.org", "min son har nya vänner")
        await gateway.pipeline.staff.claim(held.conversation_id, counsellor)
        await gateway.memory.wait_for("held@example.org", lambda r: r.kind == "assigned", timeout=10)

        private_redis.stop()
        result = await gateway.memory.person_writes("critical@example.org", CRITICAL)
        reply = await gateway.pipeline.staff.reply(
            held.conversation_id, "Jag finns här. Berätta mer.", counsellor
        )
        async with gateway.db.session() as session:
            stored = (await session.execute(select(Message.text, Message.delivery))).all()
            waiting = (await session.execute(select(func.count()).select_from(OutboxEvent))).scalar_one()
        assert (CRITICAL, None) in stored  # the message is stored while Redis is down
        assert waiting > 0
        await asyncio.sleep(3)
        assert not any(e.payload.get("conversation_id") == result.conversation_id for e in queue_events)
        private_redis.start()

        async def alerted() -> bool:
            return any(
                e.payload.get("conversation_id") == result.conversation_id and e.payload.get("critical")
                for e in queue_events
            )

        await until(alerted)
        got = await gateway.memory.wait_for(
            "held@example.org", lambda r: r.kind == "message" and r.text.startswith("Jag finns"), timeout=30
        )
        assert got.envelope is not None and got.envelope.message_id == reply["id"]

        async def delivered() -> bool:
            async with gateway.db.session() as session:
                return (await session.get(Message, reply["id"])).delivery == "sent"  # type: ignore[union-attr]

        await until(delivered)
        await asyncio.sleep(2)  # nothing more arrives later
        replies = [r for r in gateway.memory.outbox["held@example.org"] if r.text.startswith("Jag finns")]
        assert len(replies) == 1
        # The console saw the reply once, with its message.
        shown = [e for e in conv_events if (e.payload.get("message") or {}).get("id") == reply["id"]]
        assert len({e.id for e in shown}) == 1
        async with gateway.db.session() as session:
            assert (await session.execute(select(func.count()).select_from(OutboxEvent))).scalar_one() == 0
    finally:
        await console.close()
