"""One migration at a time: processes that start together on one empty database take turns.

On SQLite an exclusive ``fcntl`` lock on a file beside the database (in the data dir) is held for the
whole upgrade; on PostgreSQL the migration transaction takes a transaction-level advisory lock first
(:data:`PG_LOCK_ID`), so the second process reads ``alembic_version`` only after the first committed
and finds nothing left to do.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import make_url

PG_LOCK_ID = 0x68656C706C696E65  # "helpline": an advisory lock id of its own
LOCK_SUFFIX = ".migrate.lock"


def sqlite_lock_path(url: str) -> Path | None:
    """The lock file of a SQLite database URL, or None for another kind or an in-memory database."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    database = parsed.database or ""
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    path = Path(database)
    return path.with_name(path.name + LOCK_SUFFIX)


@contextmanager
def migration_lock(url: str) -> Iterator[None]:
    """Hold the file lock of a SQLite database for the block (PostgreSQL locks inside env.py)."""
    path = sqlite_lock_path(url)
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # blocks (in the upgrade's worker thread) until it is ours
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
