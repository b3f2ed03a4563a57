"""Message text does not outlive the retention rules or an erasure in the Redis broker's streams."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select

from bots.memory import MemoryAdapter
from gateway.appkeys import BROKER, PIPELINE
from gateway.envelope import utcnow
from gateway.lease import make_lease
from gateway.store.models import OutboxEvent, StaffUser
from handoff.records.retention import RetentionPolicy
from handoff.records.retention_scheduler import RetentionScheduler
from tests.handoff.records.test_web import Site
from tests.harness import make_settings, start

ERASED = "Min granne säger att han ska döda sin fru på fredag"
KEPT = "Min son vill resa till Syrien och jag vet inte vad jag ska göra"


@pytest.fixture
async def site(
    sqlite_url: str, tmp_path: Path, redis_url: str, redis_prefix: str
) -> AsyncIterator[tuple[Site, MemoryAdapter]]:
    settings = make_settings(sqlite_url, tmp_path, redis_url=redis_url, redis_prefix=redis_prefix)
    started = await start(settings, memory=True)
    s = Site(started.server, [])
    try:
        yield s, started.memory
    finally:
        for http in s.sessions:
            await http.close()
        await started.close()


async def stream_payloads(redis_url: str, prefix: str) -> list[dict[str, Any]]:
    """Every event payload the broker's streams hold, decoded."""
    client = aioredis.from_url(redis_url)
    try:
        out = []
        async for key in client.scan_iter(match=f"{prefix}stream:*"):
            for _id, fields in await client.xrange(key) or []:
                assert fields is not None
                out.append(json.loads(fields[b"payload"]))
        return out
    finally:
        await client.aclose()


async def wait_for_text(redis_url: str, prefix: str, text: str) -> None:
    deadline = time.monotonic() + 10
    while text not in json.dumps(await stream_payloads(redis_url, prefix), ensure_ascii=False):
        assert time.monotonic() < deadline, "the event never reached the stream"
        await asyncio.sleep(0.05)


async def test_an_erasure_removes_the_persons_events_from_the_streams(
    site: tuple[Site, MemoryAdapter], redis_url: str, redis_prefix: str
) -> None:
    s, memory = site
    pipeline = s.server.app[PIPELINE]
    sup_id = await s.user("sara", "supervisor")
    erased = await memory.person_writes("erase.me@example.org", ERASED)
    await memory.person_writes("keep.me@example.org", KEPT)
    await wait_for_text(redis_url, redis_prefix, ERASED)
    await wait_for_text(redis_url, redis_prefix, KEPT)
    async with s.db.session() as session:
        sara = await session.get(StaffUser, sup_id)
    assert sara is not None
    await pipeline.staff.claim(erased.conversation_id, sara)
    await pipeline.staff.close(erased.conversation_id, sara)

    http, csrf = await s.login("sara")
    path = s.url(f"/console/api/conversations/{erased.conversation_id}/erase")
    async with http.post(path, json={"reason": "person_request"}, headers={"X-CSRF-Token": csrf}) as resp:
        assert resp.status == 200
    await asyncio.sleep(0.5)  # nothing of it comes back later (its events left the outbox too)
    payloads = await stream_payloads(redis_url, redis_prefix)
    dump = json.dumps(payloads, ensure_ascii=False)
    assert ERASED not in dump
    assert erased.conversation_id not in dump
    assert KEPT in dump  # only the erased person's events went
    async with s.db.session() as session:
        left = await session.execute(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.conversation_id == erased.conversation_id)
        )
        assert left.scalar_one() == 0


async def test_the_scheduled_purge_trims_events_older_than_the_retention_rule(
    site: tuple[Site, MemoryAdapter], redis_url: str, redis_prefix: str
) -> None:
    s, memory = site
    await memory.person_writes("someone@example.org", KEPT)
    await wait_for_text(redis_url, redis_prefix, KEPT)
    policy = RetentionPolicy(broker_events=timedelta(hours=24))
    later = utcnow() + timedelta(hours=24, minutes=1)
    scheduler = RetentionScheduler(
        s.db,
        policy,
        make_lease(redis_url, "retention-test", prefix=redis_prefix),
        3600,
        clock=lambda: later,
        broker=s.server.app[BROKER],
    )
    try:
        # Within the period the event stays ...
        early = RetentionScheduler(
            s.db,
            policy,
            make_lease(redis_url, "retention-early", prefix=redis_prefix),
            3600,
            clock=lambda: utcnow() + timedelta(hours=23),
            broker=s.server.app[BROKER],
        )
        await early.run_once()
        await early.close()
        assert KEPT in json.dumps(await stream_payloads(redis_url, redis_prefix), ensure_ascii=False)
        # ... and is gone once it is older than the rule allows.
        await scheduler.run_once()
        assert await stream_payloads(redis_url, redis_prefix) == []
    finally:
        await scheduler.close()
