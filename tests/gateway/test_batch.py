"""Group commit: items submitted together are stored together, and one bad item fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from gateway import batch
from gateway.batch import Batcher
from gateway.store.gate import Hurry


class Store:
    """Stands in for a transaction: records each call, refuses items named "bad" as a whole batch."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.stored: list[str] = []

    async def batch(self, items: Sequence[str]) -> list[str | BaseException]:
        self.calls.append(list(items))
        await asyncio.sleep(0.01)
        if "bad" in items:
            raise RuntimeError("the transaction was refused")
        self.stored.extend(items)
        return [f"ok:{i}" if i != "conflict" else ValueError("not yours") for i in items]

    async def one(self, item: str) -> str:
        outcome = (await self.batch([item]))[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


async def test_items_that_arrive_together_are_stored_in_one_call() -> None:
    store = Store()
    batcher = Batcher("t", store.batch, store.one)
    first = asyncio.create_task(batcher.submit("a"))
    await asyncio.sleep(0)  # "a" is being stored alone: nothing else was waiting
    rest = [asyncio.create_task(batcher.submit(x)) for x in ("b", "c", "d")]
    results = await asyncio.gather(first, *rest)
    assert results == ["ok:a", "ok:b", "ok:c", "ok:d"]
    assert store.calls == [["a"], ["b", "c", "d"]]
    assert sorted(store.stored) == ["a", "b", "c", "d"]


async def test_a_batch_that_fails_is_retried_item_by_item_and_only_the_bad_item_fails() -> None:
    store = Store()
    batcher = Batcher("t", store.batch, store.one)
    blocker = asyncio.create_task(batcher.submit("first"))
    await asyncio.sleep(0)
    tasks = [asyncio.create_task(batcher.submit(x)) for x in ("x", "bad", "y", "conflict")]
    results = await asyncio.gather(blocker, *tasks, return_exceptions=True)
    assert results[:2] == ["ok:first", "ok:x"]
    assert isinstance(results[2], RuntimeError)
    assert results[3] == "ok:y"
    assert isinstance(results[4], ValueError) and str(results[4]) == "not yours"
    assert sorted(store.stored) == ["conflict", "first", "x", "y"]


async def test_batches_are_capped_and_no_worker_outlives_the_work() -> None:
    store = Store()
    batcher = Batcher("t", store.batch, store.one, max_batch=3)
    blocker = asyncio.create_task(batcher.submit("0"))
    await asyncio.sleep(0)
    await asyncio.gather(blocker, *(batcher.submit(str(i)) for i in range(1, 8)))
    assert [len(c) for c in store.calls] == [1, 3, 3, 1]
    await asyncio.sleep(0)
    assert not batcher._workers


async def test_an_item_whose_caller_stops_waiting_is_still_stored() -> None:
    store = Store()
    batcher = Batcher("t", store.batch, store.one)
    task = asyncio.create_task(batcher.submit("kept"))
    await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.05)
    assert store.stored == ["kept"]


async def test_an_urgent_item_makes_its_batch_and_the_one_in_flight_before_it_urgent() -> None:
    seen: list[tuple[list[str], bool, bool]] = []  # items, urgent at the start, urgent at the end
    gate = asyncio.Event()

    async def run(items: Sequence[str]) -> list[str]:
        hurry = batch.hurry()
        assert isinstance(hurry, Hurry)  # run_batch and run_one get the batch's urgency
        at_start = hurry.urgent
        await gate.wait()  # waits for the store, as a session would
        seen.append((list(items), at_start, hurry.urgent))
        return list(items)

    async def one(item: str) -> str:
        return (await run([item]))[0]

    batcher = Batcher("t", run, one)
    greeting = asyncio.create_task(batcher.submit("hej"))
    await asyncio.sleep(0)  # its batch is in flight, waiting
    critical = asyncio.create_task(batcher.submit("attack on friday", urgent=True))
    after = asyncio.create_task(batcher.submit("hej igen"))
    await asyncio.sleep(0)
    gate.set()
    assert list(await asyncio.gather(greeting, critical, after)) == ["hej", "attack on friday", "hej igen"]
    assert seen == [
        (["hej"], False, True),  # hurried while it waited: the critical message waits behind it
        (["attack on friday", "hej igen"], True, True),
    ]
    # Without an urgent item nothing is urgent.
    seen.clear()
    assert await batcher.submit("hej") == "hej"
    assert seen == [(["hej"], False, False)]


async def test_with_a_side_lane_an_urgent_item_is_stored_beside_the_batch_in_flight() -> None:
    """Where the store takes several writers at once, a critical message does not wait for the
    batch in flight, unless that batch holds an item of the same sender (whose order it keeps)."""
    done: list[str] = []
    gate = asyncio.Event()

    async def run(items: Sequence[str]) -> list[str]:
        hurry = batch.hurry()
        if not (isinstance(hurry, Hurry) and hurry.urgent):
            await gate.wait()  # the batch in flight waits for the store
        done.extend(items)
        return list(items)

    async def one(item: str) -> str:
        return (await run([item]))[0]

    batcher = Batcher("t", run, one, side_lane=True, key=lambda item: item.split(":")[0])
    greeting = asyncio.create_task(batcher.submit("anna:hej"))
    await asyncio.sleep(0)  # in flight, waiting
    assert (
        await asyncio.wait_for(batcher.submit("bo:attack on friday", urgent=True), 1.0)
        == "bo:attack on friday"
    )
    assert done == ["bo:attack on friday"]
    same_sender = asyncio.create_task(batcher.submit("anna:attack on friday", urgent=True))
    await asyncio.sleep(0.05)
    assert not same_sender.done()  # after her greeting, not before it
    gate.set()
    assert await greeting == "anna:hej"
    assert await same_sender == "anna:attack on friday"
    assert done == ["bo:attack on friday", "anna:hej", "anna:attack on friday"]
    # Without the side lane the urgent item waits for the batch in flight (hurried, as above).
    gate.clear()
    done.clear()
    plain = Batcher("p", run, one, key=lambda item: item.split(":")[0])
    greeting = asyncio.create_task(plain.submit("anna:hej"))
    await asyncio.sleep(0)
    critical = asyncio.create_task(plain.submit("bo:attack on friday", urgent=True))
    await asyncio.sleep(0.05)
    assert done == [] and not critical.done()
    gate.set()
    await asyncio.gather(greeting, critical)


async def test_several_workers_store_batches_side_by_side_and_keep_each_senders_order() -> None:
    """On PostgreSQL a batch in flight waits for one round trip after another; a second batch runs
    beside it, but never with a later message of a sender whose earlier one is in flight."""
    done: list[str] = []
    gates: dict[str, asyncio.Event] = {}
    started: list[list[str]] = []

    async def run(items: Sequence[str]) -> list[str]:
        started.append(list(items))
        gate = gates.setdefault(items[0], asyncio.Event())
        await gate.wait()
        done.extend(items)
        return list(items)

    async def one(item: str) -> str:
        return (await run([item]))[0]

    with pytest.raises(ValueError):
        Batcher("k", run, one, workers=2)  # no key: nothing to keep a sender's order by
    batcher = Batcher("t", run, one, workers=2, key=lambda item: item.split(":")[0])
    first = asyncio.create_task(batcher.submit("anna:1"))
    await asyncio.sleep(0)  # in flight, waiting
    later = [asyncio.create_task(batcher.submit(i)) for i in ("anna:2", "bo:1", "cy:1", "anna:3")]
    await asyncio.sleep(0.05)
    assert started == [["anna:1"], ["bo:1", "cy:1"]]  # beside it, without anna's next ones
    gates["bo:1"] = gates.get("bo:1") or asyncio.Event()
    gates["bo:1"].set()
    await asyncio.sleep(0.05)
    assert done == ["bo:1", "cy:1"] and not first.done()
    assert started[2:] == []  # anna's next ones wait for her first: the idle worker ended
    gates["anna:1"].set()
    gates["anna:2"] = asyncio.Event()
    gates["anna:2"].set()
    assert await first == "anna:1"
    await asyncio.gather(*later)
    assert done == ["bo:1", "cy:1", "anna:1", "anna:2", "anna:3"]
    assert started[2] == ["anna:2", "anna:3"]
    await asyncio.sleep(0)
    assert not batcher._workers


async def test_items_submitted_one_after_another_are_each_stored() -> None:
    """A submit just after the last batch ended, before its worker's end was noticed, once found
    the worker counted and started none: the item waited for ever."""
    store = Store()
    for workers in (1, 2):
        batcher = Batcher("t", store.batch, store.one, workers=workers, key=str)
        for i in range(5):
            async with asyncio.timeout(1.0):  # in this task: no hop that would hide the race
                assert await batcher.submit(str(i)) == f"ok:{i}"
