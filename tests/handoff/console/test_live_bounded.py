"""A console that does not read its live socket is disconnected instead of holding up the others."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from handoff.console.views import CONSOLE
from tests.bots.webchat.rawsocket import RawSocket
from tests.handoff.console.conftest import Console, start_console, stop_console
from tests.handoff.console.test_live import absorb, connect, next_of


@pytest.fixture
async def console(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Console]:
    # The flood below is of snapshot requests, which a socket is otherwise allowed only a few of
    # (tests/handoff/console/test_live_requests.py): here the allowance is lifted.
    c = await start_console(sqlite_url, tmp_path, **{"console.live_snapshots_per_minute": 1e9})
    try:
        yield c
    finally:
        await stop_console(c)


async def test_a_console_that_never_reads_is_dropped_and_the_others_stay_current(
    console: Console, tmp_path: Path
) -> None:
    anna = await console.signed_in("anna")
    bert = await console.signed_in("bert")
    cookie = "; ".join(f"{c.key}={c.value}" for c in anna.http.cookie_jar)
    host, port = console.server.host, console.server.port
    raw = await asyncio.to_thread(
        RawSocket, str(host), int(port or 0), "/console/ws", f"Cookie: {cookie}\r\nOrigin: {console.base}\r\n"
    )
    ws = await connect(bert)
    await next_of(ws, "queue")
    # Bert's page reads its socket all the time, as a browser does.
    frames: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def read() -> None:
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                frames.put_nowait(absorb(ws, json.loads(msg.data)))

    reader = asyncio.create_task(read())
    written = 40
    for i in range(written):
        await console.person(f"p{i}", f"min son vill resa till syrien {i}")
    # The console that does not read asks for the whole queue again and again (a page that keeps
    # seeing gaps would): each answer is a snapshot of 40 conversations that nobody takes.
    hub = console.server.app[CONSOLE].hub
    assert hub is not None
    started = time.monotonic()
    asked = 0
    while len(hub.clients) > 1 and asked < 5000:
        try:
            await asyncio.to_thread(raw.send, {"type": "snapshot"})
        except OSError:
            break  # dropped: the server closed it
        asked += 1
        if asked % 100 == 0:
            await asyncio.sleep(0.2)
    async with asyncio.timeout(20):
        while len(hub.clients) > 1:
            await asyncio.sleep(0.1)
    # The console that reads stays current.
    await console.person("last", "min son vill resa till syrien, sista")
    async with asyncio.timeout(20):
        while True:
            snap = await frames.get()
            if snap.get("type") == "queue" and len(snap["waiting"]) == written + 1:
                break
    assert snap["load"] == 0
    reader.cancel()
    assert time.monotonic() - started < 120
    got = await raw.drain_all()
    assert got < 16_000_000
    raw.close()
    await ws.close()
