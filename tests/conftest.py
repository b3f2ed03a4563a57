"""Fixtures shared by every test package: real PostgreSQL, Redis and SQLite.

PostgreSQL and Redis must be running (``.ci/run`` starts them).  Each test that asks for
``pg_url`` gets a database of its own, dropped afterwards; ``redis_url`` comes with a unique
``redis_prefix`` so that tests never see each other's keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# The property tests check what is generated, not how fast: on a loaded 2-core machine the
# generation of a few inputs took over a second and the health check failed the suite.
settings.register_profile("helpline", suppress_health_check=[HealthCheck.too_slow], deadline=None)
settings.load_profile("helpline")

PG_ADMIN_DSN = os.environ.get("HELPLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("HELPLINE_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _pg_base() -> str:
    return PG_ADMIN_DSN.rsplit("/", 1)[0]


@contextlib.asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """Create a fresh PostgreSQL database; yield its SQLAlchemy (asyncpg) URL; drop it afterwards."""
    import asyncpg

    name = f"helpline_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield _pg_base().replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database (SQLAlchemy asyncpg URL), dropped after the test."""
    async with postgres_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'helpline.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Runs the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'helpline.db'}"
    else:
        async with postgres_database() as url:
            yield url


@pytest.fixture
def redis_prefix() -> str:
    return f"hltest:{uuid.uuid4().hex[:10]}:"


@pytest.fixture
async def redis_url(redis_prefix: str) -> AsyncIterator[str]:
    """The Redis URL; keys the test makes under ``redis_prefix`` are deleted afterwards."""
    import redis.asyncio as aioredis

    yield REDIS_URL
    client = aioredis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=f"{redis_prefix}*", count=500)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def free_port() -> Iterator[int]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield port


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = getattr(item, "fixturenames", ())
        if "pg_url" in names or ("db_url" in names and "postgres" in item.name):
            item.add_marker(pytest.mark.postgres)
        if "redis_url" in names:
            item.add_marker(pytest.mark.redis)


_ = asyncio  # the event loop is pytest-asyncio's (asyncio_mode = auto)
