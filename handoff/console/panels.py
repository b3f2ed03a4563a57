"""What a conversation's panel shows beside its transcript, read with the transcript.

The console opens a panel at each claim: the transcript, then the referrals, the crime information
and the person's earlier contacts, each its own request under its own guard.  Under load that was
four requests and four guard reads per claim, the claim wave the counsellors' first answers waited
behind (issue #18).  A feature that adds to the panel registers a part here; ``GET`` of the
transcript, whose guard admits exactly those who may read the parts (the counsellor holding the
conversation, supervisors, admins), answers them under ``panels``.  The page uses them for the
panel's first drawing and asks each part's own route only to read it again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from handoff.console.security import Staff

PanelPart = Callable[[web.Request, Staff, str], Awaitable[Any]]
"""(request, staff, conversation id) -> the part's answer, as its own route answers it."""

PANEL_PARTS = web.AppKey("panel_parts", dict[str, PanelPart])


def add_part(app: web.Application, name: str, part: PanelPart) -> None:
    """Register ``part`` under ``name`` (at setup, before the application starts)."""
    if PANEL_PARTS not in app:
        app[PANEL_PARTS] = {}
    app[PANEL_PARTS][name] = part


async def read_parts(request: web.Request, staff: Staff, conversation_id: str) -> dict[str, Any]:
    """Every registered part of this conversation's panel, one after the other (each is a read or
    two; at once they would only take more of the pool's connections)."""
    return {
        name: await part(request, staff, conversation_id)
        for name, part in request.app.get(PANEL_PARTS, {}).items()
    }
