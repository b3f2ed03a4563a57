"""A console that does not read its live socket is disconnected instead of holding up the others."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from handoff.console.views import CONSOLE
from tests.bots.webchat.rawsocket import RawSocket
from tests.handoff.console.conftest import Console
from tests.handoff.console.test_live import connect, next_of


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
    hub = console.server.app[CONSOLE].hub
    assert hub is not None
    started = time.monotonic()
    written = 0
    while len(hub.clients) > 1 and written < 3000:
        await console.person(f"p{written}", f"min son vill resa till syrien {'x' * 2000} {written}")
        written += 1
        if written % 100 == 0:
            await asyncio.sleep(0.5)
    assert len(hub.clients) == 1, "the console that did not read was dropped"
    # The console that reads stays current.
    await console.person("last", "min son vill resa till syrien, sista")
    snap = await next_of(ws, "queue", timeout=20, where=lambda m: len(m["waiting"]) == written + 1)
    assert snap["load"] == 0
    assert time.monotonic() - started < 120
    got = await raw.drain_all()
    assert got < 16_000_000
    raw.close()
    await ws.close()
