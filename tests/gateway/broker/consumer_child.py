"""Run in a child process by test_redis.py: a consumer that takes an event and never acknowledges it.

Usage: consumer_child.py REDIS_URL PREFIX TOPIC GROUP DIRECTORY

Writes DIRECTORY/ready once subscribed, and DIRECTORY/taken (holding the event id) from inside its
handler, which then hangs until the test kills the process.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from gateway.broker import Event
from gateway.broker.redis import RedisBroker


async def main(url: str, prefix: str, topic: str, group: str, directory: Path) -> None:
    broker = RedisBroker(url, prefix=prefix, reclaim_idle=600.0, consumer_name="child")
    await broker.start()

    async def handler(event: Event) -> None:
        (directory / "taken.tmp").write_text(event.id)
        (directory / "taken.tmp").rename(directory / "taken")
        await asyncio.sleep(3600)

    await broker.subscribe(topic, group, handler)
    (directory / "ready").write_text("ready")
    await asyncio.sleep(3600)


if __name__ == "__main__":
    url, prefix, topic, group, directory = sys.argv[1:6]
    asyncio.run(main(url, prefix, topic, group, Path(directory)))
