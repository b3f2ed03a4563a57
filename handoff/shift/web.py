"""The shift's routes and its periodic task.

* ``GET /console/api/status``: the caller's status; ``POST /console/api/status`` ``{"status": ...}``
  changes it (audited);
* ``POST /console/api/queue/next``: "Nästa samtal", the most urgent waiting conversation
  (:func:`gateway.queue.claim_next`), in every queue mode, only while the caller is available
  (409 ``not_available`` on a break or away); within a priority in a language the caller speaks
  first (:mod:`.languages`);
* the language notice to a person whose language nobody on duty speaks (:mod:`.languages`);
* every ``console.wait_check_seconds`` each process reminds of conversations waiting past their
  target (:mod:`.reminders`, once per fleet) and sets away the members inactive for
  ``console.away_after_minutes`` (:mod:`.presence`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Literal

from aiohttp import web

from gateway import catalogues
from gateway.appkeys import BROKER, CONSUMER, DB, PIPELINE
from gateway.broker.base import FEW_EVENTS_LINGER
from gateway.envelope import utcnow
from gateway.events import TOPIC_CONVERSATION
from gateway.outbox import Outbox, outbox_for
from gateway.tasks import cancel_and_wait
from handoff.console.security import Staff
from handoff.web import CONSOLE_ROLES, Answer, Body, Route
from handoff.web.guard import add_routes
from handoff.web.validation import body

from . import languages, presence
from .options import AVAILABLE, ShiftOptions, shift_options
from .reminders import run_wait_reminders

log = logging.getLogger(__name__)

StatusName = Literal["available", "break", "away"]


class StatusBody(Body):
    """The staff member's new status."""

    status: StatusName


class StatusAnswer(Answer):
    """The caller's status; ``auto`` when the gateway set it (away after inactivity or at logout)."""

    status: str
    auto: bool


class NextAnswer(Answer):
    """The conversation taken, now the caller's."""

    ok: bool
    conversation_id: str


def _outbox(app: web.Application) -> Outbox:
    return outbox_for(app[DB], app[BROKER])


async def api_status(request: web.Request, staff: Staff) -> web.StreamResponse:
    async with request.app[DB].session() as session:
        status, auto = await presence.status_of(session, staff.user.id)
    return web.json_response({"status": status, "auto": auto})


async def api_set_status(request: web.Request, staff: Staff) -> web.StreamResponse:
    wanted = body(request, StatusBody).status
    status, auto = await presence.set_status(request.app[DB], _outbox(request.app), staff.user, wanted)
    return web.json_response({"status": status, "auto": auto})


async def api_next(request: web.Request, staff: Staff) -> web.StreamResponse:
    """ "Nästa samtal" asks to be offered the next conversation, so only an available member may
    press it (counsellors and supervisors alike): on a break or away, 409 ``not_available``.  The
    press is activity, so an automatic away ends with it first.  A supervisor can still take a
    chosen conversation from the queue whatever their status (stepping in on a critical one)."""
    status, _auto = await presence.activity(request.app[DB], _outbox(request.app), staff.user)
    if status != AVAILABLE:
        return web.json_response(
            {
                "error": "not_available",
                "message": catalogues.text("console", staff.lang, "error_not_available"),
            },
            status=409,
        )
    async with request.app[DB].session() as session:
        prefer, leave = await languages.next_order(session, staff.user)
    conversation_id = await request.app[PIPELINE].staff.claim_next(staff.user, prefer, leave)
    return web.json_response({"ok": True, "conversation_id": conversation_id})


ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/console/api/status",
        api_status,
        CONSOLE_ROLES,
        answers={200: StatusAnswer},
        summary="My status",
        tag="shift",
    ),
    Route(
        "POST",
        "/console/api/status",
        api_set_status,
        CONSOLE_ROLES,
        body=StatusBody,
        answers={200: StatusAnswer},
        summary="Change my status (available, break, away)",
        tag="shift",
    ),
    Route(
        "POST",
        "/console/api/queue/next",
        api_next,
        CONSOLE_ROLES,
        answers={200: NextAnswer},
        summary="Take the next conversation (the most urgent waiting one)",
        tag="shift",
    ),
)


async def shift_round(app: web.Application, options: ShiftOptions) -> None:
    """One check: reminders of waiting conversations, then the automatic away."""
    now = utcnow()
    outbox = _outbox(app)
    await run_wait_reminders(app[DB], outbox, options, now)
    if options.away_after is not None:
        await presence.sweep_inactive(app[DB], outbox, options.away_after, now)


async def _every(app: web.Application, options: ShiftOptions) -> None:
    while True:
        await asyncio.sleep(options.check_seconds)
        try:
            await shift_round(app, options)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next round tries again
            log.warning("shift check failed (%s)", type(exc).__name__)


def setup(app: web.Application) -> None:
    """Add the routes and the periodic check of the queue and of inactivity."""
    add_routes(app, ROUTES)

    async def shift_ctx(app: web.Application) -> AsyncIterator[None]:
        options = shift_options(app)
        task = asyncio.create_task(_every(app, options), name="shift check")
        sub = await app[BROKER].subscribe(
            TOPIC_CONVERSATION,
            languages.NOTICE_GROUP,
            languages.notice_listener(app[DB], lambda: app[PIPELINE].outgoing, options.language_hours),
            consumer=app[CONSUMER],
            accepts=languages.needs_notice,
            linger=FEW_EVENTS_LINGER,
        )
        yield
        await sub.cancel()
        await cancel_and_wait(task)

    app.cleanup_ctx.append(shift_ctx)


__all__ = ["ROUTES", "NextAnswer", "StatusAnswer", "StatusBody", "setup", "shift_round"]
