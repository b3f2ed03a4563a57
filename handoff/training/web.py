"""Pages and routes of training (:data:`ROUTES`), and the purge of old training sessions.

A session's routes check themselves who may act (the trainee whose session it is; supervisors and
admins to watch, hint, approve and give feedback): training sessions are not conversations, so the
web kit's ``acts_on`` (which reads ``conversations``) is not used.  Nothing here writes the audit log
of real conversations, the outbox or the broker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

from aiohttp import web

from gateway.appkeys import DB, SETTINGS, TRIAGER
from gateway.envelope import utcnow
from gateway.errors import NotFound
from gateway.store import repo
from gateway.tasks import cancel_and_wait
from handoff.console.security import Staff
from handoff.console.views import render
from handoff.web import SUPERVISOR_ROLES, Route
from handoff.web.errors import problem
from handoff.web.guard import add_routes
from handoff.web.roles import TRAINING_ROLES
from handoff.web.validation import body

from . import admin_web, console_web, service, views
from .console_web import pace
from .models import TrainingSession
from .scenarios import load
from .schemas import (
    TrainingDecisionBody,
    TrainingOverviewAnswer,
    TrainingProgressAnswer,
    TrainingQueueAnswer,
    TrainingSessionAnswer,
    TrainingStartAnswer,
    TrainingStartBody,
    TrainingTextBody,
)

log = logging.getLogger(__name__)

API = "/console/api/training"
SESSION = API + "/sessions/{training_id:[0-9a-f]{32}}"


async def _session(request: web.Request, db_session: Any, staff: Staff) -> TrainingSession:
    """The path's training session, if the caller may see it (else 404: no probing of ids).  Locked:
    a read may add the person's follow-up, and two readers (trainee, supervisor) must not both."""
    ts = await service.get(db_session, request.match_info["training_id"], for_update=True)
    if not service.may_see(ts, staff.user):
        raise NotFound("training session not found")
    return ts


async def _answer(
    request: web.Request, db_session: Any, ts: TrainingSession, staff: Staff, status: int = 200
) -> web.Response:
    await db_session.flush()
    found = await views.view(db_session, ts, staff.lang, supervisor=staff.user.role in SUPERVISOR_ROLES)
    return web.json_response(found, status=status)


# ------------------------------------------------------------------------------------- pages
async def training_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    return render(request, "training.html", staff.lang, staff=staff, user=staff.user)


async def progress_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    return render(request, "training_progress.html", staff.lang, staff=staff, user=staff.user)


async def supervise_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    return render(request, "training_supervise.html", staff.lang, staff=staff, user=staff.user)


# ------------------------------------------------------------------------------------- the trainee
async def api_start(request: web.Request, staff: Staff) -> web.StreamResponse:
    wanted = body(request, TrainingStartBody).scenario_id
    async with request.app[DB].session() as session:
        scenario = await load(session, wanted)
        if scenario is None:
            raise NotFound("unknown_scenario")
        ts = await service.start(session, scenario, staff.user, request.app[TRIAGER], pace(request.app))
        answer = {"id": ts.id, "state": ts.state}
    return web.json_response(answer, status=201)


async def api_queue(request: web.Request, staff: Staff) -> web.StreamResponse:
    async with request.app[DB].session() as session:
        found = await service.queue(session, staff.user)
    return web.json_response({"sessions": found})


async def api_session(request: web.Request, staff: Staff) -> web.StreamResponse:
    async with request.app[DB].session() as session:
        ts = await _session(request, session, staff)
        await service.tick(session, ts, request.app[TRIAGER], pace(request.app))
        return await _answer(request, session, ts, staff)


async def api_progress(request: web.Request, staff: Staff) -> web.StreamResponse:
    """The caller's progress; a supervisor or admin may ask for someone's (``?user=NAME``), e.g.
    before making a trainee a counsellor."""
    name = request.query.get("user")
    async with request.app[DB].session() as session:
        user = staff.user
        if name and name != staff.user.username:
            if staff.user.role not in SUPERVISOR_ROLES:
                return problem(403, "forbidden")
            found_user = await repo.user_by_name(session, name)
            if found_user is None:
                return problem(404, "not_found")
            user = found_user
        found = await views.progress(session, user, staff.lang)
    return web.json_response({**found, "user": user.username})


# ------------------------------------------------------------------------------------- supervisors
async def api_overview(request: web.Request, staff: Staff) -> web.StreamResponse:
    async with request.app[DB].session() as session:
        found = await views.overview(session, staff.lang, since=utcnow() - timedelta(days=1))
    return web.json_response({"sessions": found})


async def api_hint(request: web.Request, staff: Staff) -> web.StreamResponse:
    text = body(request, TrainingTextBody).text
    async with request.app[DB].session() as session:
        ts = await _session(request, session, staff)
        await service.hint(session, ts, staff.user, text)
        return await _answer(request, session, ts, staff, 201)


async def api_decision(request: web.Request, staff: Staff) -> web.StreamResponse:
    approve = body(request, TrainingDecisionBody).approve
    async with request.app[DB].session() as session:
        ts = await _session(request, session, staff)
        await service.decide_disclosure(session, ts, staff.user, approve)
        return await _answer(request, session, ts, staff)


async def api_feedback(request: web.Request, staff: Staff) -> web.StreamResponse:
    text = body(request, TrainingTextBody).text
    async with request.app[DB].session() as session:
        ts = await _session(request, session, staff)
        await service.give_feedback(session, ts, staff.user, text)
        return await _answer(request, session, ts, staff)


def _api(method: str, path: str, handler: Any, roles: frozenset[str], **kw: Any) -> Route:
    return Route(method, path, handler, roles, tag="training", **kw)


ROUTES: tuple[Route, ...] = (
    Route("GET", "/console/training", training_page, TRAINING_ROLES, "page", summary="Training"),
    Route("GET", "/console/training/progress", progress_page, TRAINING_ROLES, "page", summary="My training"),
    Route(
        "GET", "/console/training/supervise", supervise_page, SUPERVISOR_ROLES, "page", summary="Training now"
    ),
    _api(
        "POST",
        API + "/sessions",
        api_start,
        TRAINING_ROLES,
        body=TrainingStartBody,
        answers={201: TrainingStartAnswer},
        summary="Start a training session of a scenario",
    ),
    _api(
        "GET",
        API + "/queue",
        api_queue,
        TRAINING_ROLES,
        answers={200: TrainingQueueAnswer},
        summary="My training queue",
    ),
    _api(
        "GET",
        SESSION,
        api_session,
        TRAINING_ROLES,
        answers={200: TrainingSessionAnswer},
        summary="A training session (the trainee's own; supervisors any)",
    ),
    _api(
        "GET",
        API + "/progress",
        api_progress,
        TRAINING_ROLES,
        answers={200: TrainingProgressAnswer},
        summary="My training: scenarios done, checklists, feedback",
    ),
    _api(
        "GET",
        API + "/overview",
        api_overview,
        SUPERVISOR_ROLES,
        answers={200: TrainingOverviewAnswer},
        summary="Training sessions going on and closed today",
    ),
    _api(
        "POST",
        SESSION + "/hint",
        api_hint,
        SUPERVISOR_ROLES,
        body=TrainingTextBody,
        answers={201: TrainingSessionAnswer},
        summary="A private hint to the trainee (the simulated person does not see it)",
    ),
    _api(
        "POST",
        SESSION + "/disclosure/decision",
        api_decision,
        SUPERVISOR_ROLES,
        body=TrainingDecisionBody,
        answers={200: TrainingSessionAnswer},
        summary="Approve or return the trainee's crime information",
    ),
    _api(
        "POST",
        SESSION + "/feedback",
        api_feedback,
        SUPERVISOR_ROLES,
        body=TrainingTextBody,
        answers={200: TrainingSessionAnswer},
        summary="Written feedback the trainee reads",
    ),
    *admin_web.ROUTES,
    *console_web.ROUTES,
)


# ------------------------------------------------------------------------------------- the purge
async def _purge_every(app: web.Application) -> None:
    options = app[SETTINGS].section("training")
    while True:
        await asyncio.sleep(float(options["purge_interval_minutes"]) * 60)
        try:
            async with app[DB].session() as session:
                count = await service.purge(session, float(options["keep_days"]))
            if count:
                log.info("training: %d old session(s) purged", count)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the next round tries again
            log.warning("training purge failed (%s)", type(exc).__name__)


def setup(app: web.Application) -> None:
    """Add the routes and the purge of old training sessions."""
    add_routes(app, ROUTES)

    async def purge_ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_purge_every(app), name="training purge")
        yield
        await cancel_and_wait(task)

    app.cleanup_ctx.append(purge_ctx)


__all__ = ["ROUTES", "setup"]
