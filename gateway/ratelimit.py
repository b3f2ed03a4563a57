"""Sliding-window rate limits shared by the fleet: at most ``limit`` admitted calls per key within
``window`` seconds.

:class:`MemoryRateLimiter` counts in this process (the embedded default); :class:`RedisRateLimiter`
counts on Redis, atomically in one Lua script, so that N processes admit ``limit`` in total, not
N times ``limit``.  Keys are hashed with a keyed MAC before they are stored anywhere: no address,
user name or IP address reaches Redis or lives in memory as given.

If Redis cannot be reached the call returns ``fail_open`` (default True: the web chat never loses a
person's message to a broken limiter; the console login passes False and refuses) and logs a
warning that names no key.  A burst of calls is not an outage: calls beyond the connections wait for
one (see :class:`RedisRateLimiter`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from gateway.envelope import random_id

log = logging.getLogger(__name__)


@runtime_checkable
class RateLimiter(Protocol):
    async def allow(self, key: str, limit: int, window: float, *, fail_open: bool = True) -> bool:
        """Count one call for ``key``; False when ``limit`` calls were admitted within ``window`` s."""
        ...

    async def refund(self, key: str) -> None:
        """Take back the newest admitted call of ``key`` (a call that turned out not to count, as
        a successful login); best effort."""
        ...

    async def close(self) -> None: ...


def _digest(secret: bytes, key: str) -> str:
    return hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


class MemoryRateLimiter:
    """Per process.  Memory stays bounded: keys whose newest admitted call left its window are
    forgotten (swept at most every ``sweep_every`` seconds, and whenever there are many keys)."""

    def __init__(
        self,
        secret: bytes = b"",
        *,
        clock: Callable[[], float] = time.monotonic,
        sweep_every: float = 30.0,
        max_keys: int = 10_000,
    ) -> None:
        self._secret = secret
        self._clock = clock
        self._sweep_every = sweep_every
        self._max_keys = max_keys
        self._seen: dict[str, tuple[deque[float], float]] = {}
        self._sweep_at = max_keys
        self._last_sweep = clock()

    def __len__(self) -> int:
        return len(self._seen)

    def _sweep(self, now: float) -> None:
        self._last_sweep = now
        for k in [k for k, (w, span) in self._seen.items() if not w or now - w[-1] >= span]:
            del self._seen[k]
        self._sweep_at = max(self._max_keys, 2 * len(self._seen))

    async def allow(self, key: str, limit: int, window: float, *, fail_open: bool = True) -> bool:
        now = self._clock()
        if now - self._last_sweep >= self._sweep_every or len(self._seen) >= self._sweep_at:
            self._sweep(now)
        digest = _digest(self._secret, key)
        seen, _ = self._seen.get(digest) or (deque(), window)
        self._seen[digest] = (seen, window)
        while seen and now - seen[0] >= window:
            seen.popleft()
        if len(seen) >= limit:
            return False
        seen.append(now)
        return True

    async def refund(self, key: str) -> None:
        found = self._seen.get(_digest(self._secret, key))
        if found and found[0]:
            found[0].pop()

    async def close(self) -> None:
        self._seen.clear()


# KEYS[1] the window's sorted set; ARGV: limit, window in ms, a unique member.  Redis's own clock,
# so that the processes' clocks need not agree.
_SLIDING = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 1
"""


class RedisRateLimiter:
    """Fleet-wide: ``{prefix}rate:{hmac(key)}`` holds the admitted calls of the last window.

    Two things are told apart.  *Busy*: more calls at once than the limiter has connections; they
    queue (:attr:`QUEUE_WAIT` at most) for one of :attr:`CONNECTIONS` slots, so the pool itself is
    never asked for more than it has and never answers "no connection", and the limit holds.
    *Unreachable*: Redis does not answer (connection refused or lost, or no answer within the
    timeout): the documented fallback, ``fail_open``.  A connection found closed (Redis restarted)
    is retried at once on a fresh connection before anything counts as unreachable, and a login
    (``fail_open=False``) always asks Redis, so the first login after a restart is counted, not
    refused.
    """

    WARN_EVERY = 60.0
    BACKOFF = 2.0  # after a failure, the chat skips Redis this long instead of waiting on it per call
    CONNECTIONS = 16
    QUEUE_WAIT = 5.0  # seconds a call waits for a free connection in a burst

    def __init__(self, redis_url: str, *, prefix: str, secret: bytes, timeout: float = 1.0) -> None:
        # ``timeout``: one Redis answer (a call gives up after twice that).  Half a second read a busy
        # process's own event loop (hundreds of sockets writing at once) as Redis being away, and the
        # chat limit then let a flood through; a refused connection is still noticed at once.
        self._prefix = prefix
        self._secret = secret
        self._timeout = timeout
        self._pool = aioredis.BlockingConnectionPool.from_url(
            redis_url,
            max_connections=self.CONNECTIONS,
            timeout=timeout,
            socket_connect_timeout=timeout,
            socket_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
        )
        self._client = aioredis.Redis.from_pool(self._pool)
        self._script = self._client.register_script(_SLIDING)
        self._slots = asyncio.Semaphore(self.CONNECTIONS)
        self._down_until = 0.0
        self._warned_at = -float("inf")

    def key_of(self, key: str) -> str:
        return f"{self._prefix}rate:{_digest(self._secret, key)}"

    async def _count(self, key: str, limit: int, window: float) -> bool:
        args: list[int | str] = [max(0, limit), max(1, int(window * 1000)), random_id()]
        try:
            async with asyncio.timeout(2 * self._timeout):
                return bool(await self._script(keys=[self.key_of(key)], args=args))
        except RedisConnectionError:
            # Connections of a Redis that restarted are closed: drop them all, try once anew.
            await self._pool.disconnect(inuse_connections=False)
        async with asyncio.timeout(2 * self._timeout):
            return bool(await self._script(keys=[self.key_of(key)], args=args))

    def _warn(self, now: float, message: str, *args: object) -> None:
        if now - self._warned_at >= self.WARN_EVERY:
            self._warned_at = now
            log.warning(message, *args)

    async def allow(self, key: str, limit: int, window: float, *, fail_open: bool = True) -> bool:
        now = time.monotonic()
        if fail_open and now < self._down_until:
            return True
        try:
            async with asyncio.timeout(self.QUEUE_WAIT):
                await self._slots.acquire()
        except TimeoutError:
            self._warn(now, "rate limiter: busy, no free connection within %.0f s", self.QUEUE_WAIT)
            return fail_open
        try:
            admitted = await self._count(key, limit, window)
        except (RedisError, OSError, TimeoutError) as exc:
            self._down_until = time.monotonic() + self.BACKOFF
            self._warn(
                now,
                "rate limiter: redis unreachable (%s); %s calls until it is back",
                type(exc).__name__,
                "admitting" if fail_open else "refusing",
            )
            return fail_open
        finally:
            self._slots.release()
        self._down_until = 0.0
        return admitted

    async def refund(self, key: str) -> None:
        # The newest member of the window's set is the call to take back (or one made at the same
        # moment: either way the window holds one call fewer).
        try:
            async with asyncio.timeout(2 * self._timeout):
                await self._client.zpopmax(self.key_of(key))
        except (RedisError, OSError, TimeoutError) as exc:
            self._warn(time.monotonic(), "rate limiter: a refund failed (%s)", type(exc).__name__)

    async def close(self) -> None:
        await self._client.aclose()


def limiter_secret(pseudonym_key: bytes) -> bytes:
    """The key that hashes rate-limit keys; the same in every process of a fleet."""
    return hmac.new(pseudonym_key, b"helpline rate limit keys", hashlib.sha256).digest()


def make_rate_limiter(redis_url: str | None, *, prefix: str, pseudonym_key: bytes) -> RateLimiter:
    """Redis when the gateway has one (the fleet shares the counts), else this process's memory."""
    secret = limiter_secret(pseudonym_key)
    if redis_url:
        return RedisRateLimiter(redis_url, prefix=prefix, secret=secret)
    return MemoryRateLimiter(secret)
