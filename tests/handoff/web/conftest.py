"""A running console for the web kit's tests (one per test module): :class:`tests.handoff.kit.World`
and the OpenAPI document it serves."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from handoff.web.openapi import OPENAPI_PATH
from tests.handoff.console.conftest import start_console, stop_console

from .kit import PHONE_SECRET, Tracebacks, World, start_world


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    tmp = tmp_path_factory.mktemp("webkit")
    tracebacks = Tracebacks()
    root = logging.getLogger()
    root.addHandler(tracebacks)
    console = await start_console(
        f"sqlite+aiosqlite:///{tmp / 'h.db'}", tmp, **{"phone.events_secret": PHONE_SECRET}
    )
    try:
        yield await start_world(console, tracebacks)
    finally:
        await stop_console(console)
        root.removeHandler(tracebacks)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def document(world: World) -> dict[str, Any]:
    anonymous = world.console.browser()
    resp = await anonymous.get(OPENAPI_PATH)
    assert resp.status == 200
    return dict(await resp.json())
