"""gateway.store.db on PostgreSQL: the pool fits the server's limit, stays open, and a saturated
server is a retryable StoreUnavailable (the console answers 503 with Retry-After), never a 500."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text

from gateway.config import load_settings
from gateway.errors import StoreUnavailable
from gateway.store.db import Database
from tests.conftest import PG_ADMIN_DSN, _pg_base


@pytest.fixture
async def limited_role(pg_url: str) -> AsyncIterator[tuple[str, str, str]]:
    """A login role (not a superuser: PostgreSQL's connection limits spare superusers) on the
    test's database: (its asyncpg DSN, its SQLAlchemy URL, its name)."""
    role = f"helpline_r_{uuid.uuid4().hex[:10]}"
    dbname = pg_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE ROLE "{role}" LOGIN')
        await admin.execute(f'GRANT ALL ON DATABASE "{dbname}" TO "{role}"')
        base = _pg_base().replace("postgres@", f"{role}@", 1)
        yield (
            f"{base}/{dbname}",
            f"{base}/{dbname}".replace("postgresql://", "postgresql+asyncpg://", 1),
            role,
        )
    finally:
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", role)
        await admin.execute(f'DROP OWNED BY "{role}"')
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await admin.close()


async def set_limit(role: str, limit: int) -> None:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'ALTER ROLE "{role}" CONNECTION LIMIT {limit}')
    finally:
        await admin.close()


async def backends_used(db: Database, sessions: int) -> set[int]:
    """Run ``sessions`` short transactions at once; the server processes that served them."""

    async def one() -> int:
        async with db.session() as session:
            pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await asyncio.sleep(0.01)
            return int(pid)

    return set(await asyncio.gather(*(one() for _ in range(sessions))))


async def test_two_processes_pools_are_cut_to_their_share_of_the_servers_limit(
    limited_role: tuple[str, str, str],
) -> None:
    _, url, role = limited_role
    await set_limit(role, 22)  # a tenth (2) left for administration: 20 for 2 processes
    db = Database(url, pool_size=20, max_overflow=40)
    try:
        assert await db.fit_pool(processes=2) == 10
        assert len(await backends_used(db, 200)) <= 10
    finally:
        await db.close()


async def test_a_pool_within_its_share_is_kept_and_its_connections_stay_open(
    limited_role: tuple[str, str, str],
) -> None:
    _, url, _ = limited_role
    db = Database(url, pool_size=5)
    try:
        assert await db.fit_pool(processes=2) == 5
        first = await backends_used(db, 100)
        again = await backends_used(db, 100)
        # No churn: the same few server processes serve burst after burst (with overflow
        # connections, each burst opened new ones and closed them again).
        assert len(first | again) <= 5
    finally:
        await db.close()


async def test_a_saturated_server_is_a_retryable_store_error(limited_role: tuple[str, str, str]) -> None:
    dsn, url, role = limited_role
    await set_limit(role, 2)
    held = [await asyncpg.connect(dsn) for _ in range(2)]
    db = Database(url, pool_size=5)
    try:
        with pytest.raises(StoreUnavailable, match="saturated") as caught:
            async with db.session() as session:
                await session.execute(text("SELECT 1"))
        assert caught.value.retryable
    finally:
        for conn in held:
            await conn.close()
        await db.close()
    # The same store serves again once connections are free.
    db = Database(url, pool_size=5)
    try:
        async with db.session() as session:
            assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await db.close()


async def test_a_process_on_the_default_configuration_keeps_eight_connections(
    pg_url: str, tmp_path: Path
) -> None:
    """Each pooled connection keeps its prepared statements, which the garbage collector walks on
    every full collection: twenty connections held the event loop 40-80 ms at a time under load.
    A burst of 200 sessions waits at the gate instead of opening more."""
    settings = load_settings(environ={"HELPLINE_DATA_DIR": str(tmp_path)})
    pool = settings.section("database")
    db = Database(pg_url, pool_size=pool["pool_size"], max_overflow=pool["max_overflow"])
    try:
        used = await backends_used(db, 200)
        assert 1 < len(used) <= 8
    finally:
        await db.close()


async def test_a_process_runs_three_transactions_at_once_and_the_others_wait_by_lane(
    pg_url: str, tmp_path: Path
) -> None:
    """The process's one event loop, not PostgreSQL, is what is busy: with the pool's seven
    transactions at once a critical message's waited up to 20 ms for a turn of the loop between its
    statements, and the lanes hardly ever ordered anything.  Three run at once by default; the
    others wait at the gate, and an urgent one (a critical message's batch) goes before them."""
    settings = load_settings(environ={"HELPLINE_DATA_DIR": str(tmp_path)})
    pool = settings.section("database")
    db = Database(
        pg_url,
        pool_size=pool["pool_size"],
        max_overflow=pool["max_overflow"],
        transactions=pool["transactions"],
    )
    running, most, order = 0, 0, []
    release = asyncio.Event()

    async def one(name: str, *, urgent: bool = False, hold: bool = False) -> None:
        nonlocal running, most
        async with db.session(urgent=urgent) as session:
            running += 1
            most = max(most, running)
            order.append(name)
            await session.execute(text("SELECT 1"))
            if hold:
                await release.wait()
            running -= 1

    try:
        assert db.turns == 3
        holders = [asyncio.create_task(one(f"held {k}", hold=True)) for k in range(5)]
        while len(order) < 3:
            await asyncio.sleep(0.01)
        reads = [asyncio.create_task(one(f"read {k}")) for k in range(10)]
        await asyncio.sleep(0.05)
        critical = asyncio.create_task(one("critical", urgent=True))
        await asyncio.sleep(0.05)
        assert order == ["held 0", "held 1", "held 2"]  # the rest wait at the gate
        release.set()
        await asyncio.gather(*holders, *reads, critical)
        assert most == 3
        # The first turn let go goes to the critical message's transaction, though it came last.
        assert order[3] == "critical", order
    finally:
        await db.close()


async def test_transactions_at_once_are_at_most_the_pools_connections_less_one(pg_url: str) -> None:
    for pool_size, transactions, turns in ((8, 5, 5), (8, 20, 7), (2, 3, 1)):
        db = Database(pg_url, pool_size=pool_size, transactions=transactions)
        try:
            assert db.turns == turns
        finally:
            await db.close()
