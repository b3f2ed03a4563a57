"""The CPU of single operations of the deployed path, to weigh one lever at a time.

``bench.deployed`` measures the whole path from outside; on a machine shared with other work its
per-round-trip figure moves with the mix of what fell in the window (claims, closes, timers).  This
script measures one operation at a time in one process (the test harness's gateway on SQLite with
the memory channel, the client in the same process): N repetitions, the process's CPU time divided
by N.  The client's share is the same in every tree, so running it against two trees (the
``PYTHONPATH`` decides which) gives what a change saved per operation:

    PYTHONPATH=. python -m bench.levers            # this tree
    PYTHONPATH=/tmp/base python -m bench.levers    # another checkout, same script copied there

Operations: a referrals and a disclosures panel read (GET), a counsellor's typing signal (POST), a
person's receipt (web chat's ``seen``, through ingress) and the console hub's queue snapshot to 20
consoles with 50 conversations waiting.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from gateway.envelope import Direction, Envelope, Pseudonym, new_message_id, utcnow
from handoff.console.data import queue_snapshot
from tests.handoff.console.conftest import start_console, stop_console

SETTLE = 1.5
"""Seconds after the calls in the measured window: what they left behind (a receipt's flush, the
outbox relay) is counted; the process's idle CPU over it is subtracted."""


async def cpu_per_call(n: int, call: Callable[[], Awaitable[Any]], idle_per_s: float) -> float:
    """Microseconds of this process's CPU per call (after 5 warm-up calls)."""
    for _ in range(5):
        await call()
    await asyncio.sleep(SETTLE)
    start = time.process_time()
    for _ in range(n):
        await call()
    await asyncio.sleep(SETTLE)
    return 1e6 * (time.process_time() - start - idle_per_s * SETTLE) / n


async def cpu_only(n: int, call: Callable[[], Awaitable[Any]]) -> float:
    """Microseconds of CPU per call of a computation that leaves nothing behind."""
    start = time.process_time()
    for _ in range(n):
        await call()
    return 1e6 * (time.process_time() - start) / n


async def idle_cpu(seconds: float) -> float:
    start = time.process_time()
    await asyncio.sleep(seconds)
    return time.process_time() - start


async def main(n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        console = await start_console(f"sqlite+aiosqlite:///{tmp}/helpline.db", Path(tmp))
        try:
            anna = await console.signed_in("anna")
            conv = await console.person("p-held", "min son har blivit radikal")
            assert (await anna.claim(conv)).status == 200
            base = f"/console/api/conversations/{conv}"
            reply = await anna.post(f"{base}/reply", {"text": "Hej, jag heter Anna."})
            assert reply.status == 200, reply.status
            out = await console.memory.wait_for("p-held", lambda r: "Anna" in r.text)
            assert out.envelope is not None
            mid = out.envelope.message_id

            async def get(path: str) -> None:
                resp = await anna.get(path)
                assert resp.status == 200, (path, resp.status)
                await resp.read()

            async def typing() -> None:
                resp = await anna.post(f"{base}/typing", {"typing": True})
                assert resp.status in (200, 204), resp.status
                await resp.read()

            pipeline = console.pipeline

            async def seen() -> None:
                envelope = Envelope(
                    message_id=new_message_id(),
                    direction=Direction.IN,
                    channel="memory",
                    sender=Pseudonym(console.memory.pseudonym("p-held")),
                    text="",
                    conversation_id=None,
                    received_at=utcnow(),
                    meta={"control": "delivered", "message_id": mid},
                )
                await pipeline.ingress(envelope, "p-held")

            for i in range(50):
                await console.person(f"p-wait-{i}", "min son har blivit radikal")

            async def snapshot() -> None:
                async with console.db.session() as session:
                    await queue_snapshot(session)

            async with console.db.session() as session:
                waiting, _ = await queue_snapshot(session)

            async def encode_20() -> None:  # before: each console's frame encoded on its own
                for _ in range(20):
                    json.dumps({"type": "queue", "waiting": waiting, "mine": [], "load": 0, "capacity": 3})

            async def encode_once() -> None:  # now: the waiting list once, each console's rest apart
                encoded = json.dumps(waiting)
                for _ in range(20):
                    rest = json.dumps({"mine": [], "load": 0, "capacity": 3})
                    f'{{"type": "queue", "waiting": {encoded}, {rest[1:]}'

            await asyncio.sleep(3.0)  # the arrivals' triage and events
            idle = await idle_cpu(3.0) / 3.0
            k = max(10, n // 5)
            figures = {
                "GET referrals": await cpu_per_call(n, lambda: get(f"{base}/referrals"), idle),
                "GET disclosures": await cpu_per_call(n, lambda: get(f"{base}/disclosures"), idle),
                "POST typing": await cpu_per_call(n, typing, idle),
                "receipt (seen)": await cpu_per_call(n, seen, idle),
                "queue snapshot read, 50 waiting": await cpu_per_call(k, snapshot, idle),
                "20 queue frames encoded one by one": await cpu_only(n, encode_20),
                "20 queue frames, waiting encoded once": await cpu_only(n, encode_once),
                "idle CPU per second": 1e6 * idle,
            }
            return figures
        finally:
            await stop_console(console)


def run() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=200, help="repetitions of each operation")
    args = ap.parse_args()
    figures = asyncio.run(main(args.n))
    for name, us in figures.items():
        print(f"{name:<44} {us:10.0f} µs CPU per call")


if __name__ == "__main__":
    run()
