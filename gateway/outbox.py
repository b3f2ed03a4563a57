"""The transactional outbox: an event is written in the transaction of the change it describes,
and published on the broker afterwards by a relay, until the broker has it.

* Writers add rows to ``outbox_events`` in their own transaction (:func:`event_row` with the
  batch's ``executemany``, :func:`add` for single changes) and call :meth:`Outbox.wake` after the
  commit.  Nothing is published from the request path.
* The relay (one task per process) publishes the rows in the order they were committed, with the
  event id stored in the row (so a republish is the same event for the consumers, which skip an
  id they have handled), a batch at a time (on Redis one pipelined round trip), then deletes them.
  The store hands each committed transaction's rows to the relay of the process that wrote them
  (``Database.on_commit``), so it publishes them without reading them back: the critical alert's
  way to the consoles has no read in it, and a busy process no read per commit.
  A batch that fails is published again whole: the groups skip the ids they handled, and a
  fan-out listener may get an event twice after an outage (the pages skip a ``seq`` they have).
  While the broker is unreachable it backs off (0.2 s doubling to 5 s) and tries again: at least
  once.  It wakes on this process's commits; a poll every ``poll`` seconds, by the clock, publishes
  rows other processes left behind for longer than ``grace`` seconds (a process killed between
  commit and publish) and any of this process's that were not handed over (a commit whose answer
  was lost).
* Without :meth:`Outbox.start` (a pipeline used on its own, as in many tests) a wake runs a
  drain task that ends once this process's rows are published.
* The sweeper (in the started relay) writes a new ``outbound`` event for every outgoing message
  still ``pending`` after ``pending_grace`` seconds (an event that was lost on the way, a broker
  that lost its data) or ``sending`` under a lapsed claim (its sender died: :mod:`gateway.sending`),
  so every outgoing message is delivered; the event id is the same for every
  process within one grace period, so the egress group handles it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import weakref
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import sending
from gateway.broker.base import Broker, new_event_id
from gateway.envelope import Direction, utcnow
from gateway.errors import BrokerError
from gateway.store.db import HANDED, Database
from gateway.store.models import Message, OutboxEvent
from gateway.tasks import cancel_and_wait

if TYPE_CHECKING:
    from gateway.metrics import Metrics

log = logging.getLogger(__name__)

OUTBOX: Table = OutboxEvent.__table__  # type: ignore[assignment]
BATCH = 200
BACKOFF_INITIAL = 0.2
BACKOFF_MAX = 5.0
SWEEP_BATCH = 200
FORGET_BATCH = 1000
FORGET_GATHER = 0.25
"""How long a started relay lets published rows gather before it deletes them in one statement:
under load each relay batch is a few events, and a delete (with its commit) per batch was more
than two statements per round trip.  Whoever waits for the delete (the poll, the close) cuts it
short; a row left by a crash meanwhile is published again, and the consumers skip its id."""


def event_row(
    origin: str,
    topic: str,
    payload: Mapping[str, Any],
    *,
    conversation_id: str | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """An ``outbox_events`` row for :func:`insert_rows`."""
    return {
        "event_id": event_id or new_event_id(),
        "topic": topic,
        "payload": dict(payload),
        "conversation_id": conversation_id,
        "origin": origin,
        "created_at": utcnow(),
    }


async def insert_rows(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert outbox rows with one ``executemany`` (in the caller's transaction)."""
    if rows:
        await session.execute(insert(OUTBOX), list(rows))
        hand_on(session, rows)


def hand_on(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Outbox rows inserted in ``session`` (by :func:`insert_rows` or with other writes), handed to
    this process's relay once the transaction commits, so that it publishes them without reading
    them back (gateway.store.db.HANDED)."""
    session.info.setdefault(HANDED, []).extend(rows)


async def erase_conversation_events(session: AsyncSession, conversation_id: str) -> None:
    """Delete the unpublished events of a conversation (erasure on request)."""
    await session.execute(
        delete(OutboxEvent)
        .where(OutboxEvent.conversation_id == conversation_id)
        .execution_options(synchronize_session=False)
    )


_BY_BROKER: weakref.WeakKeyDictionary[Broker, Outbox] = weakref.WeakKeyDictionary()


def outbox_for(db: Database, broker: Broker) -> Outbox:
    """The process's outbox for ``broker`` (the pipeline's), or a new one when there is none yet."""
    found = _BY_BROKER.get(broker)
    if found is None or found.db is not db:
        found = Outbox(db, broker, f"process-{os.urandom(6).hex()}")
    return found


class Outbox:
    def __init__(
        self,
        db: Database,
        broker: Broker,
        origin: str,
        *,
        poll: float = 1.0,
        grace: float = 5.0,
        pending_grace: float = 60.0,
        sweep_every: float | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.db = db
        self.metrics = metrics
        """Told of every published event (messages in and out) and of the relay's failures."""
        self.broker = broker
        self.origin = origin
        self.poll = poll
        self.grace = grace
        self.pending_grace = pending_grace
        self.sweep_every = pending_grace if sweep_every is None else sweep_every
        """Seconds between two sweeps (by default once per grace period: one event per message)."""
        self.published = 0
        self._handed: list[dict[str, Any]] = []
        """Rows this process committed and has not published yet, in the order of their commits."""
        self._published_ids: list[str] = []
        """Handed rows published and not deleted yet (:meth:`_forget_published`)."""
        self._forgetter: asyncio.Task[None] | None = None
        self._forget_now = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None
        db.on_commit[origin] = self._handed.extend
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._started = False
        _BY_BROKER.setdefault(broker, self)

    # -- writing ---------------------------------------------------------------------------------

    def row(
        self,
        topic: str,
        payload: Mapping[str, Any],
        *,
        conversation_id: str | None = None,
        event_id: str | None = None,
    ) -> dict[str, Any]:
        return event_row(self.origin, topic, payload, conversation_id=conversation_id, event_id=event_id)

    async def add(
        self,
        session: AsyncSession,
        topic: str,
        payload: Mapping[str, Any],
        *,
        conversation_id: str | None = None,
        event_id: str | None = None,
    ) -> str:
        """Write one event in ``session``'s transaction; call :meth:`wake` after the commit."""
        row = self.row(topic, payload, conversation_id=conversation_id, event_id=event_id)
        await insert_rows(session, [row])
        return str(row["event_id"])

    def wake(self) -> None:
        """After a commit that wrote events: publish them now."""
        self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(forever=self._started), name="outbox relay")

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Run the relay for good: this process's rows on commit, others' and the sweep by poll."""
        self._started = True
        _BY_BROKER[self.broker] = self
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
        self._task = asyncio.create_task(self._run(forever=True), name="outbox relay")

    async def close(self, drain_timeout: float = 2.0) -> None:
        """Stop the relay after a last, bounded attempt to publish this process's rows (what
        is left is published by another process, or by the next start, after the grace)."""
        self._started = False
        task, self._task = self._task, None
        await cancel_and_wait(task)
        await cancel_and_wait(self._poller)
        try:
            async with asyncio.timeout(drain_timeout):
                while await self.relay_once(others=False):
                    pass
                await self.forgotten()
        except Exception as exc:
            log.info("outbox: events left for later (%s)", type(exc).__name__)
        await cancel_and_wait(self._forgetter)  # what is left, the next start's poll publishes again

    # -- relay -----------------------------------------------------------------------------------

    async def _run(self, *, forever: bool) -> None:
        delay = BACKOFF_INITIAL
        loop = asyncio.get_running_loop()
        next_sweep = loop.time() + self.sweep_every
        next_poll = loop.time()  # a started relay looks for rows left behind at once
        while True:
            self._wake.clear()
            # The poll is by the clock, so that rows left behind are found under steady load too
            # (a wake on every commit would otherwise never let the poll's timeout run out).  It
            # runs beside this loop: its read waits for a turn at the store like any other, and
            # under load a critical alert committed meanwhile waited for it (up to 170 ms).
            if forever and loop.time() >= next_poll:
                next_poll = loop.time() + self.poll
                sweep = loop.time() >= next_sweep
                if sweep:
                    next_sweep = loop.time() + self.sweep_every
                self._poll_beside(sweep)
            try:
                more = await self.relay_once(others=False)
                delay = BACKOFF_INITIAL
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed("relay", exc, delay)
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(BACKOFF_MAX, delay * 2)
                continue
            if more or self._handed:
                continue
            if not forever:
                if not self._wake.is_set():
                    await self.forgotten()
                    return
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, next_poll - loop.time()))
            except TimeoutError:
                pass

    def _failed(self, what: str, exc: Exception, delay: float) -> None:
        log.warning("outbox: %s failed (%s); retrying in %.1fs", what, type(exc).__name__, delay)
        if self.metrics is not None:
            self.metrics.error("broker" if isinstance(exc, BrokerError | OSError) else "store")

    def _poll_beside(self, sweep: bool) -> None:
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll(sweep), name="outbox poll")

    async def _poll(self, sweep: bool) -> None:
        """The sweep when due, then the rows left behind (a failure waits for the next poll)."""
        try:
            if sweep:
                await self.sweep()
            while await self._publish_left():
                pass
        except Exception as exc:
            self._failed("poll", exc, self.poll)

    async def relay_once(self, *, others: bool = True) -> bool:
        """Publish a batch of waiting events; True when there may be more.

        First the rows this process committed (handed over by the store after each commit, so
        never read back); ``others``: also what the store holds of this process's that was not
        handed over (a commit whose answer was lost) and rows other processes wrote more than
        ``grace`` seconds ago.
        """
        if self._handed:
            batch = self._handed[:BATCH]
            await self._publish([(row["topic"], row["payload"], row["event_id"]) for row in batch])
            del self._handed[: len(batch)]
            self._forget_published([str(row["event_id"]) for row in batch])
            return True
        if not others:
            return False
        return await self._publish_left()

    async def _publish_left(self) -> bool:
        """Rows of this process's that were not handed over and others' older than the grace."""
        await self.forgotten()  # so that the read below does not publish those again
        mine = OutboxEvent.origin == self.origin
        cond = or_(mine, OutboxEvent.created_at <= utcnow() - timedelta(seconds=self.grace))
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(OutboxEvent.seq, OutboxEvent.event_id, OutboxEvent.topic, OutboxEvent.payload)
                    .where(cond)
                    .order_by(OutboxEvent.seq)
                    .limit(BATCH)
                )
            ).all()
        if not rows:
            return False
        # Rows handed over meanwhile are the relay's, which publishes them in their order (this
        # read may run beside it).  A row committed while this was read and handed over after it
        # is published twice, which the consumers skip by its id (as after any republish).
        relayed = {str(row["event_id"]) for row in self._handed}.union(self._published_ids)
        left = [row for row in rows if row.event_id not in relayed]
        if not left:
            return False  # the rest, if any, is the relay's too
        await self._publish([(topic, payload, event_id) for _seq, event_id, topic, payload in left])
        await self._forget(OUTBOX.c.seq.in_([seq for seq, *_rest in left]), len(left))
        return len(rows) == BATCH

    async def _publish(self, events: list[tuple[str, Any, str]]) -> None:
        # One call for the batch: on Redis one pipelined round trip instead of one per event.  If
        # it fails, none is marked published and all are published again (consumers skip the ids
        # they handled), as the relay always did for the events after a failure.
        await self.broker.publish_many(events)
        if self.metrics is not None:
            for topic, payload, _event_id in events:
                self.metrics.published(topic, payload)

    def _forget_published(self, event_ids: list[str]) -> None:
        """Delete published rows beside the relay, not before its next publish: under load the
        delete waits for the store, and a critical alert committed meanwhile waited for it too
        (45-190 ms of its way on PostgreSQL).  A delete that fails leaves the rows to the poll,
        which publishes them again (the consumers skip an id they have handled)."""
        self._published_ids.extend(event_ids)
        if self._forgetter is None or self._forgetter.done():
            self._forgetter = asyncio.create_task(self._forget_all(), name="outbox forget")

    async def _forget_all(self) -> None:
        if self._started and not self._forget_now.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._forget_now.wait(), FORGET_GATHER)
        self._forget_now.clear()
        while self._published_ids:
            ids, self._published_ids = self._published_ids[:FORGET_BATCH], self._published_ids[FORGET_BATCH:]
            try:
                await self._forget(OUTBOX.c.event_id.in_(ids), len(ids))
            except Exception as exc:
                log.info("outbox: %d published events left for the poll (%s)", len(ids), type(exc).__name__)
                if self.metrics is not None:
                    self.metrics.error("store")

    async def forgotten(self) -> None:
        """Wait until the published rows are deleted (or left to the poll)."""
        while self._forgetter is not None and not self._forgetter.done():
            self._forget_now.set()
            await asyncio.shield(self._forgetter)

    async def _forget(self, which: Any, count: int) -> None:
        # By event id for handed rows: the table holds only what is not published yet, so the
        # scan is short and no index on event_id has to be kept up on every insert.
        async with self.db.session() as session:
            await session.execute(delete(OUTBOX).where(which))
        self.published += count

    # -- sweeper ---------------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Write a new ``outbound`` event for outgoing messages left ``pending`` (or claimed by a
        sender that died); how many.  Whichever delivery claims one first sends it."""
        now = utcnow()
        before = now - timedelta(seconds=self.pending_grace)
        window = int(now.timestamp() // max(1.0, self.pending_grace))
        async with self.db.session() as session:
            found = (
                await session.execute(
                    select(Message.id, Message.channel, Message.conversation_id)
                    .where(
                        or_(Message.delivery == "pending", sending.lapsed(now)),
                        Message.direction == Direction.OUT.value,
                        Message.created_at <= before,
                        Message.created_at >= now - timedelta(days=2),
                    )
                    .order_by(Message.created_at)
                    .limit(SWEEP_BATCH)
                )
            ).all()
            if not found:
                return 0
            await insert_rows(
                session,
                [
                    self.row(
                        f"outbound.{channel}",
                        {"message_id": mid},
                        conversation_id=conv_id,
                        event_id=f"sweep-{mid}-{window}",
                    )
                    for mid, channel, conv_id in found
                ],
            )
        log.info("outbox: %d outgoing messages still pending; sent to egress again", len(found))
        self._wake.set()
        return len(found)
