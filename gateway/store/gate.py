"""Admission to the store: a number of slots, re-entrant per task, in two lanes.

On SQLite the gateway lets one session transaction run at a time in this process: SQLite has one
writer, and writers that meet inside SQLite wait in its busy handler (sleeping, up to
``busy_timeout``) and then fail with "database is locked"; queued here they wait in memory and go
in turn.  On PostgreSQL the gate admits as many sessions as the pool can serve, so that a burst
waits here rather than timing out on a pool checkout.

Under load the queue forms here: a closed-loop benchmark on SQLite found every transaction waiting
about 170 ms for its turn, the person's messages among them, so a message about an attack waited
behind two hundred console reads before it was stored and its alert could go out.  A batch of the
person's messages that holds a critical one therefore takes the **urgent** lane, which goes before
the normal one; and a batch already waiting when a critical message arrives behind it is moved
there (:class:`Hurry`), since the critical one cannot be stored before it is.  Giving every batch
of messages the urgent lane was tried and undone: batches then went in at once, one message each,
and the group commit's saving was lost (14.7 against 10.5 ms of CPU per round trip).

Between the two, a batch of messages (the person's, or counsellors' replies) that has waited
``overdue`` seconds moves to the **overdue** lane, ahead of the console's reads and actions: it
still waits that long, and gathers what arrives meanwhile (the group commit), but no longer waits
behind a wave of claims and panel reads (a close and a claim each make about seven requests) that
held it up to 0.4-0.6 s at p99.  Only the batches take that lane, a few per process, so the
console's work is never starved: it has the turns of every window in which no batch is overdue.
Within a lane it is first come, first served.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from gateway.errors import StoreUnavailable

LOCK_TIMEOUT = 60.0
"""Seconds a session waits for its turn before it gives up with StoreUnavailable (retryable)."""

URGENT, OVERDUE, NORMAL = 0, 1, 2
"""The lanes, in the order they are served."""


class Hurry:
    """Urgency that may come while a session waits for its turn: a batch of messages that a
    critical message waits behind (``gateway.batch``)."""

    def __init__(self, urgent: bool = False) -> None:
        self.urgent = urgent
        self._waits: list[tuple[Gate, asyncio.Future[None]]] = []

    def now(self) -> None:
        """From now on urgent; a turn it waits for moves to the urgent lane."""
        if self.urgent:
            return
        self.urgent = True
        for gate, turn in self._waits:
            gate._move(turn, URGENT)


class Gate:
    """``slots`` sessions at a time; a task that already holds a slot (a nested session) is let
    through, so a session opened inside another never waits for itself."""

    def __init__(self, slots: int, timeout: float = LOCK_TIMEOUT) -> None:
        self.slots = slots
        self._free = slots
        self._timeout = timeout
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []  # (lane, arrival, turn)
        self._arrivals = itertools.count()
        self._holders: dict[asyncio.Task[Any], int] = {}

    @asynccontextmanager
    async def enter(
        self, *, urgent: bool | Hurry = False, overdue: float | None = None
    ) -> AsyncIterator[None]:
        """A turn; ``overdue``: seconds after which a turn still waited for moves to the overdue
        lane (batches of messages)."""
        task = asyncio.current_task()
        if task is not None and task in self._holders:
            self._holders[task] += 1
            try:
                yield
            finally:
                self._holders[task] -= 1
            return
        if self._free > 0:
            # A free slot is taken at once, with no timer to arm and cancel (this runs for every
            # transaction of the process).  A slot is free only while nobody waits: a release
            # hands its slot to the next waiter directly.
            self._free -= 1
        else:
            await self._wait(urgent, overdue)
        if task is not None:
            self._holders[task] = 1
        try:
            yield
        finally:
            if task is not None:
                del self._holders[task]
            self._release()

    async def _wait(self, urgent: bool | Hurry, overdue: float | None = None) -> None:
        loop = asyncio.get_running_loop()
        turn: asyncio.Future[None] = loop.create_future()
        hurry = urgent if isinstance(urgent, Hurry) else None
        lane = URGENT if (hurry.urgent if hurry is not None else urgent) else NORMAL
        heapq.heappush(self._waiting, (lane, next(self._arrivals), turn))
        if hurry is not None:
            hurry._waits.append((self, turn))
        due = loop.call_later(overdue, self._move, turn, OVERDUE) if overdue is not None else None
        try:
            async with asyncio.timeout(self._timeout):
                await turn
        except BaseException as exc:
            if turn.done() and not turn.cancelled():
                self._release()  # the slot came with the cancellation: pass it on
            else:
                turn.cancel()  # its entry is skipped when it comes up
            if isinstance(exc, TimeoutError):
                raise StoreUnavailable("database busy: no turn within the time limit") from None
            raise
        finally:
            if due is not None:
                due.cancel()
            if hurry is not None:
                hurry._waits.remove((self, turn))

    def _move(self, turn: asyncio.Future[None], lane: int) -> None:
        # A second entry for the same turn, in a lane served sooner; whichever comes up first
        # takes the turn, and the other is skipped as done.
        if not turn.done():
            heapq.heappush(self._waiting, (lane, next(self._arrivals), turn))

    def _release(self) -> None:
        while self._waiting:
            turn = heapq.heappop(self._waiting)[2]
            if not turn.done():
                turn.set_result(None)
                return
        self._free += 1

    @property
    def waiting(self) -> int:
        """Sessions waiting for a turn now (those that gave up included until their turn comes)."""
        return len(self._waiting)
