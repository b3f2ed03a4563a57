"""The in-process broker of the embedded default: what only it shows (bounds, copies, lifecycle).

The broker contract itself is tested for both brokers in test_base.py.
"""

from __future__ import annotations

import asyncio

import pytest

from gateway.broker import Event, make_broker
from gateway.broker.inprocess import InProcessBroker
from gateway.errors import BrokerUnavailable
from tests.gateway.broker.conftest import Recorder


async def test_make_broker_without_redis_is_in_process() -> None:
    broker = make_broker(None, reclaim_idle=1.0)
    assert isinstance(broker, InProcessBroker)
    await broker.start()
    health = await broker.health()
    assert health["state"] == "ok"
    assert health["kind"] == "in-process"
    await broker.close()


async def test_each_handler_gets_its_own_copy_of_the_payload() -> None:
    broker = InProcessBroker()
    seen: list[dict[str, object]] = []

    async def meddler(event: Event) -> None:
        event.payload["tags"].append("meddled")
        seen.append(event.payload)

    calm = Recorder()
    await broker.subscribe("ingress", "a", meddler)
    await broker.subscribe("ingress", "b", calm)
    payload = {"tags": ["x"]}
    await broker.publish("ingress", payload)
    await calm.wait_count(1)
    await asyncio.sleep(0.05)
    assert seen == [{"tags": ["x", "meddled"]}]
    assert calm.events[0].payload == {"tags": ["x"]}
    assert payload == {"tags": ["x"]}, "the publisher's dict is untouched"
    await broker.close()


async def test_idempotency_ledger_is_bounded() -> None:
    broker = InProcessBroker(ledger_size=3)
    got = Recorder()
    await broker.subscribe("ingress", "pipeline", got)
    for n in range(5):
        await broker.publish("ingress", {"n": n}, event_id=f"e{n}")
    await got.wait_count(5)

    await broker.publish("ingress", {"n": 4}, event_id="e4")  # remembered: skipped
    await broker.publish("ingress", {"n": 0}, event_id="e0")  # forgotten: handled again
    await got.wait_count(6)
    await asyncio.sleep(0.05)
    assert got.ids == ["e0", "e1", "e2", "e3", "e4", "e0"]
    await broker.close()


async def test_backlog_of_a_group_without_consumers_is_bounded_and_kept_for_the_next() -> None:
    broker = InProcessBroker(maxlen=3)
    first = Recorder()
    sub = await broker.subscribe("ingress", "pipeline", first)
    await sub.cancel()
    ids = [await broker.publish("ingress", {"n": n}) for n in range(5)]

    later = Recorder()
    await broker.subscribe("ingress", "pipeline", later)
    await later.wait_count(3)
    await asyncio.sleep(0.05)
    assert later.ids == ids[2:], "the oldest were dropped, the newest kept for the group"
    assert first.ids == []
    await broker.close()


async def test_slow_fanout_listener_drops_instead_of_growing() -> None:
    broker = InProcessBroker(fanout_queue=2)
    release = asyncio.Event()
    got: list[int] = []

    async def slow(event: Event) -> None:
        await release.wait()
        got.append(event.payload["n"])

    await broker.fanout("queue", slow)
    for n in range(6):
        await broker.publish("queue", {"n": n})
        await asyncio.sleep(0)
    release.set()
    await asyncio.sleep(0.05)
    assert len(got) <= 3
    assert got[0] == 0
    await broker.close()


async def test_a_handler_that_keeps_failing_does_not_block_the_next_events() -> None:
    broker = InProcessBroker(reclaim_idle=5.0)
    handled: list[int] = []

    async def handler(event: Event) -> None:
        if event.payload["n"] == 0:
            raise RuntimeError("poison")
        handled.append(event.payload["n"])

    await broker.subscribe("ingress", "pipeline", handler)
    for n in range(3):
        await broker.publish("ingress", {"n": n})
    await asyncio.sleep(0.1)
    assert handled == [1, 2]
    assert (await broker.health())["pending"] == 1
    await broker.close()


async def test_closed_broker_refuses_work_and_leaves_no_tasks() -> None:
    broker = InProcessBroker()
    await broker.subscribe("ingress", "pipeline", Recorder())
    await broker.fanout("ingress", Recorder())
    await broker.close()
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("broker ")]
    with pytest.raises(BrokerUnavailable):
        await broker.publish("ingress", {"n": 1})
    with pytest.raises(BrokerUnavailable):
        await broker.subscribe("ingress", "pipeline", Recorder())
