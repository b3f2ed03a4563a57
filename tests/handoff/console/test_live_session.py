"""A console live socket ends with its session, also when the logout went through another process."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
from yarl import URL

from tests.handoff.console.conftest import start_console, stop_console
from tests.handoff.console.test_live import next_of

WITHIN = 5.0  # seconds from the logout to the closed socket


async def test_logout_through_one_process_closes_the_live_socket_on_the_other(
    pg_url: str, tmp_path: Path
) -> None:
    """Two gateways on one PostgreSQL database: anna's console is connected to the second one and
    keeps pinging (traffic); she signs out through the first.  The second closes her live socket
    with 4401 within a few seconds (the recheck interval), not after a minute of silence."""
    one = await start_console(pg_url, tmp_path)
    two = await start_console(pg_url, tmp_path)
    try:
        anna = await one.signed_in("anna")
        # The same browser (cookie) on the second process: a load balancer sent the socket there.
        cookies = {c.key: c.value for c in anna.http.cookie_jar}
        jar = aiohttp.CookieJar(unsafe=True)
        jar.update_cookies(cookies, URL(two.base))
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            ws = await http.ws_connect(two.base + "/console/ws", headers={"Origin": two.base})
            await next_of(ws, "queue")
            out = await anna.http.post(
                anna.url("/console/logout"), data={"csrf": anna.csrf}, allow_redirects=False
            )
            assert out.status == 303
            started = time.monotonic()
            closed = False
            async with asyncio.timeout(WITHIN + 2):
                while not closed:
                    await ws.send_str('{"type":"ping"}')
                    try:
                        msg = await ws.receive(timeout=0.5)
                    except TimeoutError:
                        continue
                    closed = msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            assert ws.close_code == 4401
            assert time.monotonic() - started <= WITHIN
            await ws.close()
    finally:
        await stop_console(two)
        await stop_console(one)
