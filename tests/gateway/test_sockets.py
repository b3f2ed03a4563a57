"""close_all: every open websocket gets a close frame with the code given, at once, and a peer that
does not answer is dropped after ``wait`` instead of holding up the shutdown."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from gateway.sockets import GOING_AWAY, close_all


class Sockets:
    """A server whose websocket handler keeps every socket it opened (as the console hub does)."""

    def __init__(self) -> None:
        self.open: list[web.WebSocketResponse] = []
        self.opened = asyncio.Event()
        app = web.Application()
        app.router.add_get("/ws", self.handler)
        app.router.add_get("/busy", self.busy_handler)
        self.server = TestServer(app)

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.open.append(ws)
        self.opened.set()
        async for _ in ws:
            pass
        return ws

    async def busy_handler(self, request: web.Request) -> web.WebSocketResponse:
        """Not reading its socket: a close then waits for the peer's answer (aiohttp: 10 s)."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.open.append(ws)
        self.opened.set()
        await asyncio.sleep(3600)
        return ws

    async def until_open(self, n: int) -> None:
        async with asyncio.timeout(5):
            while len(self.open) < n:
                self.opened.clear()
                await self.opened.wait()


@pytest.fixture
async def sockets() -> AsyncIterator[Sockets]:
    s = Sockets()
    await s.server.start_server()
    try:
        yield s
    finally:
        await s.server.close()


async def closed_with(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    """Read until the server's close frame; the code it carried."""
    async with asyncio.timeout(5):
        msg = await ws.receive()
    assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING), msg
    return ws.close_code


async def test_every_open_socket_is_closed_with_the_code_given(sockets: Sockets) -> None:
    async with aiohttp.ClientSession() as http:
        clients = [await http.ws_connect(sockets.server.make_url("/ws")) for _ in range(3)]
        await sockets.until_open(3)

        readers = [asyncio.create_task(closed_with(ws)) for ws in clients]
        count = await close_all(sockets.open, code=4001, message=b"bye")

        assert count == 3
        assert await asyncio.gather(*readers) == [4001, 4001, 4001]
        assert all(ws.closed for ws in sockets.open)


async def test_the_default_code_is_going_away_and_closed_sockets_are_not_counted(sockets: Sockets) -> None:
    async with aiohttp.ClientSession() as http:
        first = await http.ws_connect(sockets.server.make_url("/ws"))
        second = await http.ws_connect(sockets.server.make_url("/ws"))
        await sockets.until_open(2)
        await first.close()
        async with asyncio.timeout(5):
            while not sockets.open[0].closed:
                await asyncio.sleep(0.01)

        reader = asyncio.create_task(closed_with(second))
        assert await close_all(sockets.open) == 1
        assert await reader == GOING_AWAY == 1001
        assert await close_all(sockets.open) == 0, "nothing left open"
        assert await close_all([]) == 0


async def test_a_peer_that_does_not_answer_is_dropped_after_the_wait(sockets: Sockets) -> None:
    async with aiohttp.ClientSession() as http:
        # Never reads, so never answers the close frame.
        silent = await http.ws_connect(sockets.server.make_url("/busy"), autoclose=False)
        answering = await http.ws_connect(sockets.server.make_url("/ws"))
        await sockets.until_open(2)
        reader = asyncio.create_task(closed_with(answering))

        began = time.monotonic()
        assert await close_all(sockets.open, code=4002, wait=0.3) == 2
        took = time.monotonic() - began

        assert took < 2.0, f"waited {took:.2f}s on a peer that never answers"
        assert await reader == 4002, "the answering peer was closed as usual"
        assert all(ws.closed for ws in sockets.open)
        await silent.close()
