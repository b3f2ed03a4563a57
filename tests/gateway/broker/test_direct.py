"""Events published directly (typing, receipts) go out together: at most one publish in flight,
each caller waiting for its own event and told when the broker failed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from gateway.broker.base import DirectEvents, Event
from gateway.broker.inprocess import InProcessBroker
from gateway.errors import BrokerUnavailable
from tests.gateway.broker.conftest import MakeBroker


class CountingBroker(InProcessBroker):
    """The in-process broker, counting its sends (one per round trip on Redis)."""

    def __init__(self) -> None:
        super().__init__()
        self.sends: list[int] = []

    async def publish_many(self, events: Sequence[tuple[str, dict[str, Any], str | None]]) -> None:
        self.sends.append(len(events))
        await asyncio.sleep(0.01)  # a round trip
        await super().publish_many(events)


async def test_signals_that_come_together_go_out_in_one_send_in_their_order() -> None:
    broker = CountingBroker()
    await broker.start()
    got: list[int] = []

    async def on_event(event: Event) -> None:
        got.append(int(event.payload["n"]))

    await broker.fanout("conversation", on_event)
    direct = DirectEvents(broker)
    try:
        await direct.publish("conversation", {"n": 0})  # alone: out at once
        await asyncio.gather(*(direct.publish("conversation", {"n": n}) for n in range(1, 31)))
        for _ in range(100):
            if len(got) == 31:
                break
            await asyncio.sleep(0.01)
        assert got == list(range(31))
        assert broker.sends[0] == 1 and len(broker.sends) <= 3, broker.sends
    finally:
        await broker.close()


async def test_every_caller_of_a_failed_send_is_told(make_broker: MakeBroker) -> None:
    broker = await make_broker()
    direct = DirectEvents(broker)
    await broker.close()
    results = await asyncio.gather(
        *(direct.publish("conversation", {"n": n}) for n in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, BrokerUnavailable) for r in results), results
    with pytest.raises(BrokerUnavailable):
        await direct.publish("conversation", {"n": 5})
