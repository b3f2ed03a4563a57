"""Sockets are bounded: a client that never reads is disconnected, one that stops answering too."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from bots.webchat.session import SEND_QUEUE
from tests.bots.webchat.conftest import WEBCHAT_CONFIG, start_gateway
from tests.bots.webchat.rawsocket import RawSocket


async def test_a_client_that_never_reads_is_disconnected_and_resumes_by_seq(tmp_path: Path) -> None:
    """A visitor's client stops reading while a counsellor sends 1,000 long replies (8 MB): the
    server keeps a bounded queue for it, disconnects it, and the client later resumes by seq and
    gets every reply once."""
    gw = await start_gateway(tmp_path, {**WEBCHAT_CONFIG, "max_message_chars": 4000})
    try:
        host, port = gw.client.host, gw.client.port
        raw = await asyncio.to_thread(RawSocket, str(host), int(port or 0))
        raw.send({"type": "hello", "lang": "sv", "resume": None})
        await asyncio.to_thread(raw.json_frame, "welcome")
        raw.send({"type": "message", "client_id": "slow-reader-1", "text": "min son vill resa till syrien"})
        welcome = await asyncio.to_thread(raw.json_frame, "welcome")
        ack = await asyncio.to_thread(raw.json_frame, "ack")
        conv, token = welcome["conversation_id"], welcome["token"]
        anna = await gw.user("anna")
        await gw.pipeline.staff.claim(conv, anna)
        # From here on the client reads nothing.
        peak = 0
        for i in range(1000):
            await gw.pipeline.staff.reply(conv, f"{i} " + "å" * 3990, anna)
            peak = max(peak, max((c.queue.qsize() for c in gw.adapter._chats), default=0))
        await asyncio.sleep(0.5)
        assert gw.adapter.health()["sockets"] == 0, "the client that does not read was disconnected"
        assert peak <= SEND_QUEUE
        got = await raw.drain_all()
        assert got < 8_000_000, "the server did not buffer everything for it"
        raw.close()

        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(gw.client.make_url("/chat/ws"))
            resume = {"conversation_id": conv, "token": token, "last_seq": ack["seq"]}
            await ws.send_json({"type": "hello", "lang": "sv", "resume": resume})
            seqs: list[int] = []
            async with asyncio.timeout(30):
                while len(seqs) < 1000:
                    frame = await ws.receive_json()
                    if frame["type"] == "message" and frame["kind"] == "counsellor":
                        seqs.append(frame["seq"])
            assert seqs == sorted(set(seqs)) and len(seqs) == 1000
            await ws.close()
    finally:
        await gw.client.close()


async def test_a_socket_that_stops_answering_pings_is_closed(tmp_path: Path) -> None:
    gw = await start_gateway(tmp_path, {**WEBCHAT_CONFIG, "heartbeat_seconds": 0.5})
    try:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(gw.client.make_url("/chat/ws"), autoping=False)
            await ws.send_json({"type": "hello", "lang": "sv", "resume": None})
            async with asyncio.timeout(5):
                while True:
                    msg = await ws.receive()
                    if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                        break
            await asyncio.sleep(0.2)
            assert gw.adapter.health()["sockets"] == 0
    finally:
        await gw.client.close()
