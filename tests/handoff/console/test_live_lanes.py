"""A conversation's typing signals on one console socket: told in the order sent; a reply waits only
for the one being told, and drops those not yet told (the person's page clears "typing" on a reply)."""

from __future__ import annotations

import asyncio

from handoff.console.live_lanes import Lanes


class Signals:
    """Typing signals whose reads and telling the test lets go one by one."""

    def __init__(self) -> None:
        self.lanes = Lanes()
        self.tasks: set[asyncio.Task[None]] = set()
        self.told: list[str] = []
        self.reads: list[str] = []
        self.read_done: dict[str, asyncio.Event] = {}
        self.tell_done: dict[str, asyncio.Event] = {}

    def send(self, conv: str, name: str) -> None:
        self.read_done[name], self.tell_done[name] = asyncio.Event(), asyncio.Event()

        async def resolve() -> str:
            self.reads.append(name)
            await self.read_done[name].wait()
            return name

        async def tell(resolved: str) -> None:
            await self.tell_done[resolved].wait()
            self.told.append(resolved)

        self.lanes.signal(conv, resolve, tell, self.tasks)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_signals_are_told_in_the_order_sent_each_after_the_one_before() -> None:
    s = Signals()
    s.send("c", "on")
    s.send("c", "off")
    await settle()
    assert s.reads == ["on"]  # the second is not read before the first is told
    s.read_done["off"].set()
    s.tell_done["off"].set()
    await settle()
    assert s.told == []
    s.read_done["on"].set()
    s.tell_done["on"].set()
    await asyncio.gather(*s.tasks)
    assert s.told == ["on", "off"]


async def test_a_reply_does_not_wait_for_a_signal_still_reading_and_that_signal_is_never_told() -> None:
    s = Signals()
    s.send("c", "on")
    s.send("c", "off")
    await settle()
    assert s.lanes.before_reply("c") is None  # nothing being told: the reply goes at once
    s.read_done["on"].set()
    s.tell_done["on"].set()
    s.tell_done["off"].set()
    await asyncio.gather(*s.tasks)
    assert s.told == []
    assert s.reads == ["on"]  # the later signal, already moot, read nothing


async def test_a_reply_waits_for_the_signal_being_told_and_drops_the_one_after_it() -> None:
    s = Signals()
    s.send("c", "on")
    s.read_done["on"].set()
    await settle()
    s.send("c", "off")
    before = s.lanes.before_reply("c")
    assert before is not None and not before.done()
    s.tell_done["on"].set()
    await asyncio.wait([before])
    assert s.told == ["on"]  # told before the reply goes
    s.read_done["off"].set()
    s.tell_done["off"].set()
    await asyncio.gather(*s.tasks)
    assert s.told == ["on"]


async def test_other_conversations_and_later_signals_are_not_dropped_by_a_reply() -> None:
    s = Signals()
    s.send("a", "a1")
    s.send("b", "b1")
    await settle()
    assert s.lanes.before_reply("a") is None
    s.send("a", "a2")  # typed again after the answer
    for name in ("a1", "a2", "b1"):
        s.read_done[name].set()
        s.tell_done[name].set()
    await asyncio.gather(*s.tasks)
    assert sorted(s.told) == ["a2", "b1"]
