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

from gateway.private_files import private_dir, sqlite_file

PG_LOCK_ID = 0x68656C706C696E65  # "helpline": an advisory lock id of its own
LOCK_SUFFIX = ".migrate.lock"


def sqlite_lock_path(url: str) -> Path | None:
    """The lock file of a SQLite database URL, or None for another kind or an in-memory database."""
    path = sqlite_file(url)
    return None if path is None else path.with_name(path.name + LOCK_SUFFIX)


@contextmanager
def migration_lock(url: str) -> Iterator[None]:
    """Hold the file lock of a SQLite database for the block (PostgreSQL locks inside env.py)."""
    path = sqlite_lock_path(url)
    if path is None:
        yield
        return
    private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # blocks (in the upgrade's worker thread) until it is ours
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
