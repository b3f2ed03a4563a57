"""Run in a child process by test_lease.py: holds a Redis lease until the test kills it.

Usage: lease_child.py REDIS_URL PREFIX NAME TTL DIRECTORY

Writes DIRECTORY/started when its receiver starts (it holds the lease).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from gateway.lease import LeaseRunner, RedisLease


async def main(url: str, prefix: str, name: str, ttl: float, directory: Path) -> None:
    async def start() -> None:
        (directory / "started").write_text("started")

    async def stop() -> None:
        (directory / "stopped").write_text("stopped")

    runner = LeaseRunner(RedisLease(url, name, prefix, ttl), start, stop, renew_every=ttl / 5)
    runner.start()
    await asyncio.sleep(3600)


if __name__ == "__main__":
    url, prefix, name, ttl, directory = sys.argv[1:6]
    asyncio.run(main(url, prefix, name, float(ttl), Path(directory)))
