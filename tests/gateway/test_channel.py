"""The channel contract's reconnect loop (``run_with_reconnect``) and its ``Backoff``: a failing
connection is retried after growing, jittered delays, a good one resets them, bad credentials stop
for good, and the loop ends as soon as it is told to stop."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from bots.memory import MemoryAdapter
from gateway.channel import AdapterState, Backoff, run_with_reconnect
from gateway.errors import BadCredentials


def test_backoff_grows_to_its_maximum_with_jitter_and_resets() -> None:
    backoff = Backoff(initial=1.0, maximum=8.0)
    ceilings = [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    for ceiling in ceilings:
        delay = backoff.next_delay()
        assert ceiling / 2 <= delay <= ceiling
    backoff.reset()
    assert 0.5 <= backoff.next_delay() <= 1.0, "back to the initial delay"


class RecordingBackoff(Backoff):
    """The delays the loop waited, in order."""

    def __init__(self) -> None:
        super().__init__(initial=0.02, maximum=0.16)
        self.delays: list[float] = []

    def next_delay(self) -> float:
        delay = super().next_delay()
        self.delays.append(delay)
        return delay


async def test_failures_are_retried_after_growing_delays_and_a_success_resets_them() -> None:
    adapter = MemoryAdapter()
    stopping = asyncio.Event()
    backoff = RecordingBackoff()
    attempts: list[float] = []
    states: list[AdapterState] = []

    async def connect_once() -> None:
        attempts.append(time.monotonic())
        states.append(adapter.state())
        if len(attempts) <= 4:
            raise ConnectionError("refused")
        if len(attempts) == 5:
            return  # a connection that worked, then ended
        stopping.set()
        raise ConnectionError("refused")

    await asyncio.wait_for(run_with_reconnect(adapter, connect_once, stopping, backoff), 5)

    assert len(attempts) == 6
    assert states == [AdapterState.CONNECTING] * 6
    ceilings = [0.02, 0.04, 0.08, 0.16]
    for delay, ceiling in zip(backoff.delays[:4], ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    gaps = [b - a for a, b in itertools.pairwise(attempts)]
    for gap, delay in zip(gaps, backoff.delays, strict=False):
        assert gap >= delay * 0.9, "each retry waited its delay"
    assert backoff.delays[4] <= 0.02, "the connection that worked reset the back-off"
    assert adapter.state() is AdapterState.STOPPED
    assert adapter.last_error is None


async def test_a_failure_is_reported_in_the_adapters_state() -> None:
    adapter = MemoryAdapter()
    stopping = asyncio.Event()
    failed = asyncio.Event()

    async def connect_once() -> None:
        failed.set()
        raise TimeoutError

    loop = asyncio.create_task(run_with_reconnect(adapter, connect_once, stopping, Backoff(initial=5.0)))
    try:
        await asyncio.wait_for(failed.wait(), 5)
        await asyncio.sleep(0.05)
        assert adapter.state() is AdapterState.TRANSIENT_ERROR
        assert adapter.last_error == "TimeoutError", "the error's type only, never its message"

        began = time.monotonic()
        stopping.set()
        await asyncio.wait_for(loop, 2)
        assert time.monotonic() - began < 1.0, "stopping cuts the 2.5-5 s wait short"
    finally:
        loop.cancel()
    assert adapter.state() is AdapterState.STOPPED


async def test_bad_credentials_stop_for_good() -> None:
    adapter = MemoryAdapter()
    calls = 0

    async def connect_once() -> None:
        nonlocal calls
        calls += 1
        raise BadCredentials("token refused")

    await asyncio.wait_for(run_with_reconnect(adapter, connect_once, asyncio.Event(), Backoff()), 2)
    assert calls == 1
    assert adapter.state() is AdapterState.BAD_CREDENTIALS


async def test_a_cancellation_is_not_taken_for_a_failure() -> None:
    adapter = MemoryAdapter()
    started = asyncio.Event()

    async def connect_once() -> None:
        started.set()
        await asyncio.sleep(3600)

    loop = asyncio.create_task(run_with_reconnect(adapter, connect_once, asyncio.Event(), Backoff()))
    await asyncio.wait_for(started.wait(), 2)
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
    assert adapter.state() is AdapterState.CONNECTING, "not reported as a transient error"
