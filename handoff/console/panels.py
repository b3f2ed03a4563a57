"""What the console's answers bring beside their own: the parts other features add.

* **The transcript** (``at=TRANSCRIPT``).  The console opens a panel at each claim: the transcript,
  then the referrals, the crime information and the person's earlier contacts, each its own request
  under its own guard.  Under load that was four requests and four guard reads per claim, the claim
  wave the counsellors' first answers waited behind (issue #18).  ``GET`` of the transcript, whose
  guard admits exactly those who may read the parts (the counsellor holding the conversation,
  supervisors, admins), answers them under ``panels``.
* **The close** (``at=CLOSED``).  After a close the page opened the documentation form and read the
  pending list again: two more requests per conversation.  The close answers the form under
  ``parts``; whoever may close a conversation (its holder, a supervisor, an admin) may document it.

The page draws from the parts and asks each part's own route only to read it again.  The parts
read in the answer's own transaction (:class:`Opened`): the transcript with its parts was five
transactions, each a pooled connection's checkout, a BEGIN and an end (issue #18).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.store.models import Conversation
from handoff.console.security import Staff


@dataclass(frozen=True)
class Opened:
    """The answer's transaction and the conversation it read: the parts read (and audit) in it."""

    session: AsyncSession
    conversation: Conversation


PanelPart = Callable[[web.Request, Staff, Opened], Awaitable[Any]]
"""(request, staff, the answer's transaction) -> the part's answer, as its own route answers it."""

Occasion = Literal["transcript", "closed"]
TRANSCRIPT: Occasion = "transcript"
CLOSED: Occasion = "closed"

PANEL_PARTS = web.AppKey("panel_parts", dict[str, dict[str, PanelPart]])
"""occasion -> part name -> part."""


class JsonText(str):
    """A part's answer already made into JSON (a large piece made once, as the form's fields)."""


def add_part(app: web.Application, name: str, part: PanelPart, *, at: Occasion = TRANSCRIPT) -> None:
    """Register ``part`` under ``name`` for answers of ``at`` (at setup, before the start)."""
    if PANEL_PARTS not in app:
        app[PANEL_PARTS] = {}
    app[PANEL_PARTS].setdefault(at, {})[name] = part


async def read_parts(
    request: web.Request, staff: Staff, opened: Opened, *, at: Occasion = TRANSCRIPT
) -> dict[str, Any]:
    """Every registered part of ``at`` for the opened conversation, one after the other in its
    transaction (a session runs one statement at a time)."""
    parts = request.app.get(PANEL_PARTS, {}).get(at, {})
    return {name: await part(request, staff, opened) for name, part in parts.items()}


def parts_json(parts: Mapping[str, Any]) -> str:
    """``parts`` as a JSON object; a :class:`JsonText` part goes in as it is."""
    return (
        "{"
        + ", ".join(
            f"{json.dumps(name)}: {value if isinstance(value, JsonText) else json.dumps(value)}"
            for name, value in parts.items()
        )
        + "}"
    )
