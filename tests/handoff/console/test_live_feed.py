"""The console's live feed: a republished event (at least once) is shown once, and after the
broker's feed was interrupted every console gets a fresh snapshot from the store."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web

from gateway.broker.redis import RedisBroker
from gateway.store.db import Database
from handoff.console.live import Client, Hub
from tests.gateway.conftest import PrivateRedis
from tests.harness import migrated_store


class Socket:
    """Stands in for a console's websocket: keeps what the hub sends."""

    closed = False

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send_json(self, data: dict[str, Any]) -> None:
        self.sent.append(data)

    async def send_str(self, data: str) -> None:
        self.sent.append(json.loads(data))

    async def close(self, code: int = 1000, message: bytes = b"") -> bool:
        self.closed = True
        return True


@pytest.fixture
async def db(sqlite_url: str) -> AsyncIterator[Database]:
    async with migrated_store(sqlite_url) as database:
        yield database


async def hub_with_console(db: Database, broker: RedisBroker) -> tuple[Hub, Socket]:
    hub = Hub(db, broker)
    await hub.start()
    socket = Socket()
    await hub.add(Client(cast(web.WebSocketResponse, socket), 1, "counsellor", 3, "token"))
    return hub, socket


async def until(check: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_republished_critical_event_alerts_once(
    db: Database, redis_url: str, redis_prefix: str
) -> None:
    broker = RedisBroker(redis_url, prefix=redis_prefix)
    await broker.start()
    hub, socket = await hub_with_console(db, broker)
    try:
        payload = {"kind": "changed", "conversation_id": "c1", "critical": True, "priority": "critical"}
        await broker.publish("queue", payload, event_id="ev-1")
        await broker.publish("queue", payload, event_id="ev-1")  # the relay's second attempt
        await broker.publish("queue", {**payload, "conversation_id": "c2"}, event_id="ev-2")
        await until(lambda: any(m.get("conversation_id") == "c2" for m in socket.sent))
        await asyncio.sleep(0.2)
        alerts = [m["conversation_id"] for m in socket.sent if m["type"] == "alert"]
        assert alerts == ["c1", "c2"]
    finally:
        await hub.stop()
        await broker.close()


async def test_after_redis_was_down_every_console_gets_a_fresh_queue(db: Database, tmp_path: Path) -> None:
    server = PrivateRedis(tmp_path)
    server.start()
    broker = RedisBroker(server.url, prefix="feed:")
    await broker.start()
    hub, socket = await hub_with_console(db, broker)
    try:
        assert [m["type"] for m in socket.sent] == ["status", "queue"]  # the shift status, then the queue
        server.stop()
        await asyncio.sleep(2)
        server.start()
        await until(lambda: len([m for m in socket.sent if m["type"] == "queue"]) >= 2)
    finally:
        await hub.stop()
        await broker.close()
        server.stop()
