"""The Redis Streams broker: several gateway processes share one Redis.

Layout (``prefix`` defaults to ``helpline:``):

* ``{prefix}stream:{topic}``: one stream per topic, trimmed to about ``maxlen`` entries.  An entry
  has the fields ``id`` (the event id), ``at`` (ISO time) and ``payload`` (JSON).
* one consumer group per ``subscribe`` group on that stream, created at ``$`` with MKSTREAM: a group
  gets the events published after it was first created.  If the group disappears (Redis lost its
  data), its consumers create it again from the start of what the stream holds.  Consumers read with XREADGROUP and BLOCK,
  acknowledge with XACK after their handler returned, and every consumer runs XAUTOCLAIM
  periodically, taking over entries that stayed pending longer than ``reclaim_idle`` (a handler
  that raised, a process that died).
* ``{prefix}done:{group}:{event_id}``: written (NX, 7 days) with the XACK once a handler succeeded
  and checked before calling a handler, so that a republished or reclaimed event the group already
  handled is acknowledged without running the handler again.
* fanout listeners read the same stream with plain XREAD, so one publish serves both kinds of
  listener.  One reader per topic and process does the XREAD and hands each entry to every local
  listener that began listening before the entry was published.

A lost Redis connection never ends a consumer: it logs, backs off and reads again; entries it had
taken stay pending and are reclaimed.  ``publish`` raises the retryable BrokerUnavailable while
Redis cannot be reached.  Nothing of an event's payload is ever logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError
from redis.typing import EncodableT, FieldT

from gateway.broker.base import Accepts, Broker, Handler, Subscription, new_event_id
from gateway.broker.redis_fanout import (
    FanoutListener,
    FanoutReader,
    RedisSubscription,
    encode,
    text,
)
from gateway.broker.redis_groups import UNAVAILABLE, GroupConsumers
from gateway.envelope import utcnow
from gateway.errors import BrokerUnavailable

log = logging.getLogger(__name__)

DEFAULT_MAXLEN = 100_000
DONE_TTL = 7 * 24 * 3600
POOL_CONNECTIONS = 200
POOL_WAIT = 5.0
"""Seconds a command waits for a free connection before it counts as Redis being unavailable."""


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def _belongs(fields: Mapping[Any, Any], needle: bytes, conversation_id: str) -> bool:
    raw = fields.get(b"payload", fields.get("payload"))
    data = raw if isinstance(raw, bytes) else str(raw or "").encode()
    if needle not in data:
        return False
    try:
        payload = json.loads(data)
    except ValueError:
        return False
    return isinstance(payload, dict) and payload.get("conversation_id") == conversation_id


class RedisBroker(Broker):
    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "helpline:",
        reclaim_idle: float = 30.0,
        consumer_name: str | None = None,
        maxlen: int = DEFAULT_MAXLEN,
        done_ttl: int = DONE_TTL,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.reclaim_idle = reclaim_idle
        self.consumer_name = consumer_name or default_consumer_name()
        self.maxlen = maxlen
        self.done_ttl = done_ttl
        self.reclaim_every = min(5.0, max(0.1, reclaim_idle / 2))
        """Seconds between two XAUTOCLAIM rounds of one consumer."""
        self.block_ms = max(50, int(min(2.0, self.reclaim_every) * 1000))
        self.forget_after_ms = 3_600_000
        """Consumers idle this long with nothing pending are deleted from their group."""
        self.tidy_every = 600.0
        self._client: aioredis.Redis | None = None
        self.subscriptions: set[RedisSubscription] = set()
        """Every open subscription of this broker (closed with it)."""
        self._readers: dict[str, FanoutReader] = {}
        self._closed = False
        self.groups = GroupConsumers(self)
        """The competing consumers (:mod:`gateway.broker.redis_groups`)."""

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            # A burst of publishes (a batch of messages committed together) waits for a free
            # connection rather than failing when every connection is busy; each blocking read
            # of a subscription holds one connection of its own.
            pool = aioredis.BlockingConnectionPool.from_url(
                self.url,
                max_connections=POOL_CONNECTIONS,
                timeout=POOL_WAIT,
                socket_connect_timeout=3.0,
                socket_timeout=self.block_ms / 1000 + 5.0,
                health_check_interval=30,
                retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), 1),
            )
            self._client = aioredis.Redis.from_pool(pool)
        return self._client

    @property
    def connected(self) -> bool:
        """Whether a connection pool was made (and not closed since)."""
        return self._client is not None

    def stream_key(self, topic: str) -> str:
        return f"{self.prefix}stream:{topic}"

    def check_open(self) -> None:
        if self._closed:
            raise BrokerUnavailable("the broker is closed")

    async def start(self) -> None:
        self._closed = False
        _ = self.client

    async def close(self) -> None:
        self._closed = True
        subscriptions = list(self.subscriptions)
        await asyncio.gather(*(s.cancel() for s in subscriptions), return_exceptions=True)
        self.subscriptions.clear()
        if self._client is not None:
            client, self._client = self._client, None
            with contextlib.suppress(RedisError, OSError):
                await client.aclose()

    # -- publishing ------------------------------------------------------------------------------

    async def publish(self, topic: str, payload: dict[str, Any], event_id: str | None = None) -> str:
        self.check_open()
        event_id = event_id or new_event_id()
        fields: dict[FieldT, EncodableT] = {
            "id": event_id,
            "at": utcnow().isoformat(),
            "payload": encode(payload),
        }
        try:
            await self.client.xadd(self.stream_key(topic), fields, maxlen=self.maxlen, approximate=True)
        except UNAVAILABLE as exc:
            raise BrokerUnavailable(f"redis unreachable ({type(exc).__name__})") from exc
        return event_id

    async def publish_many(self, events: Sequence[tuple[str, dict[str, Any], str | None]]) -> None:
        """The outbox relay's batch: every XADD in one pipelined round trip, in order."""
        self.check_open()
        if not events:
            return
        at = utcnow().isoformat()
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                for topic, payload, event_id in events:
                    fields: dict[FieldT, EncodableT] = {
                        "id": event_id or new_event_id(),
                        "at": at,
                        "payload": encode(payload),
                    }
                    pipe.xadd(self.stream_key(topic), fields, maxlen=self.maxlen, approximate=True)
                await pipe.execute()
        except UNAVAILABLE as exc:
            raise BrokerUnavailable(f"redis unreachable ({type(exc).__name__})") from exc

    # -- competing consumers ---------------------------------------------------------------------

    async def subscribe(
        self,
        topic: str,
        group: str,
        handler: Handler,
        *,
        consumer: str | None = None,
        accepts: Accepts | None = None,
        linger: float = 0.0,
    ) -> Subscription:
        return await self.groups.subscribe(
            topic, group, handler, consumer=consumer, accepts=accepts, linger=linger
        )

    # -- fanout ----------------------------------------------------------------------------------

    async def fanout(self, topic: str, handler: Handler) -> Subscription:
        self.check_open()
        stream = self.stream_key(topic)
        since: str | None
        try:
            since = await self.last_id(stream)
        except UNAVAILABLE as exc:
            log.warning("broker: redis unreachable while listening to %s (%s)", topic, type(exc).__name__)
            since = None
        sub = FanoutListener(self.subscriptions, topic, handler, since, self._leave_fanout)
        sub.task = asyncio.create_task(sub.run(), name=f"broker {sub.description}")
        self.subscriptions.add(sub)
        reader = self._readers.get(topic)
        if reader is None:
            reader = self._readers[topic] = FanoutReader(self, topic, since)
        reader.listeners.add(sub)
        return sub

    def _leave_fanout(self, sub: FanoutListener) -> asyncio.Task[None] | None:
        """Take ``sub`` off its reader; the reader's task when it has no listener left (to stop)."""
        reader = self._readers.get(sub.topic)
        if reader is None:
            return None
        reader.listeners.discard(sub)
        if reader.listeners:
            return None
        del self._readers[sub.topic]
        return reader.task

    async def last_id(self, stream: str) -> str:
        newest = await self.client.xrevrange(stream, "+", "-", count=1)
        return text(newest[0][0]) if newest else "0-0"

    # -- retention and erasure -------------------------------------------------------------------

    async def _stream_keys(self) -> list[str]:
        pattern = f"{self.prefix}stream:*"
        return [text(k) async for k in self.client.scan_iter(match=pattern, count=500)]

    async def trim_before(self, before: datetime) -> int:
        """XTRIM MINID (exact) on every stream: entries carry message text, which must not outlive
        the retention rules."""
        min_id = f"{int(before.timestamp() * 1000)}-0"
        removed = 0
        try:
            for key in await self._stream_keys():
                removed += int(await self.client.xtrim(key, minid=min_id, approximate=False))
        except UNAVAILABLE as exc:
            raise BrokerUnavailable(f"redis unreachable ({type(exc).__name__})") from exc
        return removed

    async def forget_conversation(self, conversation_id: str) -> int:
        """XDEL every entry of every stream whose event belongs to the conversation."""
        needle = conversation_id.encode()
        removed = 0
        try:
            for key in await self._stream_keys():
                start = "-"
                while True:
                    entries: Any = await self.client.xrange(key, min=start, max="+", count=1000)
                    doomed = [
                        entry_id for entry_id, fields in entries if _belongs(fields, needle, conversation_id)
                    ]
                    if doomed:
                        removed += int(await self.client.xdel(key, *doomed))
                    if len(entries) < 1000:
                        break
                    start = "(" + text(entries[-1][0])
        except UNAVAILABLE as exc:
            raise BrokerUnavailable(f"redis unreachable ({type(exc).__name__})") from exc
        return removed

    # -- health ----------------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": "redis",
            "consumer": self.consumer_name,
            "subscriptions": len(self.subscriptions),
        }
        if self._closed:
            return {"state": "down", **data, "error": "closed"}
        started = time.monotonic()
        try:
            await asyncio.wait_for(self.client.ping(), timeout=2.0)
        except (RedisError, OSError, TimeoutError) as exc:
            return {"state": "down", **data, "error": type(exc).__name__}
        return {"state": "ok", **data, "latency_ms": round((time.monotonic() - started) * 1000, 2)}
