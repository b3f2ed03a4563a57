"""The rate limiter tells a busy pool from a Redis that is gone, and comes back after a restart.

The Redis server here is the test's own (``tests.gateway.broker.conftest.PrivateRedis``), on its own
port, so that it can be stopped and started again without touching the shared one.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
import redis.asyncio as aioredis

from gateway.ratelimit import RedisRateLimiter
from tests.gateway.conftest import PrivateRedis, private_redis

__all__ = ["private_redis"]  # the fixture, shared with the broker tests


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
