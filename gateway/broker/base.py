"""The broker interface: events between the parts of the gateway, and between its processes.

Two ways to listen:

* ``subscribe(topic, group, handler)``: competing consumers.  Every event published on ``topic``
  is handled by one consumer of ``group`` (several processes may consume in the same group), at
  least once: an event is acknowledged only after its handler returned; a handler that raised, or
  a consumer that died before acknowledging, leaves the event pending, and after
  ``reclaim_idle`` seconds another consumer of the group claims it.  Consumers are idempotent:
  an event id that the group has already handled successfully is acknowledged without calling the
  handler again.  Different groups each get every event.  ``accepts``, a cheap test of an event,
  lets a group skip what it has no use for: a refused event is acknowledged at once, without the
  handler and without the bookkeeping of "handled".  ``linger`` lets a group that needs its events
  no sooner wait up to that many seconds to take them together: a group that refuses most of a busy
  topic (its ``accepts``) then costs one read and one acknowledgement per batch, not per event.  A
  broker that delivers from memory has no reads to save and may deliver at once.
* ``fanout(topic, handler)``: every process that listens gets every event published after it began
  listening (live updates to websockets).  Best effort: nothing is redelivered.  When the feed was
  interrupted (Redis unreachable for a while) the handler gets an event whose payload is
  ``{"kind": "resync"}`` once it is back: it may have missed events and should read what it shows
  from the store again.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from gateway.batch import Stretch
from gateway.envelope import random_id, utcnow


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    topic: str
    payload: dict[str, Any]
    at: datetime = field(default_factory=utcnow)


FEW_EVENTS_LINGER = 0.5
"""The ``linger`` of a group that accepts few of a busy topic's events and whose handler may run
half a second late (a person's consent answer, a "forget me", a language notice)."""

RESYNC = "resync"
"""``kind`` of the fan-out event that tells a listener its feed was interrupted."""

Handler = Callable[[Event], Awaitable[None]]
Accepts = Callable[[Event], bool]


T = TypeVar("T")


class Slice:
    """A fan-out listener's way to its next entry: one that runs without suspending (its queue not
    empty, its sends buffered) lets the loop run after every stretch of work (``batch.Stretch``):
    a burst of events (one batch's commit) would otherwise hold every socket of the process."""

    def __init__(self) -> None:
        self._stretch = Stretch()

    async def next(self, queue: asyncio.Queue[T]) -> T:
        if not queue.empty():
            await self._stretch.pause()  # a backlog: let the loop run now and then
        if queue.empty():
            entry = await queue.get()
            self._stretch.restart()  # it waited: a new stretch starts
            return entry
        return queue.get_nowait()


class DirectEvents:
    """Events published directly (not through the outbox: typing, receipts), together.

    Under load a publish each was a Redis round trip each, a few per round trip of the path, and
    as many wake-ups of every process's fan-out reader.  Here at most one publish is in flight:
    what comes meanwhile goes out with the next, in one pipelined round trip.  Each caller still
    waits until its event is published, and learns whether it was."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self._next: list[tuple[str, dict[str, Any], str | None]] = []
        self._next_done: asyncio.Future[Exception | None] | None = None
        self._sender: asyncio.Task[None] | None = None

    async def publish(self, topic: str, payload: dict[str, Any]) -> None:
        """Publish ``payload`` with the others that come before the next send; raise as the
        broker's publish would."""
        if self._next_done is None:
            self._next_done = asyncio.get_running_loop().create_future()
        done = self._next_done
        self._next.append((topic, payload, None))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send(), name="direct events")
        failed = await asyncio.shield(done)
        if failed is not None:
            raise failed

    async def _send(self) -> None:
        while self._next:
            batch, done = self._next, self._next_done
            self._next, self._next_done = [], None
            failed: Exception | None = None
            try:
                await self.broker.publish_many(batch)
            except Exception as exc:  # each caller gets it (a result: no one may be waiting)
                failed = exc
            if done is not None and not done.done():
                done.set_result(failed)


def new_event_id() -> str:
    return random_id()


class Subscription(ABC):
    @abstractmethod
    async def cancel(self) -> None:
        """Stop consuming.  Events taken but not yet acknowledged stay pending for the group."""


class Broker(ABC):
    name: str = "broker"

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def publish(self, topic: str, payload: dict[str, Any], event_id: str | None = None) -> str:
        """Publish an event; return its id.  ``event_id`` makes a republish idempotent for consumers."""

    async def publish_many(self, events: Sequence[tuple[str, dict[str, Any], str | None]]) -> None:
        """Publish ``(topic, payload, event_id)`` in order: all of them, or raise (then any may have
        been published, as with a failure between single publishes).  A broker over the network
        sends them in one round trip."""
        for topic, payload, event_id in events:
            await self.publish(topic, payload, event_id=event_id)

    @abstractmethod
    async def subscribe(
        self,
        topic: str,
        group: str,
        handler: Handler,
        *,
        consumer: str | None = None,
        accepts: Accepts | None = None,
        linger: float = 0.0,
    ) -> Subscription: ...

    @abstractmethod
    async def fanout(self, topic: str, handler: Handler) -> Subscription: ...

    async def trim_before(self, before: datetime) -> int:
        """Delete the stored events published before ``before`` (retention); how many.  A broker
        that keeps no events after their delivery has nothing to delete."""
        return 0

    async def forget_conversation(self, conversation_id: str) -> int:
        """Delete every stored event of a conversation (erasure on request); how many."""
        return 0

    @abstractmethod
    async def health(self) -> dict[str, Any]:
        """``{"state": "ok"|"down", ...}``."""
