"""SQLite statements run on the event loop, not one thread hand-off per call.

aiosqlite sends every call (execute, fetch, commit) to its own thread and wakes the event loop with
the result.  Each hand-off waits for the loop's next turn, so under load a transaction of ten calls
takes ten turns of a busy loop, and on SQLite, where this process lets one transaction run at a
time (see :class:`gateway.store.gate.Gate`), that turn time caps the whole gateway's throughput.

A SQLite call on a local file takes microseconds once no other process holds the write lock, so
this connection runs each call directly on the loop.  Only when another process holds the lock (a
``helpline retention run`` from the command line, say) does it wait, and then in aiosqlite's
thread with the full busy timeout, so the loop is blocked for at most :data:`INLINE_BUSY_MS`.
Every transaction begins with ``BEGIN IMMEDIATE``, so that the wait, if any, comes at its first
statement: a transaction that had already read could not safely wait for another writer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from functools import partial
from typing import Any

import aiosqlite

INLINE_BUSY_MS = 20
"""How long a call on the loop waits for another process's lock before it moves to the thread."""
PATIENT_BUSY_MS = 10_000
"""How long a call in the thread waits for another process's lock before it fails."""


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _patient(conn: sqlite3.Connection, fn: Callable[[], Any]) -> Any:
    conn.execute(f"PRAGMA busy_timeout={PATIENT_BUSY_MS}")
    try:
        return fn()
    finally:
        conn.execute(f"PRAGMA busy_timeout={INLINE_BUSY_MS}")


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run on the event loop while the file is free."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        call = partial(fn, *args, **kwargs)
        try:
            return call()
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
        # Another process holds the lock: wait for it in the worker thread, off the loop.
        return await super()._execute(_patient, self._connection, call)  # type: ignore[no-untyped-call]


def _connect(args: tuple[Any, ...], kwargs: dict[str, Any]) -> sqlite3.Connection:
    # No implicit BEGIN from the driver: the engine begins every transaction with BEGIN IMMEDIATE
    # (see :func:`begin_immediate`), so that a transaction that has to wait for another process
    # waits at its first statement, where waiting is safe, and never half-way through.
    conn: sqlite3.Connection = sqlite3.connect(
        *args, **{**kwargs, "check_same_thread": False, "isolation_level": None}
    )
    conn.execute(f"PRAGMA busy_timeout={INLINE_BUSY_MS}")
    return conn


def begin_immediate(conn: Any) -> None:
    """The engine's ``begin`` event: take the write lock at once (``BEGIN IMMEDIATE``)."""
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def inline_creator(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Callable[[], Any]:
    """An ``async_creator`` for :func:`sqlalchemy.ext.asyncio.create_async_engine`."""

    async def create() -> InlineConnection:
        conn = InlineConnection(partial(_connect, args, kwargs), 64)
        await conn
        return conn

    return create
