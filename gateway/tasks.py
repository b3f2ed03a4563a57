"""Stopping a background task without swallowing the caller's own cancellation.

The usual idiom, ``task.cancel()`` then ``with suppress(CancelledError): await task``, has a trap:
``await task`` raises the task's CancelledError in the caller, and the suppress cannot tell it from
a cancellation of the caller itself arriving while it waits.  The caller, which was being stopped,
then runs on, and whoever stops it waits for ever (a CI run hung on this in the lease runner).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and return once it has ended.

    The task's outcome stays with the task: its cancellation is not raised here, and an error it
    ended with is logged (its type only; a message may quote content).  A cancellation of the
    caller while it waits is raised as usual.
    """
    if task is None:
        return
    if not task.done():
        task.cancel()
        await asyncio.wait({task})
    if not task.cancelled():
        error = task.exception()
        if error is not None:
            log.warning("task %r ended with %s", task.get_name(), type(error).__name__)
