"""A running gateway (store + broker + pipeline + memory channel) for core tests (``tests.harness``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.envelope import Priority
from tests.harness import KeywordTriager, Running, make_settings, start


class Gateway(Running):
    triager: KeywordTriager


@pytest.fixture
async def gateway(db_url: str, tmp_path: Path) -> AsyncIterator[Gateway]:
    gw = await start(make_settings(db_url, tmp_path), memory=True, cls=Gateway)
    try:
        yield gw
    finally:
        await gw.close()


__all__ = ["Gateway", "KeywordTriager", "Priority", "make_settings"]
