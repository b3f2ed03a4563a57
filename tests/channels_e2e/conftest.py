"""Messenger channels through the real gateway: ``create_app`` with its store, broker, pipeline,
egress and leases, the channel adapters built from configuration, and the channels' stand-ins
(the Bot API stand-in of ``tests/bots/telegram``, a real Prosody from ``tests/bots/xmpp``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text

HERE = Path(__file__).resolve().parent
from gateway.auth import create_user  # noqa: E402
from gateway.store.db import Database  # noqa: E402
from gateway.store.models import StaffUser  # noqa: E402
from tests.harness import PASSWORD as PASSWORD  # noqa: E402


async def eventually(
    check: Callable[[], Awaitable[Any]] | Callable[[], Any], timeout: float = 10.0, every: float = 0.05
) -> Any:
    """Call ``check`` until it returns something truthy; that value, or AssertionError on timeout."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"not true within {timeout} s: {getattr(check, '__name__', check)}")
        await asyncio.sleep(every)


async def add_counsellor(db: Database, name: str = "sara") -> StaffUser:
    async with db.session() as session:
        return await create_user(session, name, PASSWORD, "counsellor", display_name=name.title())


async def dump_database(db: Database) -> str:
    """Every row of every table in the database as text (what someone who copies it would see)."""
    lines: list[str] = []
    async with db.engine.connect() as conn:
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        for name in sorted(names):
            rows = (await conn.execute(text(f'SELECT * FROM "{name}"'))).all()
            lines.extend(f"{name}: {tuple(row)!r}" for row in rows)
    return "\n".join(lines)
