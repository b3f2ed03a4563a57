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
import random
import socket
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT, FieldT

from gateway.broker.base import RESYNC, Accepts, Broker, Event, Handler, Subscription, new_event_id
from gateway.broker.inprocess import failure_summary, stop_task
from gateway.envelope import utcnow
from gateway.errors import BrokerUnavailable

log = logging.getLogger(__name__)

DEFAULT_MAXLEN = 100_000
DONE_TTL = 7 * 24 * 3600
BATCH = 32
FANOUT_QUEUE = 10_000
"""Entries a fanout listener may fall behind before the oldest are dropped."""
POOL_CONNECTIONS = 200
POOL_WAIT = 5.0
"""Seconds a command waits for a free connection before it counts as Redis being unavailable."""
BACKOFF_INITIAL = 0.2
BACKOFF_MAX = 10.0
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError, OSError)


# Delete a consumer only if it has nothing pending, atomically (DELCONSUMER drops its pending entries).
# KEYS[1] stream; ARGV[1] group; ARGV[2] consumer.  -1 when kept.
_DELETE_IDLE_CONSUMER = """
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) == 0 then
  return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
end
return -1
"""


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _decode(topic: str, fields: Mapping[Any, Any]) -> Event:
    data = {_text(k): _text(v) for k, v in fields.items()}
    payload = json.loads(data["payload"])
    if not isinstance(payload, dict):
        raise ValueError("payload is not an object")
    return Event(id=data["id"], topic=topic, payload=payload, at=datetime.fromisoformat(data["at"]))


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


class _Backoff:
    def __init__(self) -> None:
        self.delay = BACKOFF_INITIAL

    def next(self) -> float:
        delay = self.delay
        self.delay = min(BACKOFF_MAX, self.delay * 2)
        return delay

    def reset(self) -> None:
        self.delay = BACKOFF_INITIAL


class _RedisSubscription(Subscription):
    def __init__(self, broker: RedisBroker, description: str) -> None:
        self._broker = broker
        self.description = description
        self.task: asyncio.Task[None] | None = None
        self.stopping = False

    async def _stop_task(self) -> None:
        self.stopping = True
        self._broker._subscriptions.discard(self)
        await stop_task(self.task)

    async def cancel(self) -> None:
        await self._stop_task()


class _GroupSubscription(_RedisSubscription):
    def __init__(
        self, broker: RedisBroker, topic: str, group: str, consumer: str, accepts: Accepts | None = None
    ) -> None:
        super().__init__(broker, f"{topic}/{group}/{consumer}")
        self.topic = topic
        self.group = group
        self.consumer = consumer
        self.accepts = accepts

    async def cancel(self) -> None:
        await self._stop_task()
        await self._broker._forget_consumer(self)


def _entry_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class _FanoutListener(_RedisSubscription):
    """One fanout handler: it gets the entries after ``since`` from its topic's shared reader.

    Every handler runs in a task of its own and gets its own copy of each payload, so that a slow
    handler (a console pushing to many sockets) never holds up the others; its queue is bounded
    and drops the oldest entries, with a warning, when it falls that far behind.
    """

    def __init__(self, broker: RedisBroker, topic: str, handler: Handler, since: str | None) -> None:
        super().__init__(broker, f"fanout {topic}")
        self.topic = topic
        self.handler = handler
        self.since = _entry_key(since) if since is not None else None
        self.queue: asyncio.Queue[tuple[str, Mapping[Any, Any]]] = asyncio.Queue(maxsize=FANOUT_QUEUE)
        self.dropped = 0

    def offer(self, entry_id: str, key: tuple[int, int], fields: Mapping[Any, Any]) -> None:
        if self.since is not None and key <= self.since:
            return  # published before this listener began
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning(
                    "broker: fanout listener on %s is behind; dropped %d events", self.topic, self.dropped
                )
        self.queue.put_nowait((entry_id, fields))

    def resync(self) -> None:
        """Tell the handler that its feed was interrupted (it may have missed events): an event
        ``{"kind": "resync"}``, so that it reads what it shows from the store again."""
        fields = {
            "id": f"resync-{new_event_id()}",
            "at": utcnow().isoformat(),
            "payload": json.dumps({"kind": RESYNC}),
        }
        if not self.queue.full():
            self.queue.put_nowait(("resync", fields))

    async def run(self) -> None:
        while not self.stopping:
            entry_id, fields = await self.queue.get()
            try:
                await self.handler(_decode(self.topic, fields))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "broker: fanout handler on %s failed on entry %s: %s",
                    self.topic,
                    entry_id,
                    failure_summary(exc),
                )

    async def cancel(self) -> None:
        reader = self._broker._leave_fanout(self)
        await self._stop_task()
        await stop_task(reader)


class _FanoutReader:
    """One blocking XREAD per topic and process, whatever the number of listeners to it."""

    def __init__(self, broker: RedisBroker, topic: str, last_id: str | None) -> None:
        self.broker = broker
        self.topic = topic
        self.listeners: set[_FanoutListener] = set()
        self.task = asyncio.create_task(self._read(last_id), name=f"broker fanout reader {topic}")

    async def _read(self, last_id: str | None) -> None:
        broker, stream = self.broker, self.broker.stream_key(self.topic)
        backoff = _Backoff()
        interrupted = False
        while self.listeners:
            try:
                if last_id is None:
                    last_id = await broker._last_id(stream)
                response = await broker.client.xread({stream: last_id}, count=BATCH, block=broker.block_ms)
                backoff.reset()
                if interrupted:
                    interrupted = False
                    log.info("broker: fanout reader on %s is back; its listeners resynchronise", self.topic)
                    for listener in list(self.listeners):
                        listener.resync()
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                interrupted = True
                delay = backoff.next()
                log.warning(
                    "broker: fanout reader on %s lost redis (%s); retrying in %.1fs",
                    self.topic,
                    type(exc).__name__,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            for _stream, entries in broker._entries(response):
                for entry_id, fields in entries:
                    last_id = _text(entry_id)
                    key = _entry_key(last_id)
                    for listener in list(self.listeners):
                        listener.offer(last_id, key, fields)


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
        self._subscriptions: set[_RedisSubscription] = set()
        self._readers: dict[str, _FanoutReader] = {}
        self._counter = 0
        self._closed = False

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

    def stream_key(self, topic: str) -> str:
        return f"{self.prefix}stream:{topic}"

    def done_key(self, group: str, event_id: str) -> str:
        return f"{self.prefix}done:{group}:{event_id}"

    async def start(self) -> None:
        self._closed = False
        _ = self.client

    async def close(self) -> None:
        self._closed = True
        subscriptions = list(self._subscriptions)
        await asyncio.gather(*(s.cancel() for s in subscriptions), return_exceptions=True)
        self._subscriptions.clear()
        if self._client is not None:
            client, self._client = self._client, None
            with contextlib.suppress(RedisError, OSError):
                await client.aclose()

    def _check_open(self) -> None:
        if self._closed:
            raise BrokerUnavailable("the broker is closed")

    # -- publishing ------------------------------------------------------------------------------

    async def publish(self, topic: str, payload: dict[str, Any], event_id: str | None = None) -> str:
        self._check_open()
        event_id = event_id or new_event_id()
        fields: dict[FieldT, EncodableT] = {
            "id": event_id,
            "at": utcnow().isoformat(),
            "payload": json.dumps(payload),
        }
        try:
            await self.client.xadd(self.stream_key(topic), fields, maxlen=self.maxlen, approximate=True)
        except UNAVAILABLE as exc:
            raise BrokerUnavailable(f"redis unreachable ({type(exc).__name__})") from exc
        return event_id

    # -- competing consumers ---------------------------------------------------------------------

    async def subscribe(
        self,
        topic: str,
        group: str,
        handler: Handler,
        *,
        consumer: str | None = None,
        accepts: Accepts | None = None,
    ) -> Subscription:
        self._check_open()
        self._counter += 1
        name = consumer or f"{self.consumer_name}-{self._counter}"
        sub = _GroupSubscription(self, topic, group, name, accepts)
        ready = False
        try:
            await self._ensure_group(self.stream_key(topic), group)
            ready = True
        except UNAVAILABLE as exc:
            # The consumer loop creates the group once Redis is back.
            log.warning(
                "broker: redis unreachable while subscribing %s/%s (%s)", topic, group, type(exc).__name__
            )
        sub.task = asyncio.create_task(self._consume(sub, handler, ready), name=f"broker {sub.description}")
        self._subscriptions.add(sub)
        return sub

    async def _ensure_group(self, stream: str, group: str, start: str = "$") -> None:
        try:
            await self.client.xgroup_create(stream, group, id=start, mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _consume(self, sub: _GroupSubscription, handler: Handler, ready: bool) -> None:
        stream = self.stream_key(sub.topic)
        backoff = _Backoff()
        next_reclaim = 0.0
        next_tidy = time.monotonic() + random.uniform(0, self.tidy_every)
        start = "$"
        while not sub.stopping:
            try:
                if not ready:
                    await self._ensure_group(stream, sub.group, start)
                    ready = True
                if time.monotonic() >= next_reclaim:
                    await self._reclaim(sub, stream, handler)
                    next_reclaim = time.monotonic() + self.reclaim_every
                if time.monotonic() >= next_tidy:
                    await self._tidy_group(stream, sub)
                    next_tidy = time.monotonic() + self.tidy_every
                response = await self.client.xreadgroup(
                    sub.group, sub.consumer, {stream: ">"}, count=BATCH, block=self.block_ms
                )
                refused: list[Any] = []
                for _stream, entries in self._entries(response):
                    for entry_id, fields in entries:
                        await self._handle(sub, stream, entry_id, fields, handler, refused)
                if refused:
                    await self.client.xack(stream, sub.group, *refused)
                backoff.reset()
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

    @staticmethod
    def _entries(response: Any) -> list[tuple[Any, list[tuple[Any, Any]]]]:
        if not response:
            return []
        if isinstance(response, dict):
            return [(k, v[0] if v and isinstance(v[0], list) else v) for k, v in response.items()]
        return [(item[0], item[1]) for item in response]

    async def _reclaim(self, sub: _GroupSubscription, stream: str, handler: Handler) -> None:
        """Take over entries of the group idle longer than ``reclaim_idle`` and handle them."""
        start = "0-0"
        min_idle = int(self.reclaim_idle * 1000)
        for _ in range(100):
            result = await self.client.xautoclaim(
                stream, sub.group, sub.consumer, min_idle_time=min_idle, start_id=start, count=BATCH
            )
            start = _text(result[0])
            entries = result[1]
            refused: list[Any] = []
            for entry_id, fields in entries:
                if fields is None:
                    continue
                log.info("broker: consumer %s reclaimed entry %s", sub.description, _text(entry_id))
                await self._handle(sub, stream, entry_id, fields, handler, refused)
            if refused:
                await self.client.xack(stream, sub.group, *refused)
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
        client = self.client
        try:
            event = _decode(sub.topic, fields)
        except (KeyError, ValueError, UnicodeDecodeError) as exc:
            log.error(
                "broker: entry %s on %s is not an event (%s); acknowledged and skipped",
                _text(entry_id),
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
            log.error(
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
            pipe.set(done_key, b"1", nx=True, ex=self.done_ttl)
            pipe.xack(stream, sub.group, entry_id)
            await pipe.execute()

    async def _keep_claimed(self, stream: str, sub: _GroupSubscription, entry_id: Any) -> None:
        """While a handler runs, claim its entry again now and then so that its idle time stays
        below ``reclaim_idle``: a slow handler is not taken over by another consumer."""
        while True:
            await asyncio.sleep(self.reclaim_idle / 3)
            try:
                await self.client.xclaim(stream, sub.group, sub.consumer, 0, [entry_id], justid=True)
            except (RedisError, OSError) as exc:
                log.debug("broker: could not keep entry %s claimed (%s)", _text(entry_id), type(exc).__name__)

    async def _tidy_group(self, stream: str, sub: _GroupSubscription) -> None:
        """Delete consumers of the group that have nothing pending and were idle for long (dead
        processes); live consumers read every few seconds, so they are never idle for long."""
        try:
            consumers = await self.client.xinfo_consumers(stream, sub.group)
        except (RedisError, OSError) as exc:
            log.debug("broker: could not list consumers of %s (%s)", sub.description, type(exc).__name__)
            return
        for info in consumers:
            fields = {_text(k): v for k, v in info.items()}
            name = _text(fields.get("name", ""))
            if (
                not name
                or name == sub.consumer
                or int(fields.get("pending", 1))
                or int(fields.get("idle", 0)) < self.forget_after_ms
            ):
                continue
            try:
                if await self._delete_consumer(stream, sub.group, name):
                    log.info("broker: removed idle consumer %s from group %s", name, sub.group)
            except (RedisError, OSError):
                return

    async def _delete_consumer(self, stream: str, group: str, consumer: str) -> bool:
        """Delete ``consumer`` from ``group`` if it has nothing pending; True if deleted."""
        result = await self.client.eval(_DELETE_IDLE_CONSUMER, 1, stream, group, consumer)
        return int(result) >= 0

    async def _forget_consumer(self, sub: _GroupSubscription) -> None:
        """Delete the consumer from its group when it has nothing pending (keeps XINFO tidy)."""
        if self._client is None:
            return
        if any(
            isinstance(other, _GroupSubscription)
            and (other.topic, other.group, other.consumer) == (sub.topic, sub.group, sub.consumer)
            for other in self._subscriptions
        ):
            return
        stream = self.stream_key(sub.topic)
        try:
            await self._delete_consumer(stream, sub.group, sub.consumer)
        except (RedisError, OSError) as exc:
            log.debug("broker: could not remove consumer %s (%s)", sub.description, type(exc).__name__)

    # -- fanout ----------------------------------------------------------------------------------

    async def fanout(self, topic: str, handler: Handler) -> Subscription:
        self._check_open()
        stream = self.stream_key(topic)
        since: str | None
        try:
            since = await self._last_id(stream)
        except UNAVAILABLE as exc:
            log.warning("broker: redis unreachable while listening to %s (%s)", topic, type(exc).__name__)
            since = None
        sub = _FanoutListener(self, topic, handler, since)
        sub.task = asyncio.create_task(sub.run(), name=f"broker {sub.description}")
        self._subscriptions.add(sub)
        reader = self._readers.get(topic)
        if reader is None:
            reader = self._readers[topic] = _FanoutReader(self, topic, since)
        reader.listeners.add(sub)
        return sub

    def _leave_fanout(self, sub: _FanoutListener) -> asyncio.Task[None] | None:
        """Take ``sub`` off its reader; the reader's task when it has no listener left (to stop)."""
        reader = self._readers.get(sub.topic)
        if reader is None:
            return None
        reader.listeners.discard(sub)
        if reader.listeners:
            return None
        del self._readers[sub.topic]
        return reader.task

    async def _last_id(self, stream: str) -> str:
        newest = await self.client.xrevrange(stream, "+", "-", count=1)
        return _text(newest[0][0]) if newest else "0-0"

    # -- retention and erasure -------------------------------------------------------------------

    async def _stream_keys(self) -> list[str]:
        pattern = f"{self.prefix}stream:*"
        return [_text(k) async for k in self.client.scan_iter(match=pattern, count=500)]

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
                    start = "(" + _text(entries[-1][0])
        except UNAVAILABLE as exc:
            raise BrokerUnavailable(f"redis unreachable ({type(exc).__name__})") from exc
        return removed

    # -- health ----------------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "kind": "redis",
            "consumer": self.consumer_name,
            "subscriptions": len(self._subscriptions),
        }
        if self._closed:
            return {"state": "down", **data, "error": "closed"}
        started = time.monotonic()
        try:
            await asyncio.wait_for(self.client.ping(), timeout=2.0)
        except (RedisError, OSError, TimeoutError) as exc:
            return {"state": "down", **data, "error": type(exc).__name__}
        return {"state": "ok", **data, "latency_ms": round((time.monotonic() - started) * 1000, 2)}
