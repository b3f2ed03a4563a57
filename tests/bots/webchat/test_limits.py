"""Limits on idle sockets, on the sockets of a process and on typing frames."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from gateway.appkeys import BROKER
from gateway.broker.base import Event
from gateway.events import TOPIC_CONVERSATION
from tests.bots.webchat.conftest import WEBCHAT_CONFIG, start_gateway


async def _closed(ws: aiohttp.ClientWebSocketResponse, within: float) -> None:
    async with asyncio.timeout(within):
        while True:
            msg = await ws.receive()
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                return


async def test_a_socket_that_never_says_hello_is_closed(tmp_path: Path) -> None:
    gw = await start_gateway(tmp_path, {**WEBCHAT_CONFIG, "hello_timeout_seconds": 0.5})
    try:
        async with aiohttp.ClientSession() as http:
            idle = await http.ws_connect(gw.client.make_url("/chat/ws"))
            greeted = await http.ws_connect(gw.client.make_url("/chat/ws"))
            await greeted.send_json({"type": "hello", "lang": "sv", "resume": None})
            await _closed(idle, within=3.0)
            assert idle.close_code == 1008
            await asyncio.sleep(0.5)
            assert not greeted.closed, "a socket that said hello stays"
            assert gw.adapter.health()["sockets"] == 1
            await greeted.close()
    finally:
        await gw.client.close()


async def test_sockets_beyond_the_process_cap_are_told_to_try_again_later(tmp_path: Path) -> None:
    gw = await start_gateway(tmp_path, {**WEBCHAT_CONFIG, "max_sockets": 2})
    try:
        async with aiohttp.ClientSession() as http:
            kept = [await http.ws_connect(gw.client.make_url("/chat/ws")) for _ in range(2)]
            extra = await http.ws_connect(gw.client.make_url("/chat/ws"))
            await _closed(extra, within=3.0)
            assert extra.close_code == 1013
            assert all(not ws.closed for ws in kept)
            await kept[0].close()
            await asyncio.sleep(0.2)
            again = await http.ws_connect(gw.client.make_url("/chat/ws"))
            await again.send_json({"type": "hello", "lang": "sv", "resume": None})
            assert (await again.receive_json(timeout=3))["type"] == "welcome"
            for ws in (*kept, again):
                await ws.close()
    finally:
        await gw.client.close()


async def test_a_flood_of_typing_frames_passes_on_only_a_few_signals(tmp_path: Path) -> None:
    """2,000 typing frames (on, off, on ...) from one socket in about a second: the counsellor's side
    gets a handful of typing events, not one store round and broker event each."""
    gw = await start_gateway(tmp_path, dict(WEBCHAT_CONFIG))
    typing: list[float] = []

    async def seen(event: Event) -> None:
        if event.payload.get("kind") == "typing":
            typing.append(time.monotonic())

    sub = await gw.client.app[BROKER].fanout(TOPIC_CONVERSATION, seen)
    try:
        v = await gw.visitor()
        await v.hello()
        await v.send(type="message", client_id="typing-flood-1", text="min son vill resa till syrien")
        await v.expect(lambda f: f["type"] == "ack")
        started = time.monotonic()
        for i in range(2000):
            await v.send(type="typing", typing=i % 2 == 0)
        await asyncio.sleep(2.5)
        took = time.monotonic() - started
        assert typing, "typing still reaches the counsellor"
        assert len(typing) <= 3 + took / 2.0 + 1, len(typing)
        await v.ws.close()
    finally:
        await sub.cancel()
        await gw.client.close()
