"""The rate limiter: in memory (forgets old windows) and on Redis (counted for the fleet, hashed keys)."""

from __future__ import annotations

import asyncio
import logging

import pytest
import redis.asyncio as aioredis

from gateway.ratelimit import MemoryRateLimiter, RedisRateLimiter, make_rate_limiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_limiter_counts_a_sliding_window_and_forgets_old_windows() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(b"k" * 32, clock=clock, sweep_every=30.0)
    assert [await limiter.allow("a", 3, 60.0) for _ in range(4)] == [True, True, True, False]
    assert await limiter.allow("b", 3, 60.0)  # another key has its own count
    clock.now += 59.0
    assert not await limiter.allow("a", 3, 60.0)
    clock.now += 1.0  # the first three calls leave the window
    assert await limiter.allow("a", 3, 60.0)
    for i in range(500):
        await limiter.allow(f"visitor-{i}", 3, 60.0)
    assert len(limiter) == 502
    clock.now += 61.0
    assert await limiter.allow("new", 3, 60.0)  # the sweep after 30 s drops every stale key
    assert len(limiter) == 1


async def test_memory_limiter_stays_bounded_under_many_keys() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock, sweep_every=1e9, max_keys=100)
    for i in range(100):
        await limiter.allow(f"k{i}", 1, 10.0)
    clock.now += 11.0
    await limiter.allow("last", 1, 10.0)
    assert len(limiter) == 1


@pytest.mark.redis
async def test_redis_limiter_counts_for_every_process_and_stores_only_hashes(
    redis_url: str, redis_prefix: str
) -> None:
    a = make_rate_limiter(redis_url, prefix=redis_prefix, pseudonym_key=b"p" * 32)
    b = make_rate_limiter(redis_url, prefix=redis_prefix, pseudonym_key=b"p" * 32)
    assert isinstance(a, RedisRateLimiter)
    client = aioredis.from_url(redis_url)
    try:
        got = [await (a if i % 2 else b).allow("login:anna@192.0.2.7", 5, 30.0) for i in range(7)]
        assert got == [True] * 5 + [False] * 2
        keys = [k.decode() async for k in client.scan_iter(match=f"{redis_prefix}*")]
        assert keys == [a.key_of("login:anna@192.0.2.7")]
        assert "anna" not in keys[0] and "192.0.2.7" not in keys[0]
        assert 0 < await client.pttl(keys[0]) <= 30_000
        assert await a.allow("login:berit", 5, 30.0)
    finally:
        await client.aclose()
        await a.close()
        await b.close()


@pytest.mark.redis
async def test_redis_limiter_keeps_counting_through_a_burst_of_many_calls_at_once(
    redis_url: str, redis_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A flood (hundreds of sockets writing at once) is exactly when the limit must hold: more
    calls at once than the limiter has Redis connections wait for one, and are never waved through
    as if Redis were down."""
    limiter = make_rate_limiter(redis_url, prefix=redis_prefix, pseudonym_key=b"p" * 32)
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.ratelimit"):
            got = await asyncio.gather(*(limiter.allow("webchat:flood", 50, 60.0) for _ in range(400)))
        assert sum(got) == 50, f"{sum(got)} of 400 admitted with a limit of 50"
        assert "unreachable" not in caplog.text
        assert await limiter.allow("webchat:someone-else", 50, 60.0)
    finally:
        await limiter.close()


async def test_redis_limiter_unreachable_fails_open_or_closed_as_asked(
    free_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = RedisRateLimiter(f"redis://127.0.0.1:{free_port}/0", prefix="x:", secret=b"s" * 32)
    try:
        with caplog.at_level(logging.WARNING, logger="gateway.ratelimit"):
            assert await limiter.allow("webchat:secret-address", 1, 60.0) is True
            assert await limiter.allow("webchat:secret-address", 1, 60.0) is True
            assert await limiter.allow("console-login:anna", 1, 60.0, fail_open=False) is False
        warnings = [r.getMessage() for r in caplog.records if r.name == "gateway.ratelimit"]
        assert len(warnings) == 1 and "unreachable" in warnings[0]
        assert "secret-address" not in caplog.text and "anna" not in caplog.text
    finally:
        await limiter.close()


async def test_a_refund_takes_back_one_admitted_call_in_memory_and_on_redis(
    redis_url: str, redis_prefix: str
) -> None:
    """A successful login is taken back from the login limit (issue 17): after a refund the
    window has room for one more call, and a refund of a key never seen does nothing."""
    memory = MemoryRateLimiter(b"k" * 32)
    redis = make_rate_limiter(redis_url, prefix=redis_prefix, pseudonym_key=b"p" * 32)
    try:
        for limiter in (memory, redis):
            await limiter.refund("never-seen")
            assert [await limiter.allow("login:anna", 2, 60.0) for _ in range(3)] == [True, True, False]
            await limiter.refund("login:anna")
            assert await limiter.allow("login:anna", 2, 60.0)
            assert not await limiter.allow("login:anna", 2, 60.0)
    finally:
        await redis.close()
