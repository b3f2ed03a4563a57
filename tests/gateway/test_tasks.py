"""cancel_and_wait: the task ends, and the caller's own cancellation is never swallowed."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from gateway.tasks import cancel_and_wait


async def slow_to_unwind(unwinding: asyncio.Event, error: Exception | None = None) -> None:
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        unwinding.set()
        await asyncio.sleep(0.2)  # closing a connection takes a moment
        if error is not None:
            raise error from None
        raise


async def test_returns_once_the_task_has_unwound() -> None:
    unwinding = asyncio.Event()
    task = asyncio.create_task(slow_to_unwind(unwinding))
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    assert unwinding.is_set()
    assert task.cancelled()


async def test_a_cancel_of_the_caller_while_it_waits_is_raised() -> None:
    unwinding = asyncio.Event()
    child = asyncio.create_task(slow_to_unwind(unwinding))
    after_wait: list[str] = []

    async def stopper() -> None:
        await cancel_and_wait(child)
        after_wait.append("ran on")  # what the suppress idiom did: the cancelled caller went on
        await asyncio.sleep(3600)

    caller = asyncio.create_task(stopper())
    await asyncio.wait_for(unwinding.wait(), 1)
    caller.cancel()
    await asyncio.wait({caller}, timeout=1)
    assert caller.done() and caller.cancelled()
    assert after_wait == []
    await asyncio.wait({child}, timeout=1)
    assert child.cancelled(), "the child still unwinds to its end"


async def test_an_error_while_unwinding_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    unwinding = asyncio.Event()
    task = asyncio.create_task(
        slow_to_unwind(unwinding, ConnectionError("peer 10.0.0.7 gone")), name="imap reader"
    )
    await asyncio.sleep(0)
    with caplog.at_level(logging.WARNING, logger="gateway.tasks"):
        await cancel_and_wait(task)
    assert "'imap reader' ended with ConnectionError" in caplog.text
    assert "10.0.0.7" not in caplog.text


async def test_none_and_finished_tasks_are_fine() -> None:
    await cancel_and_wait(None)
    done = asyncio.create_task(asyncio.sleep(0))
    await done
    await cancel_and_wait(done)
    assert done.done() and not done.cancelled()


async def test_a_loop_whose_wait_for_swallowed_the_cancellation_still_ends() -> None:
    # Python 3.11's wait_for returns the result when the cancellation arrives as the awaited
    # thing completes; a loop around it (the outbox relay's) then runs on.  Arranged here for
    # certain: the loop is cancelled in the step where its wake-up has already been delivered.
    wake = asyncio.Event()
    rounds = 0

    async def relay() -> None:
        nonlocal rounds
        while True:
            try:
                await asyncio.wait_for(wake.wait(), timeout=3600)
            except asyncio.CancelledError:
                if rounds == 0:  # what wait_for does in the race: the cancellation is lost
                    rounds += 1
                    continue
                raise
            wake.clear()

    task = asyncio.create_task(relay())
    await asyncio.sleep(0)
    async with asyncio.timeout(10):
        await cancel_and_wait(task)
    assert task.cancelled() and rounds == 1


async def test_wait_for_races_never_keep_a_stop_waiting() -> None:
    # The real race, many times over: a wake-up and a stop in the same moment.
    async def relay(wake: asyncio.Event) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=3600)
            wake.clear()

    for spins in range(8):
        wake = asyncio.Event()
        task = asyncio.create_task(relay(wake))
        await asyncio.sleep(0)
        wake.set()
        for _ in range(spins % 4):
            await asyncio.sleep(0)
        async with asyncio.timeout(10):
            await cancel_and_wait(task)
        assert task.done()
