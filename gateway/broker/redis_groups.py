"""Competing consumers of the Redis Streams broker: consumer groups read with XREADGROUP, handled
once per group (a ``done`` key written with the XACK), entries of a dead consumer reclaimed with
XAUTOCLAIM, idle consumers deleted.  :class:`GroupConsumers` does this for a
:class:`~gateway.broker.redis.RedisBroker` (its ``groups``), over the broker's connection and
settings; the layout is described there."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway.broker.base import Accepts, Handler, Subscription
from gateway.broker.inprocess import failure_level, failure_summary
from gateway.broker.redis_fanout import BATCH, Backoff, RedisSubscription, decode, stream_entries, text

log = logging.getLogger("gateway.broker.redis")

UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError, OSError)

# Delete a consumer only if it has nothing pending, atomically (DELCONSUMER drops its pending entries).
# KEYS[1] stream; ARGV[1] group; ARGV[2] consumer.  -1 when kept.
_DELETE_IDLE_CONSUMER = """
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) == 0 then
  return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
end
return -1
"""


class GroupSource(Protocol):
    """What the consumer groups need of the broker: its connection, its keys and its settings
    (read at each use: a test may change them on a running broker)."""

    prefix: str
    consumer_name: str
    reclaim_idle: float
    reclaim_every: float
    block_ms: int
    forget_after_ms: int
    tidy_every: float
    done_ttl: int
    subscriptions: set[RedisSubscription]
    """The broker's open subscriptions (closed together with the broker)."""

    @property
    def client(self) -> aioredis.Redis: ...

    @property
    def connected(self) -> bool: ...

    def stream_key(self, topic: str) -> str: ...

    def check_open(self) -> None: ...


class _GroupSubscription(RedisSubscription):
    def __init__(
        self,
        groups: GroupConsumers,
        topic: str,
        group: str,
        consumer: str,
        accepts: Accepts | None = None,
        linger: float = 0.0,
    ) -> None:
        super().__init__(groups.source.subscriptions, f"{topic}/{group}/{consumer}")
        self._groups = groups
        self.topic = topic
        self.group = group
        self.consumer = consumer
        self.accepts = accepts
        self.linger = linger

    async def cancel(self) -> None:
        await self._stop_task()
        await self._groups.forget_consumer(self)


class GroupConsumers:
    """The competing consumers of one Redis broker (``RedisBroker.groups``)."""

    def __init__(self, source: GroupSource) -> None:
        self.source = source
        self._counter = 0

    def done_key(self, group: str, event_id: str) -> str:
        return f"{self.source.prefix}done:{group}:{event_id}"

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
        self.source.check_open()
        self._counter += 1
        name = consumer or f"{self.source.consumer_name}-{self._counter}"
        sub = _GroupSubscription(self, topic, group, name, accepts, linger)
        ready = False
        try:
            await self._ensure_group(self.source.stream_key(topic), group)
            ready = True
        except UNAVAILABLE as exc:
            # The consumer loop creates the group once Redis is back.
            log.warning(
                "broker: redis unreachable while subscribing %s/%s (%s)", topic, group, type(exc).__name__
            )
        sub.task = asyncio.create_task(self._consume(sub, handler, ready), name=f"broker {sub.description}")
        self.source.subscriptions.add(sub)
        return sub

    async def _ensure_group(self, stream: str, group: str, start: str = "$") -> None:
        try:
            await self.source.client.xgroup_create(stream, group, id=start, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _consume(self, sub: _GroupSubscription, handler: Handler, ready: bool) -> None:
        stream = self.source.stream_key(sub.topic)
        backoff = Backoff()
        next_reclaim = 0.0
        next_tidy = time.monotonic() + random.uniform(0, self.source.tidy_every)
        start = "$"
        while not sub.stopping:
            try:
                if not ready:
                    await self._ensure_group(stream, sub.group, start)
                    ready = True
                if time.monotonic() >= next_reclaim:
                    await self._reclaim(sub, stream, handler)
                    next_reclaim = time.monotonic() + self.source.reclaim_every
                if time.monotonic() >= next_tidy:
                    await self._tidy_group(stream, sub)
                    next_tidy = time.monotonic() + self.source.tidy_every
                response = await self.source.client.xreadgroup(
                    sub.group, sub.consumer, {stream: ">"}, count=BATCH, block=self.source.block_ms
                )
                refused: list[Any] = []
                taken = 0
                for _stream, entries in stream_entries(response):
                    taken += len(entries)
                    for entry_id, fields in entries:
                        await self._handle(sub, stream, entry_id, fields, handler, refused)
                if refused:
                    await self.source.client.xack(stream, sub.group, *refused)
                backoff.reset()
                if sub.linger > 0 and 0 < taken < BATCH:
                    # Events are coming one by one: let the next ones gather (after a quiet
                    # spell the read blocks, and the first event is taken at once).
                    await asyncio.sleep(sub.linger)
            except asyncio.CancelledError:
                raise
            except ResponseError as exc:
                if "NOGROUP" in str(exc) and ready:
                    # The stream or the group is gone (Redis lost its data, or someone deleted it):
                    # create the group again from the stream's start, so that nothing published
                    # since is missed; what the group had handled is skipped by its done markers.
                    log.warning("broker: consumer group of %s is gone; creating it again", sub.description)
                    ready = False
                    start = "0"
                    continue
                delay = backoff.next()
                log.error(
                    "broker: consumer %s: redis error %s; retrying in %.1fs", sub.description, exc, delay
                )
                await asyncio.sleep(delay)
            except UNAVAILABLE as exc:
                delay = backoff.next()
                log.warning(
                    "broker: consumer %s lost redis (%s); retrying in %.1fs",
                    sub.description,
                    type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
            except Exception as exc:
                delay = backoff.next()
                log.error(
                    "broker: consumer %s failed; retrying in %.1fs: %s",
                    sub.description,
                    delay,
                    failure_summary(exc),
                )
                await asyncio.sleep(delay)

    async def _reclaim(self, sub: _GroupSubscription, stream: str, handler: Handler) -> None:
        """Take over entries of the group idle longer than ``reclaim_idle`` and handle them."""
        start = "0-0"
        min_idle = int(self.source.reclaim_idle * 1000)
        for _ in range(100):
            result = await self.source.client.xautoclaim(
                stream, sub.group, sub.consumer, min_idle_time=min_idle, start_id=start, count=BATCH
            )
            start = text(result[0])
            entries = result[1]
            refused: list[Any] = []
            for entry_id, fields in entries:
                if fields is None:
                    continue
                log.info("broker: consumer %s reclaimed entry %s", sub.description, text(entry_id))
                await self._handle(sub, stream, entry_id, fields, handler, refused)
            if refused:
                await self.source.client.xack(stream, sub.group, *refused)
            if start == "0-0":
                return

    async def _handle(
        self,
        sub: _GroupSubscription,
        stream: str,
        entry_id: Any,
        fields: Mapping[Any, Any],
        handler: Handler,
        refused: list[Any],
    ) -> None:
        """Run ``handler`` on one entry; an entry the subscription does not accept goes to
        ``refused``, which the caller acknowledges together with the others of its read."""
        if sub.stopping:
            return
        client = self.source.client
        try:
            event = decode(sub.topic, fields)
        except (KeyError, ValueError, UnicodeDecodeError) as exc:
            log.error(
                "broker: entry %s on %s is not an event (%s); acknowledged and skipped",
                text(entry_id),
                sub.topic,
                type(exc).__name__,
            )
            await client.xack(stream, sub.group, entry_id)
            return
        if sub.accepts is not None and not sub.accepts(event):
            refused.append(entry_id)
            return
        done_key = self.done_key(sub.group, event.id)
        if await client.exists(done_key):
            await client.xack(stream, sub.group, entry_id)
            return
        keepalive = asyncio.create_task(self._keep_claimed(stream, sub, entry_id))
        try:
            await handler(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.log(
                failure_level(exc),
                "broker: handler of group %s failed on event %s (%s); it stays pending: %s",
                sub.group,
                event.id,
                sub.topic,
                failure_summary(exc),
            )
            return
        finally:
            keepalive.cancel()
        async with client.pipeline(transaction=True) as pipe:
            pipe.set(done_key, b"1", nx=True, ex=self.source.done_ttl)
            pipe.xack(stream, sub.group, entry_id)
            await pipe.execute()

    async def _keep_claimed(self, stream: str, sub: _GroupSubscription, entry_id: Any) -> None:
        """While a handler runs, claim its entry again now and then so that its idle time stays
        below ``reclaim_idle``: a slow handler is not taken over by another consumer."""
        while True:
            await asyncio.sleep(self.source.reclaim_idle / 3)
            try:
                await self.source.client.xclaim(stream, sub.group, sub.consumer, 0, [entry_id], justid=True)
            except (RedisError, OSError) as exc:
                log.debug("broker: could not keep entry %s claimed (%s)", text(entry_id), type(exc).__name__)

    async def _tidy_group(self, stream: str, sub: _GroupSubscription) -> None:
        """Delete consumers of the group that have nothing pending and were idle for long (dead
        processes); live consumers read every few seconds, so they are never idle for long."""
        try:
            consumers = await self.source.client.xinfo_consumers(stream, sub.group)
        except (RedisError, OSError) as exc:
            log.debug("broker: could not list consumers of %s (%s)", sub.description, type(exc).__name__)
            return
        for info in consumers:
            fields = {text(k): v for k, v in info.items()}
            name = text(fields.get("name", ""))
            if (
                not name
                or name == sub.consumer
                or int(fields.get("pending", 1))
                or int(fields.get("idle", 0)) < self.source.forget_after_ms
            ):
                continue
            try:
                if await self._delete_consumer(stream, sub.group, name):
                    log.info("broker: removed idle consumer %s from group %s", name, sub.group)
            except (RedisError, OSError):
                return

    async def _delete_consumer(self, stream: str, group: str, consumer: str) -> bool:
        """Delete ``consumer`` from ``group`` if it has nothing pending; True if deleted."""
        result = await self.source.client.eval(_DELETE_IDLE_CONSUMER, 1, stream, group, consumer)
        return int(result) >= 0

    async def forget_consumer(self, sub: _GroupSubscription) -> None:
        """Delete the consumer from its group when it has nothing pending (keeps XINFO tidy)."""
        if not self.source.connected:
            return
        if any(
            isinstance(other, _GroupSubscription)
            and (other.topic, other.group, other.consumer) == (sub.topic, sub.group, sub.consumer)
            for other in self.source.subscriptions
        ):
            return
        stream = self.source.stream_key(sub.topic)
        try:
            await self._delete_consumer(stream, sub.group, sub.consumer)
        except (RedisError, OSError) as exc:
            log.debug("broker: could not remove consumer %s (%s)", sub.description, type(exc).__name__)
