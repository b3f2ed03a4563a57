"""Fixtures of the broker tests: brokers of both kinds (a private Redis and child processes are in
``tests/gateway/conftest.py``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from gateway.broker import Broker, Event
from gateway.broker.inprocess import InProcessBroker
from gateway.broker.redis import RedisBroker

MakeBroker = Callable[..., Awaitable[Broker]]


class Recorder:
    """A handler that records the events it handled and lets a test wait for them."""

    def __init__(self, name: str = "", fail_first: int = 0, delay: float = 0.0) -> None:
        self.name = name
        self.events: list[Event] = []
        self.attempts: list[str] = []
        self.fail_first = fail_first
        self.delay = delay
        self._changed = asyncio.Event()

    async def __call__(self, event: Event) -> None:
        self.attempts.append(event.id)
        self._changed.set()
        if self.delay:
            await asyncio.sleep(self.delay)
        if len(self.attempts) <= self.fail_first:
            raise RuntimeError("handler failed on purpose")
        self.events.append(event)
        self._changed.set()

    @property
    def ids(self) -> list[str]:
        return [e.id for e in self.events]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out waiting; {self.name} handled {self.ids}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.05))
            except TimeoutError:
                pass

    async def wait_count(self, n: int, timeout: float = 5.0) -> None:
        await self.wait_for(lambda: len(self.events) >= n, timeout)


@pytest.fixture(params=["inprocess", pytest.param("redis", marks=pytest.mark.redis)])
def broker_target(request: pytest.FixtureRequest) -> tuple[str | None, str | None]:
    """(redis_url, prefix) for the Redis broker, (None, None) for the in-process one."""
    if request.param == "redis":
        return request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix")
    return None, None


@pytest.fixture
async def make_broker(broker_target: tuple[str | None, str | None]) -> AsyncIterator[MakeBroker]:
    """Makes started brokers of one kind (every test runs with both); all closed after the test.

    Redis brokers made by one test share a prefix, as the processes of one fleet do.  In-process
    brokers are independent, so a test that needs several consumers makes several subscriptions
    on one broker.
    """
    made: list[Broker] = []
    redis_url, prefix = broker_target

    async def make(reclaim_idle: float = 30.0, **kwargs: Any) -> Broker:
        broker: Broker
        if redis_url is None:
            broker = InProcessBroker(reclaim_idle=reclaim_idle, **kwargs)
        else:
            assert prefix is not None
            broker = RedisBroker(redis_url, prefix=prefix, reclaim_idle=reclaim_idle, **kwargs)
        await broker.start()
        made.append(broker)
        return broker

    yield make
    for broker in made:
        await broker.close()
