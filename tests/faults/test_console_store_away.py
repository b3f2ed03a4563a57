"""The console's live socket while the store is away: what a frame could not do is logged as the
expected outage it is, and the socket stays (the page keeps its feed and its replies' answers)."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from tests.faults.private_pg import PrivatePostgres
from tests.handoff.console.conftest import start_console, stop_console
from tests.handoff.console.test_live import connect, next_of


async def test_a_typing_signal_while_the_store_is_away_keeps_the_socket_and_says_what_failed(
    private_pg: PrivatePostgres, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    console = await start_console(private_pg.url, tmp_path)
    try:
        anna = await console.signed_in("anna")
        ws = await connect(anna)
        await next_of(ws, "queue")
        private_pg.stop()
        with caplog.at_level(logging.WARNING):
            # Not a conversation the feed knows held: the signal reads it from the store.
            await ws.send_str(json.dumps({"type": "typing", "conversation_id": "0" * 32, "typing": True}))
            async with asyncio.timeout(15):
                while not [r for r in caplog.records if "console live request failed" in r.getMessage()]:
                    await asyncio.sleep(0.05)
            await ws.send_str('{"type":"ping"}')
            assert (await next_of(ws, "pong", timeout=10))["type"] == "pong"  # the socket stays
        failed = [r for r in caplog.records if "console live request failed" in r.getMessage()]
        assert [r.levelno for r in failed] == [logging.WARNING], failed
        assert not failed[0].exc_info  # the expected outage: no traceback
        assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
        await ws.close()
    finally:
        private_pg.start()
        await stop_console(console)
