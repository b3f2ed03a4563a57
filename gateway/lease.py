"""Leases: only one process of a fleet runs a channel's receiver (Telegram poller, XMPP, IMAP).

A :class:`LeaseRunner` keeps trying to acquire its lease; once it holds it, it calls ``start()``,
renews the lease every ``renew_every`` seconds and calls ``stop()`` as soon as it is lost.  When the
holding process dies, its lease expires after ``ttl`` seconds and another process's runner takes
over within ``renew_every`` more.

A holder that cannot reach Redis to renew keeps running only while the lease it last renewed is
certainly still valid, and stops before it could expire: two processes never run the receiver at
the same time because of a lost connection.

``InProcessLease`` is always granted: the embedded default has a single process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from gateway.errors import BrokerUnavailable
from gateway.tasks import cancel_and_wait

log = logging.getLogger(__name__)

# KEYS[1] lease key; ARGV[1] owner token; ARGV[2] ttl in ms.  1 when held by the token afterwards.
_ACQUIRE = """
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if owner then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class Lease(ABC):
    """A named, expiring lease.  ``acquire`` and ``renew`` return False when another holds it.

    They raise :class:`~gateway.errors.BrokerUnavailable` when the lease store cannot be reached, so
    that a holder can tell "lost" from "cannot tell".
    """

    name: str
    ttl: float

    @abstractmethod
    async def acquire(self) -> bool: ...

    @abstractmethod
    async def renew(self) -> bool: ...

    @abstractmethod
    async def release(self) -> None: ...

    async def owner(self) -> str | None:
        """A description of the current holder, if known (health pages)."""
        return None

    async def close(self) -> None:
        """Free the lease's connections (after ``release``)."""
        return None


class InProcessLease(Lease):
    """Always granted: the embedded default runs a single process."""

    def __init__(self, name: str, ttl: float = 5.0) -> None:
        self.name = name
        self.ttl = ttl

    async def acquire(self) -> bool:
        return True

    async def renew(self) -> bool:
        return True

    async def release(self) -> None:
        return None


class RedisLease(Lease):
    """``SET {prefix}lease:{name} token NX PX ttl``; renew and release only by the owner token."""

    def __init__(
        self,
        redis_url: str,
        name: str,
        prefix: str = "helpline:",
        ttl: float = 5.0,
        *,
        owner: str | None = None,
    ) -> None:
        if ttl <= 0:
            raise ValueError("ttl must be positive")
        self.name = name
        self.ttl = ttl
        self.key = f"{prefix}lease:{name}"
        self.token = owner or uuid.uuid4().hex
        # Every call must end well within the ttl, or a holder cut off from Redis could not stop its
        # receiver before the lease expires: short socket timeouts, one quick retry, and a deadline.
        self._deadline = max(0.2, min(2.0, ttl / 3))
        self._client = aioredis.from_url(
            redis_url,
            socket_connect_timeout=self._deadline,
            socket_timeout=self._deadline,
            retry=Retry(NoBackoff(), 1),
        )
        self._acquire = self._client.register_script(_ACQUIRE)
        self._renew = self._client.register_script(_RENEW)
        self._release = self._client.register_script(_RELEASE)

    @property
    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl * 1000))

    async def _call(self, script: AsyncScript, args: list[str | int]) -> bool:
        try:
            async with asyncio.timeout(self._deadline):
                return bool(await script(keys=[self.key], args=args))
        except (RedisError, OSError, TimeoutError) as exc:
            raise BrokerUnavailable(f"lease {self.name}: redis unreachable ({type(exc).__name__})") from exc

    async def acquire(self) -> bool:
        return await self._call(self._acquire, [self.token, self._ttl_ms])

    async def renew(self) -> bool:
        return await self._call(self._renew, [self.token, self._ttl_ms])

    async def release(self) -> None:
        try:
            await self._call(self._release, [self.token])
        except BrokerUnavailable as exc:
            # It expires by itself after ttl.
            log.warning("lease %s: could not release (%s)", self.name, exc)

    async def owner(self) -> str | None:
        try:
            value = await self._client.get(self.key)
        except (RedisError, OSError):
            return None
        if value is None:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    async def close(self) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._client.aclose()


def make_lease(redis_url: str | None, name: str, prefix: str = "helpline:", ttl: float = 5.0) -> Lease:
    """An InProcessLease without Redis, else a RedisLease."""
    if redis_url is None:
        return InProcessLease(name, ttl)
    return RedisLease(redis_url, name, prefix, ttl)


class LeaseRunner:
    """Runs ``start``/``stop`` so that the receiver runs exactly while this process holds the lease.

    ``holding`` is True while this runner holds the lease; ``started`` once ``start()`` returned in
    the current holding.  ``start()`` runs while the lease keeps being renewed, so a slow start does
    not let the lease expire; if it raises, the runner calls ``stop()``, releases the lease and
    tries again later with back-off.  The runner owns its lease: :meth:`close` stops the receiver,
    releases the lease and closes it.
    """

    def __init__(
        self,
        lease: Lease,
        start: Callable[[], Awaitable[None]],
        stop: Callable[[], Awaitable[None]],
        renew_every: float | None = None,
    ) -> None:
        self.lease = lease
        self._start = start
        self._stop = stop
        self.renew_every = renew_every if renew_every is not None else lease.ttl / 3
        if self.renew_every <= 0 or (math.isfinite(lease.ttl) and self.renew_every >= lease.ttl):
            raise ValueError("renew_every must be positive and shorter than the lease's ttl")
        self.holding = False
        self.started = False
        self.last_error: str | None = None
        self._valid_until = 0.0
        self._retry_at = 0.0
        self._failures = 0
        self._task: asyncio.Task[None] | None = None
        self._starting: asyncio.Task[None] | None = None
        self._stop_owed = False
        # Set by close(): the loop ends on its next turn even when a library it awaits swallowed
        # the cancellation (a CI run's hand-over then waited a whole cancel repeat).
        self._closing = False
        """A start was begun and stop() has not yet returned since."""
        self._changed = asyncio.Event()

    def start(self) -> None:
        """Begin the background task (idempotent)."""
        if self._task is None or self._task.done():
            self._closing = False
            self._task = asyncio.create_task(self._run(), name=f"lease {self.lease.name}")

    async def __aenter__(self) -> LeaseRunner:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def wait_started(self, timeout: float | None = None) -> bool:
        """Wait until this runner holds the lease and ``start()`` returned; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.started:
            changed = self._changed
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout=remaining)
        return True

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def close(self) -> None:
        task, self._task = self._task, None
        self._closing = True
        # Cancelled until it has really ended (a library it awaits may swallow one cancellation).
        await cancel_and_wait(task)
        if self.holding or self._stop_owed:
            await self._lose("closing")
        await self.lease.release()
        await self.lease.close()

    async def _lose(self, why: str) -> None:
        """Stop the receiver (cancelling a start still running) and give the lease up."""
        self.holding = False
        self.started = False
        self._notify()
        log.info("lease %s: %s; stopping the receiver", self.lease.name, why)
        starting = self._starting
        # Not ``suppress(CancelledError): await starting``: that also swallowed a cancellation of
        # this runner arriving meanwhile, and the runner never ended (gateway.tasks).
        await cancel_and_wait(starting)
        self._starting = None
        if self._stop_owed:
            try:
                await self._stop()
            except Exception as exc:
                log.error("lease %s: stop failed (%s)", self.lease.name, type(exc).__name__)
            # Only once stop() returned: cancelled half-way, close() stops the receiver again.
            self._stop_owed = False
        await self.lease.release()

    async def _start_receiver(self) -> None:
        await self._start()
        self.started = True
        self._failures = 0
        self._notify()

    async def _run(self) -> None:
        while not self._closing:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("lease %s: unexpected %s", self.lease.name, type(exc).__name__)
            await asyncio.sleep(self.renew_every)

    async def _step(self) -> None:
        asked = time.monotonic()
        if not self.holding:
            if asked < self._retry_at:
                return
            try:
                granted = await self.lease.acquire()
            except BrokerUnavailable as exc:
                self.last_error = str(exc)
                return
            if not granted:
                return
            self._valid_until = asked + self.lease.ttl
            self.holding = True
            self.last_error = None
            self._notify()
            log.info("lease %s: acquired; starting the receiver", self.lease.name)
            self._stop_owed = True
            self._starting = asyncio.create_task(
                self._start_receiver(), name=f"lease {self.lease.name} start"
            )
            return
        starting = self._starting
        if starting is not None and starting.done():
            self._starting = None
            error = None if starting.cancelled() else starting.exception()
            if error is not None:
                self._failures += 1
                delay = min(30.0, self.renew_every * 2**self._failures)
                self._retry_at = time.monotonic() + delay
                self.last_error = f"start failed: {type(error).__name__}"
                await self._lose(f"start failed ({type(error).__name__}), retrying in {delay:.1f}s")
                return
        try:
            renewed: bool | None = await self.lease.renew()
        except BrokerUnavailable as exc:
            self.last_error = str(exc)
            renewed = None
        if renewed:
            self._valid_until = asked + self.lease.ttl
            return
        if renewed is False:
            await self._lose("lease lost to another process")
            return
        # Cannot tell: keep running only while the lease we last renewed is surely valid.
        if time.monotonic() + self.renew_every >= self._valid_until:
            await self._lose("cannot renew the lease before it expires")
