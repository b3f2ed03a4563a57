"""What a console page sends on its live socket: typing signals, snapshot requests; each within an
allowance per socket (handoff/console/live_socket.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from tests.handoff.console.conftest import Console
from tests.handoff.console.test_live import connect, next_of


async def test_typing_on_the_live_socket_reaches_the_person_as_typing_and_paused(console: Console) -> None:
    anna = await console.signed_in("anna")
    conv = await console.person("p", "min dotter pratar om en rörelse")
    assert (await anna.claim(conv)).status == 200
    ws = await connect(anna)
    await next_of(ws, "queue")
    await ws.send_str(json.dumps({"type": "typing", "conversation_id": conv, "typing": True}))
    await console.memory.wait_for("p", lambda r: r.kind == "typing")
    await ws.send_str(json.dumps({"type": "typing", "conversation_id": conv, "typing": False}))
    await console.memory.wait_for("p", lambda r: r.kind == "paused")
    await ws.close()


async def test_typing_for_a_conversation_not_held_tells_nobody_and_keeps_the_socket(console: Console) -> None:
    anna = await console.signed_in("anna")
    bert = await console.signed_in("bert")
    conv = await console.person("p", "min dotter pratar om en rörelse")
    assert (await anna.claim(conv)).status == 200
    ws = await connect(bert)
    await next_of(ws, "queue")
    for bad in (
        {"type": "typing", "conversation_id": conv, "typing": True},  # Anna's, not Bert's
        {"type": "typing", "conversation_id": "nosuchconversation", "typing": True},
        {"type": "typing", "conversation_id": conv, "typing": "yes"},
        {"type": "typing", "conversation_id": "../x", "typing": True},
        {"type": "typing"},
    ):
        await ws.send_str(json.dumps(bad))
    await ws.send_str("not json")
    await ws.send_str('{"type":"ping"}')
    assert (await next_of(ws, "pong"))["type"] == "pong"
    await asyncio.sleep(0.3)
    assert not [r for r in console.memory.outbox.get("p", []) if r.kind in ("typing", "paused")]
    await ws.close()


async def test_snapshot_requests_beyond_the_allowance_are_answered_once_later(console: Console) -> None:
    anna = await console.signed_in("anna")
    await console.person("p", "min son vill resa till syrien")
    ws = await connect(anna)
    await next_of(ws, "queue")
    snapshots: list[float] = []
    loop = asyncio.get_running_loop()

    async def read() -> None:
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                frame: dict[str, Any] = json.loads(msg.data)
                if frame.get("type") == "queue":
                    snapshots.append(loop.time())

    reader = asyncio.create_task(read())
    started = loop.time()
    for _ in range(50):
        await ws.send_str('{"type":"snapshot"}')
    await asyncio.sleep(1.0)
    # The default allows 12 a minute, a burst of 2: 50 requests at once get 2 snapshots at once...
    assert len(snapshots) == 2, snapshots
    # ...and the rest one more when the allowance returns (5 s later), not 48.
    await asyncio.sleep(5.0)
    assert len(snapshots) == 3, snapshots
    assert snapshots[-1] - started >= 4.0
    reader.cancel()
    await ws.close()
