"""Stopping a background task without swallowing the caller's own cancellation.

The usual idiom, ``task.cancel()`` then ``with suppress(CancelledError): await task``, has a trap:
``await task`` raises the task's CancelledError in the caller, and the suppress cannot tell it from
a cancellation of the caller itself arriving while it waits.  The caller, which was being stopped,
then runs on, and whoever stops it waits for ever (a CI run hung on this in the lease runner).
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any

log = logging.getLogger(__name__)

# How often a cancellation is repeated (long enough for a task to close a connection while it
# unwinds), and after how many repeats the task counts as stuck.
CANCEL_REPEAT = 1.0
STUCK_AFTER = 10


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and return once it has ended.

    The cancellation is repeated until the task has ended: on Python 3.11, ``asyncio.wait_for``
    returns the inner result instead of raising when the cancellation arrives as the awaited thing
    completes, so a loop around it runs on (the outbox relay's loop, woken by a commit during a
    stop, kept a CI run's teardown waiting for ever).  A task that refuses for ten seconds is
    logged with where it waits.

    The task's outcome stays with the task: its cancellation is not raised here, and an error it
    ended with is logged (its type only; a message may quote content).  A cancellation of the
    caller while it waits is raised as usual.
    """
    if task is None:
        return
    tries = 0
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_REPEAT)
        tries += 1
        if tries == STUCK_AFTER:
            where = io.StringIO()
            task.print_stack(file=where)
            log.error("task %r does not end when cancelled:\n%s", task.get_name(), where.getvalue())
    if not task.cancelled():
        error = task.exception()
        if error is not None:
            log.warning("task %r ended with %s", task.get_name(), type(error).__name__)
