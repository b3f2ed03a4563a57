"""Closing websockets at once, with a close code, without waiting on a client that does not answer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from aiohttp import web

GOING_AWAY = 1001
CLOSE_WAIT_SECONDS = 2.0


async def close_all(
    sockets: Iterable[web.WebSocketResponse],
    code: int = GOING_AWAY,
    message: bytes = b"going away",
    wait: float = CLOSE_WAIT_SECONDS,
) -> int:
    """Send every open socket a close frame with ``code`` (all at once); a peer that has not
    answered within ``wait`` seconds has its connection dropped.  Returns how many were open."""
    open_ = [ws for ws in sockets if not ws.closed]
    if not open_:
        return 0
    tasks = [asyncio.create_task(ws.close(code=code, message=message)) for ws in open_]
    _, late = await asyncio.wait(tasks, timeout=wait)
    for task in late:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    return len(open_)
