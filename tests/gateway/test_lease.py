"""Leases: one receiver per fleet, taken over within seconds when its process dies."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from gateway.lease import InProcessLease, LeaseRunner, RedisLease, make_lease
from tests.gateway.conftest import Child, PrivateRedis, wait_for_file, wait_until


class Receiver:
    """Stands in for a channel's receiver; counts how many are running fleet-wide."""

    def __init__(self, fleet: dict[str, int] | None = None) -> None:
        self.fleet = fleet if fleet is not None else {"running": 0, "most": 0}
        self.starts = 0
        self.stops = 0
        self.started_at: float | None = None
        self.stopped_at: float | None = None
        self.fail_start = False

    async def start(self) -> None:
        if self.fail_start:
            raise ConnectionError("channel refused")
        self.starts += 1
        self.started_at = time.monotonic()
        self.fleet["running"] += 1
        self.fleet["most"] = max(self.fleet["most"], self.fleet["running"])

    async def stop(self) -> None:
        if self.starts > self.stops:
            self.stops += 1
            self.fleet["running"] -= 1
        self.stopped_at = time.monotonic()


async def test_in_process_lease_runs_the_receiver_at_once() -> None:
    lease = make_lease(None, "telegram")
    assert isinstance(lease, InProcessLease)
    receiver = Receiver()
    runner = LeaseRunner(lease, receiver.start, receiver.stop, renew_every=0.05)
    runner.start()
    assert await runner.wait_started(timeout=2)
    assert runner.holding
    await asyncio.sleep(0.2)
    assert receiver.starts == 1, "started once, kept running"
    await runner.close()
    assert not runner.holding
    assert receiver.stops == 1


@pytest.mark.redis
async def test_redis_lease_is_exclusive_and_owner_checked(redis_url: str, redis_prefix: str) -> None:
    a = RedisLease(redis_url, "imap", redis_prefix, ttl=0.5)
    b = RedisLease(redis_url, "imap", redis_prefix, ttl=0.5)
    assert isinstance(make_lease(redis_url, "imap", redis_prefix, 0.5), RedisLease)
    try:
        assert await a.acquire()
        assert await a.acquire(), "acquiring what one holds keeps it"
        assert not await b.acquire()
        assert not await b.renew()
        await b.release()  # not the owner: no effect
        assert not await b.acquire()
        assert await a.renew()

        await asyncio.sleep(0.7)  # a stops renewing: the lease expires
        assert await b.acquire()
        assert not await a.renew(), "a lost it"
        await a.release()
        assert await b.renew()
        await b.release()
        assert await a.acquire()
    finally:
        for lease in (a, b):
            await lease.release()
            await lease.close()


@pytest.mark.redis
async def test_killed_holder_is_taken_over_within_ttl(
    redis_url: str, redis_prefix: str, tmp_path: Path, child: Callable[..., Child]
) -> None:
    ttl = 1.5
    proc = child("lease_child.py", redis_url, redis_prefix, "telegram", str(ttl), str(tmp_path))
    await wait_for_file(tmp_path / "started", proc)

    receiver = Receiver()
    runner = LeaseRunner(
        RedisLease(redis_url, "telegram", redis_prefix, ttl), receiver.start, receiver.stop, 0.2
    )
    runner.start()
    try:
        await asyncio.sleep(ttl)
        assert receiver.starts == 0, "stands by while the other process holds the lease"
        assert not runner.holding

        proc.kill()
        killed_at = time.monotonic()
        assert await runner.wait_started(timeout=ttl + 5)
        assert receiver.started_at is not None
        takeover = receiver.started_at - killed_at
        assert takeover < ttl + 2.0, f"took over after {takeover:.2f}s"
        assert receiver.starts == 1
    finally:
        await runner.close()
    assert receiver.stops == 1
    client = aioredis.from_url(redis_url)
    try:
        assert await client.get(f"{redis_prefix}lease:telegram") is None, "released on close"
    finally:
        await client.aclose()


@pytest.mark.redis
async def test_two_runners_never_both_hold_and_hand_over_on_close(redis_url: str, redis_prefix: str) -> None:
    fleet = {"running": 0, "most": 0}
    receivers = [Receiver(fleet), Receiver(fleet)]
    runners = [
        LeaseRunner(RedisLease(redis_url, "xmpp", redis_prefix, ttl=0.6), r.start, r.stop, renew_every=0.1)
        for r in receivers
    ]
    for runner in runners:
        runner.start()
    try:
        await wait_until(lambda: any(r.started for r in runners))
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            assert sum(r.holding for r in runners) == 1
            await asyncio.sleep(0.01)
        assert fleet["most"] == 1
        holder = next(i for i, r in enumerate(runners) if r.holding)
        other = 1 - holder

        closed_at = time.monotonic()
        await runners[holder].close()
        assert receivers[holder].stops == 1
        await runners[other].wait_started(timeout=3)
        assert time.monotonic() - closed_at < 1.0, "released on close: no need to wait for the ttl"
        assert fleet == {"running": 1, "most": 1}
    finally:
        for runner in runners:
            await runner.close()
    assert fleet["running"] == 0


@pytest.mark.redis
async def test_runner_stops_when_its_lease_is_taken(redis_url: str, redis_prefix: str) -> None:
    receiver = Receiver()
    runner = LeaseRunner(
        RedisLease(redis_url, "imap", redis_prefix, ttl=1.0), receiver.start, receiver.stop, 0.1
    )
    runner.start()
    client = aioredis.from_url(redis_url)
    try:
        assert await runner.wait_started(timeout=3)
        await client.set(f"{redis_prefix}lease:imap", "someone-else", px=800)
        await wait_until(lambda: receiver.stops == 1, timeout=2)
        assert not runner.holding
        assert await runner.wait_started(timeout=3), "takes it again once the other let it expire"
        assert receiver.starts == 2
    finally:
        await client.aclose()
        await runner.close()


@pytest.mark.parametrize("outage", ["killed", "frozen"])
async def test_holder_cut_off_from_redis_stops_before_its_lease_can_expire(
    private_redis: PrivateRedis, outage: str
) -> None:
    ttl = 1.5
    receiver = Receiver()
    runner = LeaseRunner(
        RedisLease(private_redis.url, "telegram", "hl:", ttl), receiver.start, receiver.stop, 0.2
    )
    runner.start()
    try:
        assert await runner.wait_started(timeout=3)
        if outage == "killed":
            private_redis.stop()
        else:
            private_redis.freeze()
        cut_at = time.monotonic()
        await wait_until(lambda: receiver.stops == 1, timeout=ttl + 2)
        assert receiver.stopped_at is not None
        assert receiver.stopped_at - cut_at < ttl, "stopped while the last renewal still covered it"
        assert not runner.holding

        if outage == "killed":
            private_redis.start()
        else:
            private_redis.thaw()
        assert await runner.wait_started(timeout=5), "starts again when Redis is back"
    finally:
        await runner.close()


@pytest.mark.redis
async def test_failing_start_gives_the_lease_up(redis_url: str, redis_prefix: str) -> None:
    broken, healthy = Receiver(), Receiver()
    broken.fail_start = True
    first = LeaseRunner(RedisLease(redis_url, "email", redis_prefix, ttl=5.0), broken.start, broken.stop, 0.1)
    first.start()
    await wait_until(lambda: first.last_error is not None and "start failed" in first.last_error)
    second = LeaseRunner(
        RedisLease(redis_url, "email", redis_prefix, ttl=5.0), healthy.start, healthy.stop, 0.1
    )
    second.start()
    try:
        assert await second.wait_started(timeout=2), "did not have to wait for the 5 s ttl"
        assert not first.holding
    finally:
        await first.close()
        await second.close()


class LosableLease(InProcessLease):
    """An in-process lease that another process can take away (``renew`` answers False)."""

    def __init__(self) -> None:
        super().__init__("xmpp", ttl=5.0)
        self.lost = False

    async def renew(self) -> bool:
        return not self.lost


async def test_runner_ends_on_one_cancel_while_a_slow_start_unwinds() -> None:
    """Cancelled while it waits for a cancelled start to unwind, the runner ends, and still stops."""
    unwinding = asyncio.Event()
    stopped: list[float] = []

    async def slow_start() -> None:
        try:
            await asyncio.sleep(3600)  # a connection attempt that hangs
        except asyncio.CancelledError:
            unwinding.set()
            await asyncio.sleep(0.3)  # closing a half-open connection takes a moment
            raise

    async def stop() -> None:
        stopped.append(time.monotonic())

    lease = LosableLease()
    runner = LeaseRunner(lease, slow_start, stop, renew_every=0.02)
    runner.start()
    await wait_until(lambda: runner.holding)
    try:
        lease.lost = True  # the runner gives the lease up and cancels the start
        await asyncio.wait_for(unwinding.wait(), 2)
        task = runner._task
        assert task is not None
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
        assert task.done(), "one cancel must end the runner (it was swallowed while the start unwound)"
        assert task.cancelled()
    finally:
        lease.lost = False  # should the runner still run, let it settle so that close() ends it
        await runner.close()
    assert len(stopped) == 1, "the receiver is stopped once, after its start has unwound"
    assert not runner.holding


async def test_a_start_that_keeps_failing_is_retried_with_growing_delays_and_close_ends_it() -> None:
    """The runner backs off after each failed start (twice the last wait, from ``renew_every``),
    runs the receiver once a start works, and after ``close`` starts nothing again."""
    attempts: list[float] = []
    stopped: list[float] = []

    async def start() -> None:
        attempts.append(time.monotonic())
        if len(attempts) <= 3:
            raise ConnectionError("channel refused")

    async def stop() -> None:
        stopped.append(time.monotonic())

    renew_every = 0.02
    runner = LeaseRunner(InProcessLease("imap"), start, stop, renew_every=renew_every)
    runner.start()
    try:
        assert await runner.wait_started(timeout=5)
        assert len(attempts) == 4
        gaps = [b - a for a, b in itertools.pairwise(attempts)]
        for failures, gap in enumerate(gaps, start=1):
            assert gap >= renew_every * 2**failures, f"retry {failures} came after {gap:.3f}s"
        assert len(stopped) == 3, "each failed start was stopped, the lease given up"
    finally:
        await runner.close()
    assert len(stopped) == 4, "close stops the running receiver"
    assert not runner.holding and not runner.started
    await asyncio.sleep(renew_every * 10)
    assert len(attempts) == 4, "nothing starts after close"


class TakenLease(LosableLease):
    """Held by another process while ``lost``: neither renewed nor acquired."""

    async def acquire(self) -> bool:
        return not self.lost


async def test_a_lease_lost_to_another_process_stops_the_receiver_at_once() -> None:
    """``renew`` answering False (another process holds the lease now) stops the receiver; it runs
    again once the lease is free again."""
    lease = TakenLease()
    receiver = Receiver()
    runner = LeaseRunner(lease, receiver.start, receiver.stop, renew_every=0.02)
    runner.start()
    try:
        assert await runner.wait_started(timeout=2)
        lease.lost = True
        await wait_until(lambda: receiver.stops == 1, timeout=2)
        await asyncio.sleep(0.2)
        assert not runner.holding
        assert (receiver.starts, receiver.stops) == (1, 1), "stands by while the other holds it"
        lease.lost = False
        assert await runner.wait_started(timeout=2)
        assert receiver.starts == 2
    finally:
        await runner.close()
    assert receiver.stops == 2
