"""A process killed (SIGKILL) between the commit and the publish leaves its events in the outbox,
and another process's relay publishes them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from gateway.broker.base import Event
from gateway.broker.redis import RedisBroker
from gateway.outbox import Outbox
from gateway.store.db import Database
from gateway.store.models import Message, OutboxEvent

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_events_of_a_process_killed_after_its_commit_are_published_by_another(
    pg_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    db = Database(pg_url)
    await db.upgrade()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    child = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "outbox_publisher_child.py"),
            pg_url,
            f"redis://127.0.0.1:{_dead_port()}/0",  # nobody listens: the child cannot publish
            str(tmp_path),
        ],
        cwd=REPO,
        env=env,
    )
    broker = RedisBroker(redis_url, prefix=redis_prefix, consumer_name="survivor")
    await broker.start()
    outbox = Outbox(db, broker, "survivor", poll=0.2, grace=1.0)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "stored").exists():
            assert child.poll() is None, "the child ended early"
            assert time.monotonic() < deadline, "the child never stored its message"
            await asyncio.sleep(0.05)
        conversation_id = (tmp_path / "stored").read_text()
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=5)
        async with db.session() as session:
            texts = (await session.execute(select(Message.text))).scalars().all()
            left = (await session.execute(select(func.count()).select_from(OutboxEvent))).scalar_one()
        assert "jag ska döda dem på skolan imorgon" in texts
        assert left >= 2  # its conversation and queue events never reached a broker

        queue: list[Event] = []

        async def on_queue(event: Event) -> None:
            queue.append(event)

        await broker.fanout("queue", on_queue)
        outbox.start()
        deadline = time.monotonic() + 15
        while not any(
            e.payload.get("conversation_id") == conversation_id and e.payload["critical"] for e in queue
        ):
            assert time.monotonic() < deadline, "the critical conversation never reached the queue"
            await asyncio.sleep(0.05)
        # Published, then deleted (the delete follows the publish, so it may land a moment later).
        while True:
            async with db.session() as session:
                left = (await session.execute(select(func.count()).select_from(OutboxEvent))).scalar_one()
            if left == 0:
                break
            assert time.monotonic() < deadline, f"{left} published events were never deleted"
            await asyncio.sleep(0.05)
    finally:
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=5)
        await outbox.close()
        await broker.close()
        await db.close()
