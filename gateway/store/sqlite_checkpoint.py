"""SQLite's checkpoints in a thread, not in a commit on the event loop.

In WAL mode SQLite appends every commit to the log and copies the log back into the database file
in a checkpoint, by default from the commit that finds the log over 1,000 pages.  The store's
connections run their calls on the event loop (:mod:`gateway.store.sqlite_inline`), so that commit
held the loop while it copied and synced the file: 5-11 ms, about twice a second in the deployed
benchmark's closed loop (issue #18), during which no message was acknowledged anywhere.

So those connections never checkpoint (``wal_autocheckpoint=0``, :func:`no_checkpoints`), and the
serving process runs :class:`Checkpointer`: every :data:`EVERY` seconds, on a connection of its
own in a worker thread, a ``PASSIVE`` checkpoint, which copies what it can without waiting for a
reader or a writer and without holding one up (the sqlite3 module lets go of the GIL while SQLite
works).  A process that runs no checkpointer (a command of ``helpline``) leaves its log to the
next checkpoint, or to the last connection's close, which checkpoints the whole log.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from gateway.errors import StoreUnavailable

log = logging.getLogger(__name__)

EVERY = 0.5
"""Seconds between two checkpoints: the log then holds at most about this long of writes."""


def no_checkpoints(cursor: Any) -> None:
    """Set on each connection of the store: its commits never checkpoint (this module does)."""
    cursor.execute("PRAGMA wal_autocheckpoint=0")


class Checkpointer:
    """Checkpoints the database file at ``path`` from a worker thread until :meth:`stop`."""

    def __init__(
        self, path: Path, turn: Callable[[], AbstractAsyncContextManager[None]] | None = None
    ) -> None:
        self.path = path
        self._turn = turn
        """The store's turn (its gate): held for the rest of a checkpoint that writes overtook."""
        self._conn: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._complete = (0, 0)
        """What the last checkpoint with the turn held found: the same again, nothing was written."""
        self._lock = asyncio.Lock()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="sqlite checkpoints")

    async def stop(self) -> None:
        """Stop checkpointing, after one last checkpoint of the whole log (so that the store's
        close, on the loop, finds nothing left to copy).  A checkpoint under way is let finish, not
        cancelled: its thread would go on with the connection this then closes."""
        self._stopping.set()
        task, self._task = self._task, None
        ended = await asyncio.gather(task, return_exceptions=True) if task is not None else [None]
        if ended != [None]:  # never started, or cancelled: no last round was run
            await self._checkpoint_logged()
        if self._conn is not None:
            await asyncio.to_thread(self._conn.close)
            self._conn = None

    async def checkpoint(self) -> tuple[int, int]:
        """One PASSIVE checkpoint in a worker thread: the pages in the log, and how many of them
        are now in the database file."""
        async with self._lock:  # one at a time: the thread's connection is not shared
            done = await asyncio.to_thread(self._checkpoint)
            if done[0] and done != self._complete and self._turn is not None:
                # SQLite starts the log over only at a write that finds all of it copied, and
                # commits go on while the thread copies: checkpoints beside them alone never
                # caught up, and the log grew by every write (314 MB in 3 s of steady commits).
                # What came in meanwhile, a few pages, is copied with the store's turn held: its
                # transactions wait in memory for it, the event loop does not.
                async with self._turn():
                    done = self._complete = await asyncio.to_thread(self._checkpoint)
            return done

    def _checkpoint(self) -> tuple[int, int]:
        if self._conn is None:
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        # (busy, pages in the log, pages of it in the database file); PASSIVE never waits, so
        # what a reader still needs is copied next time.
        _busy, logged, copied = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return max(0, int(logged)), max(0, int(copied))

    async def _checkpoint_logged(self) -> None:
        try:
            await self.checkpoint()
        except (sqlite3.Error, StoreUnavailable) as exc:  # StoreUnavailable: no turn in time
            # The log only grows meanwhile: the next round, or the last connection's close, copies it.
            log.warning("store: checkpoint of %s failed (%s)", self.path.name, exc)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.wait_for(self._stopping.wait(), EVERY)
            except TimeoutError:
                pass
            await self._checkpoint_logged()
