"""Group commit: writes that arrive together are stored together, in one transaction.

Under load, many conversations write at once: each message would otherwise open its own
transaction and pay its own statements, commit and (on SQLite) its own turn at the store.  A
:class:`Batcher` queues what callers submit; a worker takes everything queued so far (up to
``max_batch``) and stores it with one call of ``run_batch``, which opens one transaction.  Nothing
waits for a batch to fill: an item that arrives alone is stored alone, at once.  Where the store
takes several writers (PostgreSQL), up to :data:`SIDE_BY_SIDE` batches run side by side, none with
a later item of a sender (``key``) whose earlier one is in flight.

A critical item must not wait behind the others: it is submitted ``urgent``, and the batch it goes
in, and the batch in flight before it (which it cannot pass), take the store's urgent lane
(:class:`gateway.store.gate.Hurry`, handed to ``run_batch`` and ``run_one`` as :data:`HURRY`).
Where the store takes several writers at once (PostgreSQL), waiting for the batch in flight is
itself the delay: each of its statements is a round trip that waits for a turn of a busy loop, so
a batch of fifty took 0.5-1.6 s under load.  With ``side_lane`` an urgent item is then stored at
once in a transaction of its own beside that batch, unless an item of the same ``key`` (the same
sender) is in it, whose order it must keep.

Should a batch fail as a whole (a refused insert, a lost connection, a deadlock), every item of it
is tried again on its own with ``run_one``, so one bad item never fails the others, and each
caller gets its own item's result or error.  A caller returns only once its item is committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Hashable, Sequence
from contextvars import ContextVar
from typing import Generic, TypeVar

from gateway.store.gate import Hurry

log = logging.getLogger(__name__)

HURRY: ContextVar[Hurry | None] = ContextVar("batch_hurry", default=None)
"""The urgency of the batch being stored, for its session (``Database.session(urgent=...)``)."""


def hurry() -> Hurry | bool:
    """What a batch's ``run_batch`` or ``run_one`` passes as its session's ``urgent``."""
    return HURRY.get() or False


OVERDUE_SECONDS = 0.02
"""A batch that has waited this long for the store goes ahead of the console's reads and actions
(``Database.session(overdue=...)``, :mod:`gateway.store.gate`): long enough to gather what
arrives meanwhile, short beside the waves of claims and panel reads it waited behind.  On SQLite
(one turn at a time, statements run on the loop) ``bench.deployed`` at 100 round trips/s gave
the reply's p99 less the typing 126-135 ms with 20 ms against 242-269 ms with 50 ms, at the same
CPU; 10 ms cost more CPU (13.3 against 12.5-12.8 ms per round trip)."""
OVERDUE_SECONDS_POOLED = 0.05
"""The same where the store has several turns (PostgreSQL): there each statement of a batch is a
round trip and a turn of the loop, and smaller batches cost more; with 20 ms one process spent
15.7-17.5 ms per round trip against 12.9-14.0 ms with 50 ms (``--setups pg-1``, same load)."""


def overdue_for(turns: int) -> float:
    """:data:`OVERDUE_SECONDS` for a store of ``turns`` turns (``Database.turns``)."""
    return OVERDUE_SECONDS if turns == 1 else OVERDUE_SECONDS_POOLED


STRETCH_SECONDS = 0.005
"""The longest a batch's transaction works without letting the loop run."""


class Stretch:
    """Lets the loop run after every :data:`STRETCH_SECONDS` of work that does not suspend.

    On SQLite the store's calls run on the event loop (``gateway.store.sqlite_inline``), so a batch
    of 64 that never yielded stopped every socket of the process for tens of milliseconds.  It
    used to yield after every item instead; but it holds the store's only turn while it yields,
    and under load one turn of the loop is 10-20 ms, so a batch of a dozen messages held the store
    for 170 ms and everything else queued behind it."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.restart()

    def restart(self) -> None:
        self._until = self._loop.time() + STRETCH_SECONDS

    async def pause(self) -> None:
        if self._loop.time() >= self._until:
            await asyncio.sleep(0)
            self.restart()


SIDE_BY_SIDE = 3
"""Batches stored side by side where the store takes several writers (PostgreSQL): each waits for
one round trip after another, and one at a time the batch in flight was the messages' queue."""


def workers_for(turns: int) -> int:
    """How many batches of a kind a store with ``turns`` writers at once takes side by side."""
    return 1 if turns <= 1 else min(SIDE_BY_SIDE, turns)


I = TypeVar("I")  # noqa: E741
R = TypeVar("R")


class Batcher(Generic[I, R]):
    def __init__(
        self,
        name: str,
        run_batch: Callable[[Sequence[I]], Awaitable[Sequence[R | BaseException]]],
        run_one: Callable[[I], Awaitable[R]],
        *,
        max_batch: int = 64,
        side_lane: bool = False,
        key: Callable[[I], Hashable] | None = None,
        workers: int = 1,
    ) -> None:
        if workers > 1 and key is None:
            raise ValueError("batches run side by side only with a key that keeps each sender's order")
        self.name = name
        self._run_batch = run_batch
        self._run_one = run_one
        self.max_batch = max_batch
        self.side_lane = side_lane
        self.workers = workers
        self._key = key
        self._queue: list[tuple[I, asyncio.Future[R], bool]] = []  # item, its result, urgent
        self._in_flight: dict[asyncio.Task[None], Hurry] = {}
        self._in_flight_keys: Counter[Hashable] = Counter()
        self._workers: set[asyncio.Task[None]] = set()
        self._beside: set[asyncio.Task[None]] = set()
        self.batches = 0
        self.items = 0

    async def submit(self, item: I, *, urgent: bool = False) -> R:
        """Store ``item`` (with whatever else is waiting) and return its result once committed;
        ``urgent``: ahead of the store's other work, with the batch in flight before it."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)
        if urgent and self._in_flight and self._may_pass(item):
            task = asyncio.create_task(self._beside_one(item, future), name=f"batch {self.name} urgent")
            self._beside.add(task)
            task.add_done_callback(self._beside.discard)
            return await future
        self._queue.append((item, future, urgent))
        if urgent:
            for in_flight in self._in_flight.values():
                in_flight.now()
        if len(self._workers) < self.workers:
            self._workers.add(asyncio.create_task(self._work(), name=f"batch {self.name}"))
        # The item is stored even if its caller stops waiting (the socket went away, say): it is
        # already promised to a transaction, and a resend is recognised as a duplicate.  The
        # caller's cancellation cancels only the future, which the worker then leaves alone (no
        # asyncio.shield needed, and it cost an extra future and callbacks on every message).
        return await future

    def _may_pass(self, item: I) -> bool:
        """May this urgent item be stored beside the batch in flight (not after it)?"""
        if not self.side_lane or self._key is None:
            return False
        return self._key(item) not in self._in_flight_keys

    async def _beside_one(self, item: I, future: asyncio.Future[R]) -> None:
        HURRY.set(Hurry(True))
        await self._store([(item, future, True)])

    def _take(self) -> list[tuple[I, asyncio.Future[R], bool]]:
        """The next batch: the queue's first items, less those of a sender whose batch is in
        flight in another worker (and every later item of that sender, which keeps its order)."""
        if self._key is None or not self._in_flight_keys:
            taken, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            return taken
        taken, left, held = [], [], set()
        for entry in self._queue:
            k = self._key(entry[0])
            if len(taken) < self.max_batch and k not in self._in_flight_keys and k not in held:
                taken.append(entry)
            else:
                left.append(entry)
                held.add(k)
        self._queue = left
        return taken

    async def _work(self) -> None:
        # A worker lives while there is work it may take and ends then, so that an idle gateway
        # (and every test's event loop) has no task of this kind left over.
        me = asyncio.current_task()
        assert me is not None
        try:
            await self._work_as(me)
        finally:
            # At once, not in a done callback: a submit between this worker's last look at the
            # queue and such a callback would otherwise count it and start none.
            self._workers.discard(me)

    async def _work_as(self, me: asyncio.Task[None]) -> None:
        while taken := self._take():
            # Urgent when it holds an urgent item, or one is left queued behind it (max_batch).
            hurry = Hurry(any(urgent for _i, _f, urgent in taken + self._queue))
            keys = [self._key(item) for item, _f, _u in taken] if self._key is not None else []
            self._in_flight[me] = hurry
            self._in_flight_keys.update(keys)
            HURRY.set(hurry)
            try:
                await self._store(taken)
            finally:
                del self._in_flight[me]
                self._in_flight_keys -= Counter(keys)  # keeps only the keys a batch still holds

    async def _store(self, taken: list[tuple[I, asyncio.Future[R], bool]]) -> None:
        items = [item for item, _future, _urgent in taken]
        if len(items) > 1:
            try:
                outcomes = await self._run_batch(items)
            except Exception as exc:
                log.info(
                    "%s: a batch of %d failed (%s); storing each alone",
                    self.name,
                    len(items),
                    type(exc).__name__,
                )
            else:
                self.batches += 1
                self.items += len(items)
                for (_item, future, _urgent), outcome in zip(taken, outcomes, strict=True):
                    _settle(future, outcome)
                return
        for item, future, _urgent in taken:
            try:
                result: R | BaseException = await self._run_one(item)
            except Exception as exc:
                result = exc
            self.batches += 1
            self.items += 1
            _settle(future, result)


def _retrieve(future: asyncio.Future[R]) -> None:
    # The error reaches the caller through the shield; for a caller that stopped waiting, this
    # keeps asyncio from reporting it as never retrieved.
    if not future.cancelled():
        future.exception()


def _settle(future: asyncio.Future[R], outcome: R | BaseException) -> None:
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
