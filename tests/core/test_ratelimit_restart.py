"""The rate limiter tells a busy pool from a Redis that is gone, and comes back after a restart.

The Redis server here is the test's own, on its own port, so that it can be stopped and started
again without touching the shared one.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from gateway.ratelimit import RedisRateLimiter

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class PrivateRedis:
    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                *("--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"),
                *("--dir", str(self.workdir), "--logfile", str(self.workdir / "redis.log")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("private redis did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def private_redis(free_port: int, tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(free_port, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def test_a_busy_pool_waits_and_the_limit_holds(
    private_redis: PrivateRedis, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis answers, only slowly for a moment (paused writes): calls wait for a connection, the
    limit holds exactly, and nothing says Redis were unreachable."""
    limiter = RedisRateLimiter(private_redis.url, prefix="t:", secret=b"s" * 32)
    admin = aioredis.from_url(private_redis.url)
    try:
        assert await limiter.allow("warm-up", 5, 60.0)
        with caplog.at_level(logging.WARNING, logger="gateway.ratelimit"):
            await admin.execute_command("CLIENT", "PAUSE", "400", "WRITE")  # type: ignore[no-untyped-call]
            got = await asyncio.gather(*(limiter.allow("webchat:flood", 20, 60.0) for _ in range(2000)))
            assert sum(got) == 20, f"{sum(got)} of 2000 admitted with a limit of 20"
            # Right after it, the limit is still counted, not switched off.
            assert await limiter.allow("webchat:flood", 20, 60.0) is False
        assert "unreachable" not in caplog.text
    finally:
        await admin.aclose()
        await limiter.close()


async def test_after_a_redis_restart_the_first_login_is_counted_not_refused(
    private_redis: PrivateRedis,
) -> None:
    limiter = RedisRateLimiter(private_redis.url, prefix="t:", secret=b"s" * 32)
    try:
        assert await limiter.allow("console-login:anna", 10, 60.0, fail_open=False)
        private_redis.stop()
        # During the outage the login fails closed, the chat open (the documented fallback).
        assert await limiter.allow("console-login:anna", 10, 60.0, fail_open=False) is False
        assert await limiter.allow("webchat:someone", 1, 60.0) is True
        private_redis.start()
        assert await limiter.allow("console-login:anna", 10, 60.0, fail_open=False) is True
        assert await limiter.allow("webchat:someone", 1, 60.0) is True
        assert await limiter.allow("webchat:someone", 1, 60.0) is False  # counted again at once
    finally:
        await limiter.close()


async def test_a_restart_without_calls_during_the_outage_costs_no_login(private_redis: PrivateRedis) -> None:
    limiter = RedisRateLimiter(private_redis.url, prefix="t:", secret=b"s" * 32)
    try:
        assert await limiter.allow("console-login:anna", 10, 60.0, fail_open=False)
        private_redis.stop()
        private_redis.start()
        assert await limiter.allow("console-login:anna", 10, 60.0, fail_open=False) is True
    finally:
        await limiter.close()
