"""A console that does not read its live socket is disconnected instead of holding up the others."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from handoff.console.views import CONSOLE
from tests.console.conftest import Console
from tests.console.test_live import connect, next_of
from tests.webchat.rawsocket import RawSocket


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
    # Many people write in: every arrival sends every console a queue snapshot that grows.
    started = time.monotonic()
    for i in range(500):
        await console.person(f"p{i}", f"min son vill resa till syrien {'x' * 2000} {i}")
    snap = await next_of(ws, "queue", timeout=20, where=lambda m: len(m["waiting"]) == 500)
    assert len(snap["waiting"]) == 500
    assert time.monotonic() - started < 60
    await asyncio.sleep(6)
    hub = console.server.app[CONSOLE].hub
    assert hub is not None
    assert len(hub.clients) == 1, "the console that did not read was dropped"
    got = await raw.drain_all()
    assert got < 16_000_000
    raw.close()
    await ws.close()
