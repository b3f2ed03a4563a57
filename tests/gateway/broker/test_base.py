"""The broker contract (gateway/broker/base.py), run against the in-process and the Redis broker."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.broker import Event
from tests.gateway.broker.conftest import MakeBroker, Recorder
from tests.harness import loop_gaps


async def test_subscriber_gets_the_published_event(make_broker: MakeBroker) -> None:
    broker = await make_broker()
    got = Recorder()
    await broker.subscribe("ingress", "pipeline", got)

    event_id = await broker.publish("ingress", {"conversation": "c1", "n": 1, "tags": ["a", "ö"]})

    await got.wait_count(1)
    [event] = got.events
    assert event.id == event_id
    assert event.topic == "ingress"
    assert event.payload == {"conversation": "c1", "n": 1, "tags": ["a", "ö"]}
    assert event.at.tzinfo is not None


async def test_topics_are_separate(make_broker: MakeBroker) -> None:
    broker = await make_broker()
    got = Recorder()
    await broker.subscribe("queue", "console", got)
    await broker.publish("other", {"x": 1})
    wanted = await broker.publish("queue", {"x": 2})
    await got.wait_count(1)
    await asyncio.sleep(0.1)
    assert got.ids == [wanted]


async def test_every_group_gets_every_event(make_broker: MakeBroker) -> None:
    broker = await make_broker()
    pipeline, audit = Recorder("pipeline"), Recorder("audit")
    await broker.subscribe("ingress", "pipeline", pipeline)
    await broker.subscribe("ingress", "audit", audit)

    ids = [await broker.publish("ingress", {"n": n}) for n in range(5)]

    await pipeline.wait_count(5)
    await audit.wait_count(5)
    assert sorted(pipeline.ids) == sorted(ids)
    assert sorted(audit.ids) == sorted(ids)


async def test_consumers_of_one_group_share_the_events_each_handled_once(make_broker: MakeBroker) -> None:
    broker = await make_broker()
    first, second = Recorder("first", delay=0.08), Recorder("second", delay=0.08)
    await broker.subscribe("ingress", "pipeline", first, consumer="first")
    await broker.subscribe("ingress", "pipeline", second, consumer="second")

    ids = []
    for n in range(12):
        ids.append(await broker.publish("ingress", {"n": n}))
        await asyncio.sleep(0.02)

    await first.wait_for(lambda: len(first.events) + len(second.events) >= 12)
    await asyncio.sleep(0.3)
    handled = first.ids + second.ids
    assert sorted(handled) == sorted(ids), "every event handled exactly once by the group"
    assert first.ids and second.ids, "both consumers took a share"


async def test_failed_handler_gets_the_event_again_after_reclaim_idle(make_broker: MakeBroker) -> None:
    broker = await make_broker(reclaim_idle=0.4)
    flaky = Recorder(fail_first=1)
    await broker.subscribe("ingress", "pipeline", flaky)

    event_id = await broker.publish("ingress", {"n": 1})

    await flaky.wait_for(lambda: len(flaky.attempts) == 1)
    await asyncio.sleep(0.2)
    assert flaky.events == [], "not redelivered before reclaim_idle"
    await flaky.wait_count(1, timeout=5)
    assert flaky.attempts == [event_id, event_id]
    await asyncio.sleep(0.6)
    assert flaky.ids == [event_id], "acknowledged after success: not delivered again"


async def test_events_a_group_does_not_accept_are_acknowledged_without_its_handler(
    make_broker: MakeBroker,
) -> None:
    broker = await make_broker(reclaim_idle=0.3)
    consent = Recorder("consent")
    await broker.subscribe("ingress", "consent", consent, accepts=lambda e: e.payload["n"] % 3 == 0)

    ids = [await broker.publish("ingress", {"n": n}) for n in range(7)]

    await consent.wait_count(3)
    assert consent.ids == [ids[0], ids[3], ids[6]]
    # The refused ones were acknowledged, not left pending: nothing comes back after reclaim_idle.
    await asyncio.sleep(0.8)
    assert consent.attempts == [ids[0], ids[3], ids[6]]
    health = await broker.health()
    assert health.get("pending", 0) == 0


async def test_republished_event_id_is_handled_once_per_group(make_broker: MakeBroker) -> None:
    broker = await make_broker()
    pipeline, audit = Recorder("pipeline"), Recorder("audit")
    await broker.subscribe("ingress", "pipeline", pipeline)
    await broker.subscribe("ingress", "audit", audit)

    first = await broker.publish("ingress", {"n": 1}, event_id="message-42")
    await pipeline.wait_count(1)
    await audit.wait_count(1)
    again = await broker.publish("ingress", {"n": 1}, event_id="message-42")
    later = await broker.publish("ingress", {"n": 2})

    await pipeline.wait_count(2)
    await audit.wait_count(2)
    assert first == again == "message-42"
    assert pipeline.ids == ["message-42", later]
    assert audit.ids == ["message-42", later]


async def test_a_consumer_cancelled_mid_handler_leaves_the_event_to_another(make_broker: MakeBroker) -> None:
    broker = await make_broker(reclaim_idle=0.3)
    entered = asyncio.Event()
    finished: list[str] = []

    async def stuck(event: Event) -> None:
        entered.set()
        await asyncio.sleep(60)
        finished.append(event.id)

    doomed = await broker.subscribe("ingress", "pipeline", stuck, consumer="doomed")
    event_id = await broker.publish("ingress", {"n": 1})
    await asyncio.wait_for(entered.wait(), 5)

    survivor = Recorder("survivor")
    await broker.subscribe("ingress", "pipeline", survivor, consumer="survivor")
    await doomed.cancel()

    await survivor.wait_count(1)
    assert survivor.ids == [event_id]
    assert finished == []


async def test_fanout_reaches_every_listener_and_groups_still_get_the_event(make_broker: MakeBroker) -> None:
    broker = await make_broker()
    tab1, tab2, group = Recorder("tab1"), Recorder("tab2"), Recorder("group")
    await broker.fanout("queue", tab1)
    await broker.fanout("queue", tab2)
    await broker.subscribe("queue", "pipeline", group)

    ids = [await broker.publish("queue", {"n": n}) for n in range(3)]

    for listener in (tab1, tab2, group):
        await listener.wait_count(3)
    assert tab1.ids == ids
    assert tab2.ids == ids
    assert sorted(group.ids) == sorted(ids)


async def test_a_batch_published_at_once_arrives_in_order_with_its_ids(make_broker: MakeBroker) -> None:
    broker = await make_broker()
    tab, group, other = Recorder("tab"), Recorder("group"), Recorder("other")
    await broker.fanout("queue", tab)
    await broker.subscribe("queue", "pipeline", group)
    await broker.subscribe("notify", "egress", other)
    batch: list[tuple[str, dict[str, object], str | None]] = [
        ("queue", {"n": 0}, "e-0"),
        ("notify", {"n": 1}, "e-1"),
        ("queue", {"n": 2}, "e-2"),
    ]
    await broker.publish_many(batch)
    await broker.publish_many([])
    await tab.wait_count(2)
    await group.wait_count(2)
    await other.wait_count(1)
    assert tab.ids == ["e-0", "e-2"] and [e.payload["n"] for e in tab.events] == [0, 2]
    assert sorted(group.ids) == ["e-0", "e-2"] and other.ids == ["e-1"]
    # The same ids again (a relay that could not tell they were published): each group once.
    await broker.publish_many(batch)
    await asyncio.sleep(0.3)
    assert sorted(group.ids) == ["e-0", "e-2"] and other.ids == ["e-1"]


async def test_fanout_gets_only_what_is_published_after_it_began(make_broker: MakeBroker) -> None:
    broker = await make_broker()
    await broker.publish("queue", {"n": 0})
    tab = Recorder()
    await broker.fanout("queue", tab)
    wanted = await broker.publish("queue", {"n": 1})
    await tab.wait_count(1)
    await asyncio.sleep(0.1)
    assert tab.ids == [wanted]


async def test_fanout_listener_survives_its_handler_failing(make_broker: MakeBroker) -> None:
    broker = await make_broker()
    tab = Recorder(fail_first=1)
    await broker.fanout("queue", tab)
    await broker.publish("queue", {"n": 1})
    second = await broker.publish("queue", {"n": 2})
    await tab.wait_count(1)
    await asyncio.sleep(0.1)
    assert tab.ids == [second], "best effort: the failed event is not redelivered"


async def test_cancelled_subscription_gets_nothing_more(make_broker: MakeBroker) -> None:
    broker = await make_broker()
    old, new = Recorder("old"), Recorder("new")
    sub = await broker.subscribe("ingress", "pipeline", old)
    first = await broker.publish("ingress", {"n": 1})
    await old.wait_count(1)
    await sub.cancel()
    await broker.subscribe("ingress", "pipeline", new)
    second = await broker.publish("ingress", {"n": 2})
    await new.wait_count(1)
    assert old.ids == [first]
    assert new.ids == [second]


async def test_health_and_close(make_broker: MakeBroker) -> None:
    broker = await make_broker()
    health = await broker.health()
    assert health["state"] == "ok"
    assert health["kind"] in {"redis", "in-process"}
    got = Recorder()
    await broker.subscribe("ingress", "pipeline", got)
    await broker.fanout("ingress", got)
    await broker.close()
    assert (await broker.health())["state"] == "down"
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("broker ")]


async def test_payload_that_is_not_json_is_refused(make_broker: MakeBroker) -> None:
    broker = await make_broker()
    got = Recorder()
    await broker.subscribe("ingress", "pipeline", got)
    with pytest.raises(TypeError):
        await broker.publish("ingress", {"when": object()})
    wanted = await broker.publish("ingress", {"n": 1})
    await got.wait_count(1)
    assert got.ids == [wanted]


async def test_a_slow_handler_keeps_its_event_from_other_consumers(make_broker: MakeBroker) -> None:
    broker = await make_broker(reclaim_idle=0.3)
    slow, other = Recorder("slow", delay=1.2), Recorder("other")
    await broker.subscribe("ingress", "pipeline", slow, consumer="slow")
    event_id = await broker.publish("ingress", {"n": 1})
    await slow.wait_for(lambda: len(slow.attempts) == 1)
    await broker.subscribe("ingress", "pipeline", other, consumer="other")

    await slow.wait_count(1, timeout=5)
    await asyncio.sleep(0.5)
    assert slow.ids == [event_id]
    assert other.attempts == [], "still being handled: not reclaimed by another consumer"


async def test_a_fanout_backlog_lets_the_loop_run_between_stretches(make_broker: MakeBroker) -> None:
    """A listener whose handler never suspends (a hub whose sends are buffered) works through a
    burst of events in stretches of a few milliseconds, not in one: the process's sockets and
    timers run in between."""
    broker = await make_broker()
    handled: list[float] = []

    async def busy(event: Event) -> None:  # 1 ms of work per event, without suspending
        until = time.perf_counter() + 0.001
        while time.perf_counter() < until:
            pass
        handled.append(time.perf_counter())

    await broker.fanout("queue", busy)
    async with loop_gaps() as gaps:
        await asyncio.sleep(0.02)  # the loop turns before the burst comes
        await broker.publish_many([("queue", {"n": n}, None) for n in range(200)])
        async with asyncio.timeout(10):
            while len(handled) < 200:
                await asyncio.sleep(0.01)
    # 200 ms of handling in all: the loop turned between stretches of about 5 ms (one stretch of
    # 200 ms before; the aim for the loop's longest stall is 20 ms).
    assert max(gaps) < 0.02, max(gaps)
