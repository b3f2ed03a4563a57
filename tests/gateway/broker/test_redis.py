"""The Redis Streams broker: what only a shared Redis shows (other processes, crashes, outages)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from gateway.broker import Event, make_broker
from gateway.broker.redis import RedisBroker
from gateway.errors import BrokerUnavailable
from tests.gateway.broker.conftest import Recorder
from tests.gateway.conftest import Child, PrivateRedis, wait_for_file

pytestmark = pytest.mark.redis


async def test_make_broker_gives_redis_streams(redis_url: str, redis_prefix: str) -> None:
    broker = make_broker(redis_url, prefix=redis_prefix, reclaim_idle=2.0, consumer_name="gw-1")
    assert isinstance(broker, RedisBroker)
    await broker.start()
    try:
        health = await broker.health()
        assert health["state"] == "ok"
        assert health["kind"] == "redis"
    finally:
        await broker.close()


async def test_consumer_killed_before_ack_is_taken_over_by_the_group(
    redis_url: str, redis_prefix: str, tmp_path: Path, child: Callable[..., Child]
) -> None:
    proc = child("consumer_child.py", redis_url, redis_prefix, "ingress", "pipeline", str(tmp_path))
    await wait_for_file(tmp_path / "ready", proc)

    publisher = RedisBroker(redis_url, prefix=redis_prefix)
    survivor_broker = RedisBroker(redis_url, prefix=redis_prefix, reclaim_idle=0.5)
    try:
        event_id = await publisher.publish("ingress", {"conversation": "c-1"})
        taken = await wait_for_file(tmp_path / "taken", proc)
        assert taken == event_id, "the child took the event and hangs in its handler"

        proc.kill()
        survivor = Recorder("survivor")
        await survivor_broker.subscribe("ingress", "pipeline", survivor, consumer="survivor")

        await survivor.wait_count(1, timeout=10)
        assert survivor.ids == [event_id]
        assert survivor.events[0].payload == {"conversation": "c-1"}
        await asyncio.sleep(1.0)  # four more reclaim rounds: it must not come back
        assert survivor.attempts == [event_id], "handled exactly once by the survivor"
        client = aioredis.from_url(redis_url)
        try:
            summary = await client.xpending(f"{redis_prefix}stream:ingress", "pipeline")
            assert summary["pending"] == 0, "acknowledged"
        finally:
            await client.aclose()
    finally:
        await publisher.close()
        await survivor_broker.close()


async def test_processes_sharing_a_prefix_see_each_others_events(redis_url: str, redis_prefix: str) -> None:
    one = RedisBroker(redis_url, prefix=redis_prefix, consumer_name="gw-1")
    two = RedisBroker(redis_url, prefix=redis_prefix, consumer_name="gw-2")
    other_fleet = RedisBroker(redis_url, prefix=redis_prefix + "other:", consumer_name="gw-3")
    try:
        group_on_two, tab_on_one, stranger = Recorder(), Recorder(), Recorder()
        await two.subscribe("queue", "console", group_on_two)
        await one.fanout("queue", tab_on_one)
        await other_fleet.subscribe("queue", "console", stranger)

        event_id = await one.publish("queue", {"conversation": "c-9", "priority": "critical"})

        await group_on_two.wait_count(1)
        await tab_on_one.wait_count(1)
        assert group_on_two.ids == tab_on_one.ids == [event_id]
        await asyncio.sleep(0.2)
        assert stranger.ids == []
    finally:
        for broker in (one, two, other_fleet):
            await broker.close()


async def test_stream_entry_and_done_marker_layout(redis_url: str, redis_prefix: str) -> None:
    broker = RedisBroker(redis_url, prefix=redis_prefix)
    client = aioredis.from_url(redis_url, decode_responses=True)
    try:
        got = Recorder()
        await broker.subscribe("ingress", "pipeline", got)
        event_id = await broker.publish("ingress", {"n": 1}, event_id="msg-1")
        await got.wait_count(1)

        entries = await client.xrange(f"{redis_prefix}stream:ingress")
        assert entries is not None
        assert len(entries) == 1
        fields = entries[0][1]
        assert fields is not None
        assert fields["id"] == "msg-1"
        assert json.loads(fields["payload"]) == {"n": 1}  # JSON text
        ttl = await client.ttl(f"{redis_prefix}done:pipeline:{event_id}")
        assert 6 * 24 * 3600 < ttl <= 7 * 24 * 3600
    finally:
        await client.aclose()
        await broker.close()


async def test_publish_fails_retryably_while_redis_is_down_and_consumers_recover(
    private_redis: PrivateRedis,
) -> None:
    broker = RedisBroker(private_redis.url, prefix="hl:", reclaim_idle=1.0)
    try:
        group, tab = Recorder("group"), Recorder("tab")
        await broker.subscribe("ingress", "pipeline", group)
        await broker.fanout("ingress", tab)
        before = await broker.publish("ingress", {"n": 0})
        await group.wait_count(1)
        await tab.wait_count(1)

        private_redis.stop()
        with pytest.raises(BrokerUnavailable) as caught:
            await broker.publish("ingress", {"n": 1})
        assert caught.value.retryable
        health = await broker.health()
        assert health["state"] == "down"
        assert health["kind"] == "redis"
        await asyncio.sleep(1.0)  # the consumer loops meet the outage

        private_redis.start()  # an empty Redis: stream and group are gone
        assert (await broker.health())["state"] == "ok"
        after = await broker.publish("ingress", {"n": 2})
        await group.wait_count(2, timeout=15)
        assert group.ids == [before, after], "the consumer lives on and does not miss the event"
        await tab.wait_count(3, timeout=15)
        # The listener is told that its feed was interrupted (it reads the store again), then
        # gets what was published since.
        assert tab.ids[0] == before and tab.ids[1].startswith("resync-") and tab.ids[2] == after
    finally:
        await broker.close()


async def test_subscribing_while_redis_is_down_starts_consuming_once_it_is_back(
    private_redis: PrivateRedis,
) -> None:
    private_redis.stop()
    broker = RedisBroker(private_redis.url, prefix="hl:")
    try:
        got = Recorder()
        await broker.subscribe("ingress", "pipeline", got)
        private_redis.start()
        deadline = time.monotonic() + 15
        published: list[str] = []
        while not got.events:
            assert time.monotonic() < deadline, "never consumed after Redis came back"
            published.append(await broker.publish("ingress", {"n": len(published)}))
            await asyncio.sleep(0.3)
        assert got.ids[0] in published
    finally:
        await broker.close()


async def test_handler_exception_message_is_not_logged(
    redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    broker = RedisBroker(redis_url, prefix=redis_prefix, reclaim_idle=30)
    seen = asyncio.Event()

    async def handler(event: Event) -> None:
        seen.set()
        raise ValueError(f"cannot route {event.payload['text']}")

    try:
        await broker.subscribe("ingress", "pipeline", handler)
        await broker.publish("ingress", {"text": "jag vill spränga något"})
        await asyncio.wait_for(seen.wait(), 5)
        await asyncio.sleep(0.1)
    finally:
        await broker.close()
    assert "ValueError" in caplog.text, "the failure is logged"
    assert "spränga" not in caplog.text, "but never the message contents"


async def test_dead_consumers_with_nothing_pending_are_removed_from_the_group(
    redis_url: str, redis_prefix: str
) -> None:
    stream = f"{redis_prefix}stream:ingress"
    client = aioredis.from_url(redis_url, decode_responses=True)
    broker = RedisBroker(redis_url, prefix=redis_prefix, reclaim_idle=30.0)
    broker.forget_after_ms = 300
    broker.tidy_every = 0.1
    try:
        await client.xgroup_create(stream, "pipeline", id="$", mkstream=True)
        await client.xgroup_createconsumer(stream, "pipeline", "ghost")
        await client.xadd(stream, {"id": "e1", "at": "2026-01-01T00:00:00+00:00", "payload": "{}"})
        await client.xreadgroup("pipeline", "holder", {stream: ">"}, count=1)  # "holder" never acks
        await asyncio.sleep(0.4)

        await broker.subscribe("ingress", "pipeline", Recorder(), consumer="live")

        async def names() -> set[str]:
            return {c["name"] for c in await client.xinfo_consumers(stream, "pipeline")}

        deadline = time.monotonic() + 3
        while "ghost" in await names():
            assert time.monotonic() < deadline, "the dead consumer was not removed"
            await asyncio.sleep(0.05)
        assert "holder" in await names(), "a consumer with pending entries is kept"
    finally:
        await broker.close()
        await client.aclose()


async def test_a_lingering_group_reads_a_stream_of_events_in_batches(
    redis_url: str, redis_prefix: str
) -> None:
    """A group that accepts few events of a busy topic (``linger``) reads them together: one read
    and one acknowledgement per batch, not per event; after a quiet spell the first event is taken
    at once, and every accepted event is handled."""
    broker = RedisBroker(redis_url, prefix=redis_prefix, reclaim_idle=30.0)
    client = aioredis.from_url(redis_url)
    stream = f"{redis_prefix}stream:conversation"
    reads: list[str] = []

    async def watch() -> None:
        async with client.monitor() as monitor:
            async for command in monitor.listen():
                text = str(command.get("command", ""))
                if text.upper().startswith("XREADGROUP") and stream in text:
                    reads.append(text)

    watcher = asyncio.create_task(watch())
    try:
        await asyncio.sleep(0.2)  # the monitor is listening
        got = Recorder("consent")
        await broker.subscribe(
            "conversation", "consent", got, accepts=lambda e: e.payload["n"] % 10 == 0, linger=0.4
        )
        await asyncio.sleep(0.2)
        started = time.monotonic()
        first = await broker.publish("conversation", {"n": 0})
        await got.wait_count(1)
        assert time.monotonic() - started < 0.3, "after a quiet spell the first event is not held"
        await asyncio.sleep(0.6)
        reads.clear()
        ids = []
        for n in range(1, 41):  # 40 events over about 0.8 s, one in ten accepted
            ids.append(await broker.publish("conversation", {"n": n}))
            await asyncio.sleep(0.02)
        await got.wait_count(5)
        assert got.ids == [first, *ids[9::10]]
        assert len(reads) <= 6, f"{len(reads)} reads for 40 events"
        summary = await client.xpending(stream, "consent")
        assert summary["pending"] == 0
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
        await client.aclose()
        await broker.close()


async def test_refused_events_are_acknowledged_in_redis_and_leave_no_done_marker(
    redis_url: str, redis_prefix: str
) -> None:
    broker = RedisBroker(redis_url, prefix=redis_prefix, reclaim_idle=30.0)
    client = aioredis.from_url(redis_url)
    try:
        got = Recorder("consent")
        await broker.subscribe("conversation", "consent", got, accepts=lambda e: e.payload["n"] == 2)
        ids = [await broker.publish("conversation", {"n": n}) for n in range(4)]
        await got.wait_count(1)
        await asyncio.sleep(0.2)
        assert got.ids == [ids[2]]
        summary = await client.xpending(f"{redis_prefix}stream:conversation", "consent")
        assert summary["pending"] == 0, "refused events acknowledged at once, not left to reclaim"
        markers = [k async for k in client.scan_iter(match=f"{redis_prefix}done:consent:*")]
        assert [m.decode().rsplit(":", 1)[1] for m in markers] == [ids[2]]
    finally:
        await client.aclose()
        await broker.close()
