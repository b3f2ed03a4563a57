"""Admission to the store: turns in order, a nested session let through, a time limit, and the
urgent lane that a batch holding a critical message takes (``gateway/store/gate.py``)."""

from __future__ import annotations

import asyncio

import pytest

from gateway.errors import StoreError
from gateway.store.gate import Gate, Hurry


async def test_the_gate_admits_in_turn_lets_a_holder_in_again_and_gives_up_in_time() -> None:

    gate = Gate(1, timeout=0.2)
    order: list[str] = []
    held = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with gate.enter():
            async with gate.enter():  # a nested session of the same task does not wait for itself
                order.append("holder")
                held.set()
                await release.wait()

    async def waiter(name: str) -> None:
        async with gate.enter():
            order.append(name)

    first = asyncio.create_task(holder())
    await held.wait()
    second, third = asyncio.create_task(waiter("second")), asyncio.create_task(waiter("third"))
    await asyncio.sleep(0.05)
    assert order == ["holder"], "nobody enters while the slot is held"
    release.set()
    await asyncio.gather(first, second, third)
    assert order == ["holder", "second", "third"], "first come, first served"

    # A free slot is taken at once; a held one past the time limit is a retryable StoreUnavailable.
    async with gate.enter():
        late = asyncio.create_task(waiter("late"))
        with pytest.raises(StoreError) as refused:
            await late
    assert "no turn within the time limit" in str(refused.value) and refused.value.retryable
    async with gate.enter():
        order.append("free again")
    assert order[-1] == "free again"


async def queue_up(
    gate: Gate, names: list[tuple[str, bool | Hurry]], order: list[str]
) -> list[asyncio.Task[None]]:
    """Tasks that wait for a turn in the given order (each with its ``urgent``) and note it."""

    async def waiter(name: str, urgent: bool | Hurry) -> None:
        async with gate.enter(urgent=urgent):
            order.append(name)

    tasks = []
    for name, urgent in names:
        tasks.append(asyncio.create_task(waiter(name, urgent)))
        await asyncio.sleep(0)  # arrives after the one before
    return tasks


async def test_the_urgent_lane_goes_before_the_normal_one_and_keeps_its_own_order() -> None:
    gate = Gate(1)
    order: list[str] = []
    async with gate.enter():
        tasks = await queue_up(
            gate,
            [
                ("read 1", False),
                ("read 2", False),
                ("critical 1", True),
                ("read 3", False),
                ("critical 2", True),
            ],
            order,
        )
        assert gate.waiting == 5
    await asyncio.gather(*tasks)
    assert order == ["critical 1", "critical 2", "read 1", "read 2", "read 3"]


async def test_a_waiting_turn_hurried_moves_to_the_urgent_lane_and_goes_once() -> None:
    gate = Gate(1)
    order: list[str] = []
    batch = Hurry()
    async with gate.enter():
        tasks = await queue_up(gate, [("read 1", False), ("batch", batch), ("read 2", False)], order)
        batch.now()  # a critical message arrived behind the batch
        batch.now()  # twice changes nothing
    await asyncio.gather(*tasks)
    assert order == ["batch", "read 1", "read 2"]
    # Its old place in the normal lane was skipped, not served twice: the gate is free again.
    async with asyncio.timeout(1):
        async with gate.enter():
            pass
    assert gate.waiting == 0


async def test_a_turn_handed_to_a_waiter_that_was_cancelled_passes_to_the_next() -> None:
    gate = Gate(1)
    order: list[str] = []
    holder = gate.enter()
    await holder.__aenter__()
    tasks = await queue_up(gate, [("gone", False), ("next", False)], order)
    await holder.__aexit__(None, None, None)  # the turn is handed to "gone" ...
    tasks[0].cancel()  # ... which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await tasks[0]
    async with asyncio.timeout(1):
        await tasks[1]
    assert order == ["next"]


async def test_a_batch_that_waited_its_overdue_time_goes_before_reads_but_after_the_urgent() -> None:
    gate = Gate(1)
    order: list[str] = []
    release = asyncio.Event()

    async def waiter(name: str, urgent: bool = False, overdue: float | None = None) -> None:
        async with gate.enter(urgent=urgent, overdue=overdue):
            order.append(name)
            if name == "holder":
                await release.wait()

    holder = asyncio.create_task(waiter("holder"))
    await asyncio.sleep(0)
    tasks = [asyncio.create_task(waiter(f"read {i}")) for i in range(3)]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(waiter("batch", overdue=0.05)))
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(waiter("late read")))
    await asyncio.sleep(0.1)  # the batch is overdue now
    tasks.append(asyncio.create_task(waiter("critical", urgent=True)))
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(holder, *tasks)
    assert order == ["holder", "critical", "batch", "read 0", "read 1", "read 2", "late read"]

    # Not yet overdue: it waits its turn behind the reads before it, as any session does.
    order.clear()
    release.clear()
    holder = asyncio.create_task(waiter("holder"))
    await asyncio.sleep(0)
    tasks = [asyncio.create_task(waiter("read")), asyncio.create_task(waiter("batch", overdue=5.0))]
    await asyncio.sleep(0.05)
    release.set()
    await asyncio.gather(holder, *tasks)
    assert order == ["holder", "read", "batch"]
    assert gate.waiting == 0
