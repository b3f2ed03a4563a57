"""Fanout for the Redis Streams broker: one blocking XREAD per topic and process, handing each entry
to every local listener (console sockets, web chat sessions) that began listening before it was
published.  Also the small pieces the group consumers share: decoding an entry, the back-off and
the base of a subscription."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final, Protocol

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.broker.base import RESYNC, Event, Handler, Slice, Subscription, new_event_id
from gateway.broker.inprocess import failure_summary, stop_task
from gateway.envelope import utcnow

log = logging.getLogger("gateway.broker.redis")

BATCH: Final = 32
FANOUT_QUEUE: Final = 10_000
"""Entries a fanout listener may fall behind before the oldest are dropped."""
BACKOFF_INITIAL: Final = 0.2
BACKOFF_MAX: Final = 10.0


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def field(fields: Mapping[Any, Any], name: str) -> Any:
    """An entry's field, whichever way redis-py gives its keys (KeyError when it has none)."""
    value = fields.get(name.encode(), fields.get(name))
    if value is None:
        raise KeyError(name)
    return value


def decode(topic: str, fields: Mapping[Any, Any]) -> Event:
    payload = orjson.loads(field(fields, "payload"))  # its errors are ValueErrors
    if not isinstance(payload, dict):
        raise ValueError("payload is not an object")
    at = datetime.fromisoformat(text(field(fields, "at")))
    return Event(id=text(field(fields, "id")), topic=topic, payload=payload, at=at)


def encode(payload: Mapping[str, Any]) -> bytes:
    """An event's payload as the stream keeps it (JSON)."""
    return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)


def stream_entries(response: Any) -> list[tuple[Any, list[tuple[Any, Any]]]]:
    """The (stream, entries) pairs of an XREAD/XREADGROUP answer, in either of redis-py's shapes."""
    if not response:
        return []
    if isinstance(response, dict):
        return [(k, v[0] if v and isinstance(v[0], list) else v) for k, v in response.items()]
    return [(item[0], item[1]) for item in response]


def entry_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class Backoff:
    def __init__(self) -> None:
        self.delay = BACKOFF_INITIAL

    def next(self) -> float:
        delay = self.delay
        self.delay = min(BACKOFF_MAX, self.delay * 2)
        return delay

    def reset(self) -> None:
        self.delay = BACKOFF_INITIAL


class RedisSubscription(Subscription):
    """A subscription whose task runs until cancelled; ``registry`` is the broker's set of open
    subscriptions (closed together with the broker)."""

    def __init__(self, registry: set[RedisSubscription], description: str) -> None:
        self._registry = registry
        self.description = description
        self.task: asyncio.Task[None] | None = None
        self.stopping = False

    async def _stop_task(self) -> None:
        self.stopping = True
        self._registry.discard(self)
        await stop_task(self.task)

    async def cancel(self) -> None:
        await self._stop_task()


class StreamSource(Protocol):
    """What a fanout reader needs of the broker."""

    @property
    def client(self) -> aioredis.Redis: ...

    @property
    def block_ms(self) -> int: ...

    def stream_key(self, topic: str) -> str: ...

    async def last_id(self, stream: str) -> str: ...


class FanoutListener(RedisSubscription):
    """One fanout handler: it gets the entries after ``since`` from its topic's shared reader.

    Every handler runs in a task of its own and gets its own copy of each payload, so that a slow
    handler (a console pushing to many sockets) never holds up the others; its queue is bounded
    and drops the oldest entries, with a warning, when it falls that far behind.
    """

    def __init__(
        self,
        registry: set[RedisSubscription],
        topic: str,
        handler: Handler,
        since: str | None,
        leave: Callable[[FanoutListener], asyncio.Task[None] | None],
    ) -> None:
        super().__init__(registry, f"fanout {topic}")
        self.topic = topic
        self.handler = handler
        self.since = entry_key(since) if since is not None else None
        self.queue: asyncio.Queue[tuple[str, Mapping[Any, Any]]] = asyncio.Queue(maxsize=FANOUT_QUEUE)
        self.dropped = 0
        self._leave = leave

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
            "payload": encode({"kind": RESYNC}),
        }
        if not self.queue.full():
            self.queue.put_nowait(("resync", fields))

    async def run(self) -> None:
        stretch = Slice()
        while not self.stopping:
            entry_id, fields = await stretch.next(self.queue)
            try:
                await self.handler(decode(self.topic, fields))
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
        reader = self._leave(self)
        await self._stop_task()
        await stop_task(reader)


class FanoutReader:
    """One blocking XREAD per topic and process, whatever the number of listeners to it."""

    def __init__(self, source: StreamSource, topic: str, last_id: str | None) -> None:
        self.source = source
        self.topic = topic
        self.listeners: set[FanoutListener] = set()
        self.task = asyncio.create_task(self._read(last_id), name=f"broker fanout reader {topic}")

    async def _read(self, last_id: str | None) -> None:
        source, stream = self.source, self.source.stream_key(self.topic)
        backoff = Backoff()
        interrupted = False
        while self.listeners:
            try:
                if last_id is None:
                    last_id = await source.last_id(stream)
                response = await source.client.xread({stream: last_id}, count=BATCH, block=source.block_ms)
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
            for _stream, items in stream_entries(response):
                for entry_id, fields in items:
                    last_id = text(entry_id)
                    key = entry_key(last_id)
                    for listener in list(self.listeners):
                        listener.offer(last_id, key, fields)
