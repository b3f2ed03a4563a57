"""Alembic environment: runs migrations over the async engine of the configured URL."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.app import all_metadata
from gateway.store.migrate_lock import PG_LOCK_ID

config = context.config
target_metadata = all_metadata()


def _run(connection: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _online() -> None:
    engine = create_async_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Held until this transaction commits: a second process migrating at the same time
            # waits here and then finds the schema current (gateway.store.migrate_lock).
            await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": PG_LOCK_ID})
        await conn.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_online())
