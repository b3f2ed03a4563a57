"""The in-process broker: the embedded default (one process, no Redis).

It keeps the semantics of :mod:`gateway.broker.base` exactly, so that code tested against it behaves
the same on Redis Streams:

* every group gets every event published after the group's first consumer subscribed;
* inside a group, consumers compete; an event stays *pending* from the moment a consumer takes it
  until its handler returned; a handler that raised, or a consumer cancelled while its handler ran,
  leaves the event pending, and ``reclaim_idle`` seconds later any consumer of the group takes it
  again;
* a group remembers the ids of the events it handled (the last ``ledger_size`` of them) and
  acknowledges a republished id without calling the handler again;
* fanout listeners get every event published while they listen, best effort.

Payloads go through JSON on publish, as on Redis: a payload that Redis could not carry fails here
too, and every handler gets its own copy.  Memory is bounded: a group's backlog keeps at most
``maxlen`` events (the oldest are dropped, as Redis trims its streams), the ledger ``ledger_size``
ids, and a fanout listener's queue ``fanout_queue`` events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import traceback
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.broker.base import Accepts, Broker, Event, Handler, Slice, Subscription, new_event_id
from gateway.envelope import utcnow
from gateway.errors import BrokerUnavailable, HelplineError
from gateway.tasks import cancel_and_wait

log = logging.getLogger(__name__)

DEFAULT_MAXLEN = 100_000
DEFAULT_LEDGER_SIZE = 100_000
DEFAULT_FANOUT_QUEUE = 10_000


def is_expected(exc: BaseException) -> bool:
    return isinstance(exc, HelplineError) and exc.retryable


def failure_level(exc: BaseException) -> int:
    """WARNING for an expected outage (the event stays pending and is retried), ERROR for a bug."""
    return logging.WARNING if is_expected(exc) else logging.ERROR


def failure_summary(exc: BaseException) -> str:
    """The exception's type and where it was raised, never its message (it may quote content).

    An expected outage that the handler's retry will outlast (a retryable error: a channel's
    server away, the store away) is its type alone: its adapter has said what failed."""
    if is_expected(exc):
        return type(exc).__qualname__
    frames = traceback.extract_tb(exc.__traceback__)
    where = "".join(traceback.format_list(frames[-6:])).rstrip()
    return f"{type(exc).__module__}.{type(exc).__qualname__}\n{where}" if where else type(exc).__qualname__


@dataclass(frozen=True, slots=True)
class _Entry:
    id: str
    topic: str
    at: datetime
    raw: str

    def event(self) -> Event:
        return Event(id=self.id, topic=self.topic, payload=json.loads(self.raw), at=self.at)


@dataclass(slots=True)
class _Pending:
    entry: _Entry
    owner: str | None
    """The consumer whose handler is running it; None while it waits to be reclaimed."""


class _Group:
    def __init__(self, topic: str, name: str, maxlen: int, ledger_size: int) -> None:
        self.topic = topic
        self.name = name
        self.maxlen = maxlen
        self.ledger_size = ledger_size
        self.ready: deque[_Entry] = deque()
        self.pending: dict[str, _Pending] = {}
        self.idle: OrderedDict[str, float] = OrderedDict()
        """Pending ids no handler is running, with the monotonic time they were left, oldest first."""
        self.done: OrderedDict[str, None] = OrderedDict()
        self.consumers = 0
        self.dropped = 0
        self.wakeup = asyncio.Event()

    def notify(self) -> None:
        self.wakeup.set()
        self.wakeup = asyncio.Event()

    def push(self, entry: _Entry) -> None:
        if len(self.ready) >= self.maxlen:
            self.ready.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning(
                    "broker: group %s on %s has more than %d waiting events; dropped the oldest (%d so far)",
                    self.name,
                    self.topic,
                    self.maxlen,
                    self.dropped,
                )
        self.ready.append(entry)
        self.notify()

    def take(self, consumer: str, reclaim_idle: float) -> tuple[_Entry | None, float | None]:
        """The next entry for ``consumer``, or None and how long to wait at most before asking again."""
        now = time.monotonic()
        if self.idle:
            event_id, since = next(iter(self.idle.items()))
            if now - since >= reclaim_idle:
                del self.idle[event_id]
                pending = self.pending[event_id]
                pending.owner = consumer
                return pending.entry, None
        while self.ready:
            entry = self.ready.popleft()
            if entry.id in self.pending:
                # The same id is already pending in this group: it will be delivered until handled.
                continue
            self.pending[entry.id] = _Pending(entry, consumer)
            return entry, None
        if self.idle:
            since = next(iter(self.idle.values()))
            return None, max(0.0, since + reclaim_idle - now)
        return None, None

    def release(self, event_id: str) -> None:
        """The handler failed or was cancelled: the entry stays pending, free to be reclaimed."""
        pending = self.pending.get(event_id)
        if pending is None:
            return
        pending.owner = None
        self.idle[event_id] = time.monotonic()
        self.notify()

    def ack(self, event_id: str) -> None:
        self.pending.pop(event_id, None)
        self.idle.pop(event_id, None)

    def complete(self, event_id: str) -> None:
        self.ack(event_id)
        self.done[event_id] = None
        self.done.move_to_end(event_id)
        while len(self.done) > self.ledger_size:
            self.done.popitem(last=False)

    def handled(self, event_id: str) -> bool:
        return event_id in self.done


async def stop_task(task: asyncio.Task[None] | None) -> None:
    """Cancel a subscription's task and wait until it ended (``gateway.tasks.cancel_and_wait``)."""
    await cancel_and_wait(task)


class _TaskSubscription(Subscription):
    def __init__(self, broker: InProcessBroker, description: str) -> None:
        self._broker = broker
        self.description = description
        self.task: asyncio.Task[None] | None = None
        self.stopping = False

    async def cancel(self) -> None:
        self.stopping = True
        self._broker._subscriptions.discard(self)
        await stop_task(self.task)


class _FanoutSubscription(_TaskSubscription):
    def __init__(self, broker: InProcessBroker, topic: str, queue_size: int) -> None:
        super().__init__(broker, f"fanout {topic}")
        self.topic = topic
        self.queue: asyncio.Queue[_Entry] = asyncio.Queue(maxsize=queue_size)
        self.dropped = 0

    def offer(self, entry: _Entry) -> None:
        try:
            self.queue.put_nowait(entry)
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning(
                    "broker: fanout listener on %s is behind; dropped %d events", self.topic, self.dropped
                )

    async def cancel(self) -> None:
        self._broker._fanouts.get(self.topic, set()).discard(self)
        await super().cancel()


class InProcessBroker(Broker):
    name = "in-process"

    def __init__(
        self,
        *,
        reclaim_idle: float = 30.0,
        maxlen: int = DEFAULT_MAXLEN,
        ledger_size: int = DEFAULT_LEDGER_SIZE,
        fanout_queue: int = DEFAULT_FANOUT_QUEUE,
        consumer_name: str | None = None,
    ) -> None:
        self.reclaim_idle = reclaim_idle
        self.maxlen = maxlen
        self.ledger_size = ledger_size
        self.fanout_queue = fanout_queue
        self.consumer_name = consumer_name or "local"
        self._groups: dict[str, dict[str, _Group]] = {}
        self._fanouts: dict[str, set[_FanoutSubscription]] = {}
        self._subscriptions: set[_TaskSubscription] = set()
        self._counter = 0
        self._closed = False

    async def start(self) -> None:
        self._closed = False

    async def close(self) -> None:
        self._closed = True
        subscriptions = list(self._subscriptions)
        await asyncio.gather(*(s.cancel() for s in subscriptions), return_exceptions=True)
        self._subscriptions.clear()

    async def publish(self, topic: str, payload: dict[str, Any], event_id: str | None = None) -> str:
        if self._closed:
            raise BrokerUnavailable("the broker is closed")
        entry = _Entry(id=event_id or new_event_id(), topic=topic, at=utcnow(), raw=json.dumps(payload))
        for group in self._groups.get(topic, {}).values():
            group.push(entry)
        for listener in self._fanouts.get(topic, ()):
            listener.offer(entry)
        return entry.id

    async def subscribe(
        self,
        topic: str,
        group: str,
        handler: Handler,
        *,
        consumer: str | None = None,
        accepts: Accepts | None = None,
        linger: float = 0.0,  # events come from memory: nothing to save by waiting
    ) -> Subscription:
        if self._closed:
            raise BrokerUnavailable("the broker is closed")
        groups = self._groups.setdefault(topic, {})
        state = groups.get(group)
        if state is None:
            state = groups[group] = _Group(topic, group, self.maxlen, self.ledger_size)
        self._counter += 1
        name = consumer or f"{self.consumer_name}-{self._counter}"
        sub = _TaskSubscription(self, f"{topic}/{group}/{name}")
        sub.task = asyncio.create_task(
            self._consume(sub, state, handler, name, accepts), name=f"broker {sub.description}"
        )
        self._subscriptions.add(sub)
        return sub

    async def fanout(self, topic: str, handler: Handler) -> Subscription:
        if self._closed:
            raise BrokerUnavailable("the broker is closed")
        sub = _FanoutSubscription(self, topic, self.fanout_queue)
        sub.task = asyncio.create_task(self._listen(sub, handler), name=f"broker {sub.description}")
        self._fanouts.setdefault(topic, set()).add(sub)
        self._subscriptions.add(sub)
        return sub

    async def health(self) -> dict[str, Any]:
        groups = [g for by_name in self._groups.values() for g in by_name.values()]
        return {
            "state": "down" if self._closed else "ok",
            "kind": "in-process",
            "subscriptions": len(self._subscriptions),
            "waiting": sum(len(g.ready) for g in groups),
            "pending": sum(len(g.pending) for g in groups),
        }

    async def _consume(
        self, sub: _TaskSubscription, group: _Group, handler: Handler, consumer: str, accepts: Accepts | None
    ) -> None:
        group.consumers += 1
        try:
            while not sub.stopping:
                wakeup = group.wakeup
                entry, wait = group.take(consumer, self.reclaim_idle)
                if entry is None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wakeup.wait(), timeout=wait)
                    continue
                if group.handled(entry.id):
                    group.ack(entry.id)
                    continue
                event = entry.event()
                if accepts is not None and not accepts(event):
                    group.ack(entry.id)
                    continue
                try:
                    await handler(event)
                except asyncio.CancelledError:
                    group.release(entry.id)
                    raise
                except Exception as exc:
                    group.release(entry.id)
                    log.log(
                        failure_level(exc),
                        "broker: handler of group %s failed on event %s (%s); it stays pending: %s",
                        group.name,
                        entry.id,
                        group.topic,
                        failure_summary(exc),
                    )
                    continue
                group.complete(entry.id)
        finally:
            group.consumers -= 1

    async def _listen(self, sub: _FanoutSubscription, handler: Handler) -> None:
        stretch = Slice()
        while not sub.stopping:
            entry = await stretch.next(sub.queue)
            try:
                await handler(entry.event())
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "broker: fanout handler on %s failed on event %s: %s",
                    sub.topic,
                    entry.id,
                    failure_summary(exc),
                )
