"""The console's live feed keeps up with a burst of events while the process is busy."""

from __future__ import annotations

import asyncio
import json
import time as clock

import aiohttp
from sqlalchemy import select

from gateway.appkeys import BROKER
from gateway.events import TOPIC_CONVERSATION
from gateway.store.models import StaffUser
from tests.handoff.console.conftest import Console
from tests.handoff.console.test_live import connect, next_of


async def test_the_feed_keeps_up_with_a_burst_while_the_loop_is_busy(console: Console) -> None:
    """Each event to a console is sent without waiting for a turn of the event loop of its own:
    under load (other work on every turn) a feed of hundreds of events a second fell seconds behind
    when every frame was sent as a task of its own."""
    anna = await console.signed_in("anna")
    conv = await console.person("p", "min son har blivit radikal")
    ws = await connect(anna)
    await next_of(ws, "queue")
    assert (await anna.claim(conv)).status == 200
    await next_of(ws, "queue", where=lambda m: m["load"] == 1)
    received = 0
    done = asyncio.Event()
    total = 300

    async def read() -> None:
        nonlocal received
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT and json.loads(msg.data).get("kind") == "typing":
                received += 1
                if received == total:
                    done.set()

    async def busy() -> None:  # the rest of a loaded process: 2 ms of work on every turn
        while True:
            clock.sleep(0.002)
            await asyncio.sleep(0)

    reader, loader = asyncio.create_task(read()), asyncio.create_task(busy())
    broker = console.server.app[BROKER]
    async with console.db.reader() as session:
        anna_id = (
            await session.execute(select(StaffUser.id).where(StaffUser.username == "anna"))
        ).scalar_one()
    summary = {"id": conv, "state": "assigned", "assigned_to": anna_id, "priority": "normal"}
    try:
        started = asyncio.get_running_loop().time()
        for i in range(total):
            await broker.publish(
                TOPIC_CONVERSATION,
                {
                    "kind": "typing",
                    "conversation_id": conv,
                    "conversation": summary,
                    "who": "person",
                    "typing": i % 2 == 0,
                },
            )
        await asyncio.wait_for(done.wait(), 20)
        took = asyncio.get_running_loop().time() - started
    finally:
        loader.cancel()
        reader.cancel()
    # A turn of this loop takes at least 2 ms: a send per turn would need 0.6 s and more.
    assert took < 0.5, took
    await ws.close()
