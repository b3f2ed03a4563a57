"""What one console socket's requests wait for: allowances, and each conversation's typing signals.

A conversation's typing signals are told in the order sent, each after the one before.  A reply
does not wait for the signals sent before it that are not told yet: they are moot once the answer
is out (the person's page, and an XMPP client, stop showing "typing" when the counsellor's message
comes), so they are dropped.  It waits only for a signal that is being told as it comes, so that
no "typing" reaches the person after the answer (it would show for 15 s).

The first signal after a claim may have to read its conversation from the store (the feed has not
seen the claim's event yet), which under load took 1.3 s at the median in ``bench.deployed``; every
first reply after a claim waited as long before the signal was dropped, instead of after.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from gateway.web_errors import unavailable

log = logging.getLogger(__name__)
T = TypeVar("T")


class Allowance:
    """A token bucket: ``burst`` requests at once, then ``rate`` per second."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.at = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def take(self) -> bool:
        self._refill()
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def reserve(self) -> float:
        """Take a request's token, now or in the future: the seconds until it is there."""
        self._refill()
        self.tokens -= 1.0
        return max(0.0, -self.tokens / self.rate)

    def wait(self) -> float:
        """Seconds until :meth:`take` will succeed."""
        self._refill()
        return max(0.0, (1.0 - self.tokens) / self.rate)


@dataclass
class _Lane:
    """One conversation's typing signals in flight, numbered from 1 in the order sent."""

    sent: int = 0
    moot: int = 0
    """Signals up to this number are not told: a reply went after them."""
    last: asyncio.Task[None] | None = None
    """The latest signal: the next one waits for it."""
    telling: asyncio.Task[None] | None = None
    """The signal being told now: a reply waits for it."""


class Lanes:
    """Each conversation's typing signals on one socket, and what a reply to it waits for."""

    def __init__(self) -> None:
        self._lanes: dict[str, _Lane] = {}

    def signal(
        self,
        conversation_id: str,
        resolve: Callable[[], Awaitable[T]],
        tell: Callable[[T], Awaitable[None]],
        tasks: set[asyncio.Task[None]],
    ) -> None:
        """A typing signal: ``resolve()`` (what the signal needs, perhaps read from the store)
        once the one before it has been told, then ``tell(resolved)`` unless a reply made it moot."""
        lane = self._lanes.setdefault(conversation_id, _Lane())
        lane.sent += 1
        number, before = lane.sent, lane.last

        async def run() -> None:
            if before is not None:
                await asyncio.wait([before])
            if number <= lane.moot:
                return  # nothing read for a signal already moot
            resolved = await resolve()
            if number <= lane.moot:
                return
            lane.telling = task
            await tell(resolved)

        task = spawn(None, run, tasks)
        lane.last = task
        task.add_done_callback(lambda done: self._done(conversation_id, lane, done))

    def before_reply(self, conversation_id: object) -> asyncio.Task[None] | None:
        """A reply to the conversation is coming: the signals sent before it that are not being
        told are moot; the one being told (if any) is what the reply waits for."""
        lane = self._lanes.get(conversation_id) if isinstance(conversation_id, str) else None
        if lane is None:
            return None
        lane.moot = lane.sent
        telling = lane.telling
        return telling if telling is not None and not telling.done() else None

    def _done(self, conversation_id: str, lane: _Lane, task: asyncio.Task[None]) -> None:
        if lane.last is task and self._lanes.get(conversation_id) is lane:
            del self._lanes[conversation_id]


def spawn(
    before: asyncio.Task[None] | None,
    work: Callable[[], Coroutine[Any, Any, None]],
    tasks: set[asyncio.Task[None]],
) -> asyncio.Task[None]:
    """Run ``work()`` in a task of ``tasks`` once ``before`` (if any) has ended, whatever its outcome."""
    task = asyncio.create_task(_after(before, work), name="console live request")
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return task


async def _after(before: asyncio.Task[None] | None, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """``work()`` once ``before`` has ended (only its place in line counts).  Made only then: a task
    cancelled before it starts leaves no coroutine that was never awaited."""
    if before is not None:
        await asyncio.wait([before])
    try:
        await work()
    except Exception as exc:  # nobody awaits this task: say what failed here (a reply answers its own)
        expected = unavailable(exc)  # the store or the broker away: no traceback for the expected
        log.log(
            logging.WARNING if expected else logging.ERROR,
            "console live request failed (%s)",
            type(exc).__name__,
            exc_info=not expected,
        )
