"""Group commit: writes that arrive together are stored together, in one transaction.

Under load, many conversations write at once: each message would otherwise open its own
transaction and pay its own statements, commit and (on SQLite) its own turn at the store.  A
:class:`Batcher` queues what callers submit; a worker takes everything queued so far (up to
``max_batch``) and stores it with one call of ``run_batch``, which opens one transaction.  Nothing
waits for a batch to fill: an item that arrives alone is stored alone, at once.

Should a batch fail as a whole (a refused insert, a lost connection, a deadlock), every item of it
is tried again on its own with ``run_one``, so one bad item never fails the others, and each
caller gets its own item's result or error.  A caller returns only once its item is committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

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
    ) -> None:
        self.name = name
        self._run_batch = run_batch
        self._run_one = run_one
        self.max_batch = max_batch
        self._queue: list[tuple[I, asyncio.Future[R]]] = []
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0
        self.items = 0

    async def submit(self, item: I) -> R:
        """Store ``item`` (with whatever else is waiting) and return its result once committed."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)
        self._queue.append((item, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work(), name=f"batch {self.name}")
        # The item is stored even if its caller stops waiting (the socket went away, say): it is
        # already promised to a transaction, and a resend is recognised as a duplicate.  The
        # caller's cancellation cancels only the future, which the worker then leaves alone (no
        # asyncio.shield needed, and it cost an extra future and callbacks on every message).
        return await future

    async def _work(self) -> None:
        # A worker lives while there is work and ends when the queue is empty, so that an idle
        # gateway (and every test's event loop) has no task of this kind left over.
        while self._queue:
            taken, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            await self._store(taken)

    async def _store(self, taken: list[tuple[I, asyncio.Future[R]]]) -> None:
        items = [item for item, _future in taken]
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
                for (_item, future), outcome in zip(taken, outcomes, strict=True):
                    _settle(future, outcome)
                return
        for item, future in taken:
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
