"""A console's live socket as the hub (:mod:`handoff.console.live`) knows it, and sending to it
(a console that does not read is dropped, not waited for)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from gateway.sockets import close_all

from .live_queue import QueueView
from .security import SUPERVISOR_ROLES

log = logging.getLogger(__name__)

SEND_TIMEOUT = 5.0  # a console that has not taken a frame by then does not read: it is disconnected
SEND_BUFFER = 128 * 1024
"""The kernel's send buffer of a console socket (set when it opens): without it the kernel grows it up
to tcp_wmem's maximum (4 MiB), and a console that does not read was noticed only once that was full."""
MAX_BACKLOG = 256 * 1024
"""Bytes waiting in a console socket's write buffer above which it does not read: disconnected at once."""


def bound_send_buffer(transport: asyncio.BaseTransport | None) -> None:
    """Cap the kernel's send buffer of a console socket (see SEND_BUFFER)."""
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)


@dataclass(eq=False)
class Client:
    ws: web.WebSocketResponse
    user_id: int
    role: str
    capacity: int
    token_hash: str
    mine: set[str] = field(default_factory=set)
    transport: asyncio.Transport | None = None
    alerted: set[str] = field(default_factory=set)
    """Waiting critical conversations this console was alerted to (each at most once)."""
    status: str = "available"
    """The member's status (handoff.shift.presence): only available members are offered conversations."""
    known: set[str] | None = None
    """The waiting conversations of the last snapshot (None before the first): a new one is offered."""
    banner: bool = False
    """The console shows the critical alert of a waiting conversation (cleared when none waits)."""
    languages: frozenset[str] = frozenset()
    """The languages the member speaks with a person (hr and sr as bs): offered those first."""
    view: QueueView = field(default_factory=QueueView)
    """The queue as this socket was told it (snapshot, then deltas)."""
    frames: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held while a queue frame for this socket is made and sent: they go out in order."""

    @property
    def attending(self) -> bool:
        """Offered conversations: available, or a supervisor or admin (who oversee whatever their status)."""
        return self.status == "available" or self.role in SUPERVISOR_ROLES


class Consoles:
    """The console sockets of this process, and sending to them."""

    def __init__(self) -> None:
        self.clients: set[Client] = set()

    async def going_away(self) -> int:
        """The process is stopping: close every console socket at once with 1001 (the console
        reconnects, to another process).  Returns how many were open."""
        clients, self.clients = list(self.clients), set()
        return await close_all([c.ws for c in clients])

    def remove(self, client: Client) -> None:
        self.clients.discard(client)

    async def close_session(self, token_hash: str) -> None:
        """Close the sockets of a session that ended (logout)."""
        for client in [c for c in self.clients if c.token_hash == token_hash]:
            self.clients.discard(client)
            with contextlib.suppress(Exception):
                await client.ws.close(code=4401, message=b"signed out")

    async def _send(self, client: Client, data: dict[str, Any] | str) -> None:
        """Send a frame (a dict, or its JSON text already encoded)."""
        if client.ws.closed:
            self.clients.discard(client)
            return
        if client.transport is not None and client.transport.get_write_buffer_size() > MAX_BACKLOG:
            self._drop(client)
            return
        try:
            text = data if isinstance(data, str) else orjson.dumps(data).decode()
            # asyncio.timeout, not wait_for: wait_for ran every send as a task of its own, so each
            # frame waited for a turn of the loop, and under load a feed of a few hundred events a
            # second fell seconds behind.  A send that has room in the buffer completes at once.
            async with asyncio.timeout(SEND_TIMEOUT):
                await client.ws.send_str(text)
        except TimeoutError:
            self._drop(client)
        except (ConnectionError, RuntimeError) as exc:
            log.info("dropping a console socket (%s)", type(exc).__name__)
            self.clients.discard(client)

    def _drop(self, client: Client) -> None:
        """Its buffers are full: holding on would stall the updates of the others and keep growing
        memory.  The console reconnects and reloads its state."""
        log.info("dropping a console socket that does not read")
        self.clients.discard(client)
        if client.transport is not None:
            client.transport.abort()
