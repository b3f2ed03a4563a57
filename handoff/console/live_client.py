"""A console's live socket as the hub (:mod:`handoff.console.live`) knows it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass, field

from aiohttp import web

from .live_queue import QueueView
from .security import SUPERVISOR_ROLES

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
