"""Run in a child process by test_outbox_crash.py: a pipeline that stores a critical message and
cannot publish its events (its Redis has nobody listening), then waits to be killed.

Usage: publisher_child.py DATABASE_URL REDIS_URL DIRECTORY

Writes DIRECTORY/stored (the conversation id) once ingress answered, i.e. after the commit.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bots.memory import MemoryAdapter
from gateway.broker.redis import RedisBroker
from gateway.crypto import ContactCipher
from gateway.outbox import Outbox
from gateway.pipeline import Pipeline
from gateway.store.db import Database
from tests.gateway.conftest import KeywordTriager


async def main(db_url: str, redis_url: str, directory: Path) -> None:
    db = Database(db_url)
    broker = RedisBroker(redis_url, prefix="child:", consumer_name="child")
    await broker.start()
    outbox = Outbox(db, broker, "child")
    outbox.start()
    pipeline = Pipeline(db, broker, KeywordTriager(), ContactCipher(b"k" * 32), outbox=outbox)
    memory = MemoryAdapter()
    await memory.start(pipeline.ingress)
    result = await memory.person_writes("person@example.org", "jag ska döda dem på skolan imorgon")
    (directory / "stored.tmp").write_text(result.conversation_id)
    (directory / "stored.tmp").rename(directory / "stored")
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
