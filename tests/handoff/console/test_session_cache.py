"""Staff sessions remembered for a moment (gateway/session_cache.py): fewer reads, never a session
that ended in this process, and one ended elsewhere refused within the time configured."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, update

from gateway.envelope import utcnow
from gateway.store.models import StaffSession, StaffUser
from tests.handoff.console.conftest import Console, start_console, stop_console

QUEUE = "/console/api/queue"


@pytest.fixture
async def console(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Console]:
    c = await start_console(sqlite_url, tmp_path, **{"console.session_cache_seconds": 1.0})
    try:
        yield c
    finally:
        await stop_console(c)


def _session_reads(console: Console) -> list[str]:
    """The statements that read a staff session, from now on."""
    seen: list[str] = []

    def on(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM staff_sessions" in statement:
            seen.append(statement)

    event.listen(console.db.engine.sync_engine, "before_cursor_execute", on)
    return seen


async def test_requests_within_the_time_read_the_session_once(console: Console) -> None:
    anna = await console.signed_in("anna")
    assert (await anna.get(QUEUE)).status == 200
    reads = _session_reads(console)
    for _ in range(5):
        assert (await anna.get(QUEUE)).status == 200
    assert reads == []
    await asyncio.sleep(1.1)
    assert (await anna.get(QUEUE)).status == 200
    assert len(reads) == 1


async def test_a_logout_is_refused_at_once(console: Console) -> None:
    anna = await console.signed_in("anna")
    cookies = list(anna.http.cookie_jar)
    assert (await anna.get(QUEUE)).status == 200
    out = await anna.http.post(anna.url("/console/logout"), data={"csrf": anna.csrf}, allow_redirects=False)
    assert out.status in (302, 303)
    for c in cookies:  # the old cookie, as a stolen copy would send it
        anna.http.cookie_jar.update_cookies({c.key: c.value})
    assert (await anna.get(QUEUE)).status == 401


async def test_a_change_in_this_process_applies_to_the_next_request(console: Console) -> None:
    anna = await console.signed_in("anna")
    assert (await anna.get(QUEUE)).status == 200
    async with console.db.session() as session:  # any session of the process, as an admin page
        await session.execute(update(StaffUser).where(StaffUser.username == "anna").values(active=False))
    assert (await anna.get(QUEUE)).status == 401


async def test_a_change_in_another_process_applies_within_the_time(console: Console, sqlite_url: str) -> None:
    anna = await console.signed_in("anna")
    assert (await anna.get(QUEUE)).status == 200
    # Another process (``helpline users disable`` from a shell): straight into the file.
    path = sqlite_url.split("///", 1)[1]
    conn = sqlite3.connect(path)
    try:
        conn.execute("UPDATE staff_users SET active = 0 WHERE username = 'anna'")
        conn.commit()
    finally:
        conn.close()
    assert (await anna.get(QUEUE)).status == 200  # remembered: at most the configured second
    await asyncio.sleep(1.1)
    assert (await anna.get(QUEUE)).status == 401


async def test_an_expired_session_is_refused_though_remembered(console: Console, sqlite_url: str) -> None:
    anna = await console.signed_in("anna")
    assert (await anna.get(QUEUE)).status == 200
    assert (await anna.get(QUEUE)).status == 200  # the first may have written "last seen"
    cache = console.server.app[_cache_key()]
    token_hash, entry = next(iter(cache._entries.items()))
    # Time passes beyond the session's end: in the store (written by no statement of this process,
    # so nothing tells the cache) and in what the cache remembers.
    past = utcnow() - timedelta(seconds=1)
    conn = sqlite3.connect(sqlite_url.split("///", 1)[1])
    try:
        conn.execute("UPDATE staff_sessions SET expires_at = ?", (past.strftime("%Y-%m-%d %H:%M:%S.%f"),))
        conn.commit()
    finally:
        conn.close()
    entry.row["expires_at"] = past
    assert cache.get(token_hash) is None
    assert (await anna.get(QUEUE)).status == 401


async def test_without_the_cache_every_request_reads(sqlite_url: str, tmp_path: Path) -> None:
    c = await start_console(sqlite_url, tmp_path, **{"console.session_cache_seconds": 0})
    try:
        anna = await c.signed_in("anna")
        reads = _session_reads(c)
        for _ in range(3):
            assert (await anna.get(QUEUE)).status == 200
        assert len(reads) == 3
    finally:
        await stop_console(c)


async def test_each_request_gets_its_own_user_object(console: Console) -> None:
    anna = await console.signed_in("anna")
    assert (await anna.get(QUEUE)).status == 200
    cache = console.server.app[_cache_key()]
    token_hash = next(iter(cache._entries))
    first, second = cache.get(token_hash), cache.get(token_hash)
    assert first is not None and second is not None
    assert first[0] is not second[0] and first[0].username == second[0].username == "anna"
    assert isinstance(first[1], StaffSession)


def _cache_key() -> Any:
    from handoff.console.security import SESSION_CACHE

    return SESSION_CACHE
