"""A running gateway with the console, and signed-in staff members each with their own cookie jar
(``tests.harness``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.harness import (
    CSRF_INPUT,
    CSRF_META,
    PASSWORD,
    Browser,
    KeywordTriager,
    Running,
    make_settings,
    start,
)


class Console(Running):
    """The gateway with its memory channel; ``browser``/``signed_in`` are people at the console."""

    triager: KeywordTriager


async def start_console(db_url: str, tmp_path: Path, **extra: Any) -> Console:
    return await start(make_settings(db_url, tmp_path, **extra), memory=True, cls=Console)


async def stop_console(console: Console) -> None:
    await console.close()


@pytest.fixture
async def console(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Console]:
    c = await start_console(sqlite_url, tmp_path)
    try:
        yield c
    finally:
        await stop_console(c)


@pytest.fixture
async def console_any_db(db_url: str, tmp_path: Path) -> AsyncIterator[Console]:
    """The console on SQLite and on PostgreSQL."""
    c = await start_console(db_url, tmp_path)
    try:
        yield c
    finally:
        await stop_console(c)


__all__ = ["CSRF_INPUT", "CSRF_META", "PASSWORD", "Browser", "Console", "start_console", "stop_console"]
