"""SQLite's log is copied into the database file by a worker thread, never by a commit on the event
loop (:mod:`gateway.store.sqlite_checkpoint`): such a commit held the loop for 5-11 ms."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from sqlalchemy import text

from gateway.store import sqlite_checkpoint
from gateway.store.db import Database

MB = 1 << 20


async def _write(db: Database, megabytes: int) -> None:
    async with db.session() as session:
        await session.execute(text("CREATE TABLE IF NOT EXISTS filler (x BLOB)"))
    for _ in range(megabytes * 4):  # many commits, as a busy line makes
        async with db.session() as session:
            await session.execute(text("INSERT INTO filler VALUES (randomblob(262144))"))


def _serving(tmp_path: Path) -> tuple[Path, Database]:
    """A store on a file, checkpointing as the serving process's does."""
    path = tmp_path / "store.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    db.start_checkpoints()
    return path, db


def _sizes(path: Path) -> tuple[int, int]:
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size, wal.stat().st_size if wal.exists() else 0


async def test_commits_on_the_loop_leave_the_log_to_the_checkpointer(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await _write(db, 6)  # 1,500 pages: SQLite's own default would have checkpointed at 1,000
        in_file, in_log = _sizes(path)
        assert in_log > 5 * MB and in_file < MB  # no commit copied the log into the file

        assert db.checkpointer is not None
        logged, copied = await db.checkpointer.checkpoint()
        assert logged == copied > 1400
        assert _sizes(path)[0] > 5 * MB
    finally:
        await db.close()


async def test_the_serving_store_checkpoints_by_itself_and_leaves_nothing_at_close(tmp_path: Path) -> None:
    path, db = _serving(tmp_path)
    try:
        await _write(db, 2)
        deadline = time.monotonic() + 5 * sqlite_checkpoint.EVERY + 2
        while _sizes(path)[0] < 2 * MB and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert _sizes(path)[0] > 2 * MB  # copied while the store stayed open
        await _write(db, 1)
    finally:
        await db.close()
    assert _sizes(path)[0] > 3 * MB and _sizes(path)[1] == 0  # all of it in the file, no log left


async def test_closing_lets_a_checkpoint_under_way_finish_and_still_copies_the_rest(tmp_path: Path) -> None:
    path, db = _serving(tmp_path)
    try:
        await _write(db, 2)
        assert db.checkpointer is not None
        under_way = asyncio.create_task(db.checkpointer.checkpoint())
        await asyncio.sleep(0)
    finally:
        await db.close()  # while that checkpoint may still be running in its thread
    await under_way
    assert _sizes(path)[0] > 2 * MB and _sizes(path)[1] == 0


async def test_the_log_starts_over_while_commits_keep_coming(tmp_path: Path) -> None:
    # SQLite starts the log over only at a write that finds it all copied: checkpoints that copy
    # beside a steady stream of commits must still catch up, or the log grows with every write.
    path, db = _serving(tmp_path)
    try:
        async with db.session() as session:
            await session.execute(text("CREATE TABLE filler (x BLOB)"))
        until = time.monotonic() + 8 * sqlite_checkpoint.EVERY
        written = 0
        while time.monotonic() < until:
            async with db.session() as session:
                await session.execute(text("INSERT INTO filler VALUES (randomblob(65536))"))
            written += 65536
            await asyncio.sleep(0)  # the checkpointer's thread answers the loop meanwhile
        assert written > 20 * MB
        assert _sizes(path)[1] < written / 3  # the log was started over, not kept growing
    finally:
        await db.close()
