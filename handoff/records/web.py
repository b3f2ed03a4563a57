"""JSON routes for documentation, erasure and the local situational picture, and the scheduled purge.

Routes (sessions and CSRF exactly as the console: the ``hl_console`` cookie checked with
:func:`handoff.console.security.authenticate`, the ``X-CSRF-Token`` header on every POST):

* ``GET  /console/api/conversations/{id}/documentation``: the close form (fields, labels in Swedish
  and English, allowed values) with the saved or prefilled values;
* ``POST /console/api/conversations/{id}/documentation``: save; 422 ``{"error": "invalid",
  "fields": [...], "errors": [...]}`` naming every missing or wrong field; 409 ``not_closed``;
  403 for a counsellor who did not handle the conversation;
* ``POST /console/api/conversations/{id}/erase`` (supervisor, admin): erasure on request;
* ``GET  /console/api/documentation/pending``: the closed conversations still to be documented (a
  counsellor's own, every one for supervisors and admins), so that none is forgotten after a reload;
* ``GET  /console/portal/api/situation`` (beside the portal's referrals: the session cookie is
  scoped to ``/console``; also at ``/portal/api/situation`` for clients that send the cookie
  themselves): the local situational picture of the signed-in municipality user's own area
  (``StaffUser.municipality_code``: a municipality code, a Kunskapshus id or ``KH`` + its host's
  code; a municipality gives that municipality only, a Kunskapshus the municipalities it serves);
  ``?from=YYYY-MM-DD&to=YYYY-MM-DD`` (Stockholm dates, both included; default: the last 90 days),
  ``&format=json|csv|html``.  Supervisors and admins may ask for any area with ``?area=``.
  The same picture is shown on the municipality portal's page (:func:`portal_situation`).

:func:`setup` also starts the :class:`~handoff.records.retention.RetentionScheduler` (``retention``
section of the configuration).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta
from typing import Any

from aiohttp import web
from markupsafe import Markup
from sqlalchemy import select

from gateway.appkeys import BROKER, DB, SETTINGS
from gateway.errors import Conflict, NotFound, PermissionDenied
from gateway.lease import make_lease
from gateway.store import repo
from gateway.store.models import Conversation, ConversationState, Role
from handoff.console.idempotency import idempotent
from handoff.console.security import CSRF_HEADER, Staff, authenticate, csrf_ok
from handoff.directory.catalog import Directory
from handoff.directory.live import DIRECTORY_SERVICE, directory_service
from handoff.directory.loading import default_directory
from handoff.records import documentation
from handoff.records.event_retention import forget_conversation
from handoff.records.reports import service as reports
from handoff.records.retention import RetentionPolicy, RetentionScheduler, retention_config

log = logging.getLogger(__name__)

CONV = "/console/api/conversations/{conversation_id:[0-9a-f]{32}}"
CONSOLE_ROLES = frozenset({Role.COUNSELLOR.value, Role.SUPERVISOR.value, Role.ADMIN.value})
SUPERVISOR_ROLES = frozenset({Role.SUPERVISOR.value, Role.ADMIN.value})
SITUATION_ROLES = frozenset({Role.MUNICIPALITY.value, Role.SUPERVISOR.value, Role.ADMIN.value})
MAX_BODY = 64 * 1024
PENDING_LIMIT = 200
SCHEDULER = web.AppKey("retention_scheduler", RetentionScheduler)

Handler = Callable[[web.Request, Staff], Awaitable[web.StreamResponse]]


def _error(status: int, code: str, **extra: Any) -> web.Response:
    return web.json_response({"error": code, **extra}, status=status)


def require_role(
    roles: frozenset[str], handler: Handler
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """401 without a session, 403 for another role or (on POST) a missing or wrong CSRF token."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        staff = await authenticate(request)
        if staff is None:
            return _error(401, "not_signed_in")
        if staff.user.role not in roles:
            return _error(403, "forbidden")
        if request.method == "POST" and not csrf_ok(staff.csrf, request.headers.get(CSRF_HEADER)):
            return _error(403, "csrf")
        response = await handler(request, staff)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    wrapped.__name__ = handler.__name__
    return wrapped


async def _json_body(request: web.Request) -> dict[str, Any] | web.Response:
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _error(413, "too_large")
    if not request.body_exists:  # (not can_read_body: the body may have been read already, e.g. hashed)
        return {}
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "invalid_json")
    if not isinstance(body, dict):
        return _error(400, "invalid_json")
    return body


def current_directory(app: web.Application) -> Directory:
    """The directory this process routes with, kept current with the admins' edits (reloaded
    before each of these requests, :func:`handoff.directory.web.directory_service`), so that areas
    (which municipalities a Kunskapshus serves) and names in documentation and situational pictures
    are the ones the admins set."""
    service = app.get(DIRECTORY_SERVICE)
    return service.directory if service is not None else default_directory()


# ------------------------------------------------------------------------------------- handlers


async def get_documentation(request: web.Request, staff: Staff) -> web.StreamResponse:
    """The close form: for the counsellor who held or closed the conversation and for supervisors,
    like every other conversation route; every read and every refusal is audited."""
    conv_id = request.match_info["conversation_id"]
    try:
        async with request.app[DB].session() as session:
            conv = await repo.get_conversation(session, conv_id)
            if not documentation.may_document(
                conv.assigned_to, (conv.meta or {}).get("closed_by"), staff.user
            ):
                await repo.audit(session, "documentation.denied", actor=staff.user, conversation_id=conv_id)
                denied = True
            else:
                denied = False
                form = await documentation.documentation_form(
                    session, conv_id, directory=current_directory(request.app)
                )
                await repo.audit(session, "documentation.opened", actor=staff.user, conversation_id=conv_id)
    except NotFound:
        return _error(404, "not_found")
    if denied:
        return _error(403, "not_your_conversation")
    return web.json_response({**form, "language": staff.lang})


async def post_documentation(request: web.Request, staff: Staff) -> web.StreamResponse:
    body = await _json_body(request)
    if isinstance(body, web.Response):
        return body
    values = body.get("values", body)
    if not isinstance(values, dict):
        return _error(400, "invalid_json")
    try:
        async with request.app[DB].session() as session:
            result = await documentation.save_documentation(
                session,
                request.match_info["conversation_id"],
                values,
                staff.user,
                directory=current_directory(request.app),
            )
            documented_at = result.record.documented_at.isoformat()
    except documentation.DocumentationInvalid as exc:
        return web.json_response(exc.to_dict(), status=422)
    except NotFound:
        return _error(404, "not_found")
    except PermissionDenied:
        return _error(403, "not_your_conversation")
    except Conflict as exc:
        return _error(409, str(exc.args[0]) if exc.args else "conflict")
    return web.json_response(
        {
            "ok": True,
            "state": result.state,
            "created": result.created,
            "redacted": result.redacted,
            "documented_at": documented_at,
        }
    )


async def post_erase(request: web.Request, staff: Staff) -> web.StreamResponse:
    body = await _json_body(request)
    if isinstance(body, web.Response):
        return body
    reason = str(body.get("reason", "person_request"))
    try:
        async with request.app[DB].session() as session:
            result = await documentation.erase_conversation(
                session, request.match_info["conversation_id"], staff.user, reason
            )
    except NotFound:
        return _error(404, "not_found")
    except PermissionDenied:
        return _error(403, "forbidden")
    except Conflict as exc:
        return _error(409, str(exc.args[0]) if exc.args else "conflict")
    # What the person wrote leaves the broker's streams too (live events carry the text).
    await forget_conversation(request.app[BROKER], request.match_info["conversation_id"])
    return web.json_response({"ok": True, **result.to_dict()})


async def get_pending(request: web.Request, staff: Staff) -> web.StreamResponse:
    """Closed conversations not documented yet, newest close first (at most :data:`PENDING_LIMIT`).

    A counsellor sees the ones assigned to them (those they may document); supervisors and admins
    see every one that reached the queue.  Conversations that never left the bot (a greeting and
    nothing more, closed by the person or by the retention purge after ``idle_bot_days``) never
    reached a counsellor and have nothing to document, so they are not listed.
    """
    supervisor = staff.user.role in SUPERVISOR_ROLES
    stmt = (
        select(
            Conversation.id,
            Conversation.closed_at,
            Conversation.intent,
            Conversation.channel,
        )
        .where(Conversation.state == ConversationState.CLOSED.value)
        .order_by(Conversation.closed_at.desc(), Conversation.id)
        .limit(PENDING_LIMIT + 1)
    )
    if supervisor:
        stmt = stmt.where(Conversation.queued_at.is_not(None) | Conversation.first_assigned_at.is_not(None))
    else:
        stmt = stmt.where(Conversation.assigned_to == staff.user.id)
    async with request.app[DB].session() as session:
        rows = (await session.execute(stmt)).all()
    more = len(rows) > PENDING_LIMIT
    pending = [
        {
            "id": conv_id,
            "closed_at": closed_at.isoformat() if closed_at is not None else None,
            "intent": intent,
            "channel": channel,
        }
        for conv_id, closed_at, intent, channel in rows[:PENDING_LIMIT]
    ]
    return web.json_response({"pending": pending, "more": more, "supervisor": supervisor})


def _date(text: str | None, default: date) -> date:
    if not text:
        return default
    return date.fromisoformat(text)


DEFAULT_DAYS = 90
MAX_DAYS = 3700
# A municipality user's own area: their municipality, or the municipalities their Kunskapshus serves
# (never a county or another area, even if their code happened to name one).
OWN_AREA_KINDS = frozenset({"municipality", "kunskapshus"})
# The printable report has its own inline styles and no script at all.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; frame-ancestors 'none'"
)


class SituationRefused(Exception):
    """The situational picture cannot be given: HTTP status and error code."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


def own_area(staff: Staff, directory: Directory | None = None) -> reports.Area | None:
    """The area of a municipality user's own situational picture (None: their account has none)."""
    code = (staff.user.municipality_code or "").strip()
    area = reports.resolve_area(code, directory) if code else None
    return area if area is not None and area.kind in OWN_AREA_KINDS else None


def situation_area(staff: Staff, requested: str | None, directory: Directory | None = None) -> reports.Area:
    """The area a user may see: a municipality user only their own (``?area=`` naming anything
    else is refused); supervisors and admins the one they ask for."""
    if staff.user.role == Role.MUNICIPALITY.value:
        area = own_area(staff, directory)
        if area is None:
            raise SituationRefused(403, "unknown_area")
        if requested not in (None, "", area.id, staff.user.municipality_code):
            raise SituationRefused(403, "other_area")
        return area
    if staff.user.role not in SUPERVISOR_ROLES:
        raise SituationRefused(403, "forbidden")
    found = reports.resolve_area(requested, directory) if requested else None
    if found is None:
        raise SituationRefused(400, "unknown_area")
    return found


def situation_period(query: Any, today: date | None = None) -> tuple[date, date]:
    """``from``/``to`` (Stockholm dates, both included); default: the last :data:`DEFAULT_DAYS` days."""
    today = today or reports.local_today()
    try:
        end = _date(query.get("to"), today)
        start = _date(query.get("from"), end - timedelta(days=DEFAULT_DAYS - 1))
    except ValueError:
        raise SituationRefused(400, "bad_period") from None
    if end < start or (end - start).days > MAX_DAYS:
        raise SituationRefused(400, "bad_period")
    return start, end


async def get_situation(request: web.Request, staff: Staff) -> web.StreamResponse:
    directory = current_directory(request.app)
    try:
        area = situation_area(staff, request.query.get("area"), directory)
        start, end = situation_period(request.query)
    except SituationRefused as exc:
        return _error(exc.status, exc.code)
    fmt = request.query.get("format", "json")
    if fmt not in reports.FORMATS:
        return _error(400, "bad_format")
    report = await reports.build_report(request.app[DB], start, end, area=area, directory=directory)
    if fmt == "html":
        response = web.Response(text=reports.render(report, "html"), content_type="text/html")
        response.headers["Content-Security-Policy"] = REPORT_CSP
        return response
    if fmt == "csv":
        name = f"lagesbild-{area.id}-{start.isoformat()}-{end.isoformat()}.csv"
        return web.Response(
            text=reports.render(report, "csv"),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return web.json_response(report)


# The dimensions the portal shows, in this order (the municipality breakdown only for a Kunskapshus).
PORTAL_DIMENSIONS = (
    "contact_type",
    "environment",
    "age_group",
    "gender",
    "intent",
    "outcome",
    "referral_made",
    "municipality",
)


def _with_bars(dimension: dict[str, Any]) -> dict[str, Any]:
    """A dimension with each published cell's share of the largest one (0-100, for its bar);
    hidden cells get no bar."""
    peak = max([c["value"] for c in dimension["cells"] if isinstance(c["value"], int)] + [1])
    cells = [
        {**c, "bar": round(100 * c["value"] / peak, 1) if isinstance(c["value"], int) else None}
        for c in dimension["cells"]
    ]
    return {**dimension, "cells": cells}


async def portal_situation(request: web.Request, staff: Staff) -> dict[str, Any]:
    """What the municipality portal's page shows of the user's own area: the report (or the reason
    there is none), the period chosen and the period presets, the weekly chart (inline SVG built
    from escaped parts) and the dimensions to show.  Only ever the user's own area: the page takes
    no ``area`` parameter."""
    today = reports.local_today()
    presets = [
        ("sit_last_30", today - timedelta(days=29), today),
        ("sit_last_90", today - timedelta(days=DEFAULT_DAYS - 1), today),
        ("sit_last_365", today - timedelta(days=364), today),
        ("sit_this_year", today.replace(month=1, day=1), today),
    ]
    context: dict[str, Any] = {
        "report": None,
        "error": None,
        "area": None,
        "from": (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
        "to": today.isoformat(),
        "presets": [{"key": k, "from": a.isoformat(), "to": b.isoformat()} for k, a, b in presets],
        "time_zone": reports.TIME_ZONE,
        "chart": "",
        "dimensions": [],
    }
    directory = current_directory(request.app)
    area = own_area(staff, directory) if staff.user.role == Role.MUNICIPALITY.value else None
    if area is None:
        context["error"] = "unknown_area"
        return context
    context["area"] = area
    try:
        start, end = situation_period(request.query, today)
    except SituationRefused as exc:
        context["error"] = exc.code
        return context
    context["from"], context["to"] = start.isoformat(), end.isoformat()
    report = await reports.build_report(request.app[DB], start, end, area=area, directory=directory)
    wanted = [d for d in PORTAL_DIMENSIONS if d != "municipality" or area.kind != "municipality"]
    by_key = {d["key"]: d for d in report["dimensions"]}
    context["report"] = report
    context["dimensions"] = [_with_bars(by_key[k]) for k in wanted if k in by_key]
    context["chart"] = Markup(reports.chart_week_totals(report))  # noqa: S704 - built from escaped parts
    return context


# ---------------------------------------------------------------------------------------- setup


# Every route with the roles that may use it (checked on each request by require_role).
ROUTES: tuple[tuple[str, str, frozenset[str], Any], ...] = (
    ("GET", CONV + "/documentation", frozenset(CONSOLE_ROLES), get_documentation),
    (
        "POST",
        CONV + "/documentation",
        frozenset(CONSOLE_ROLES),
        idempotent("documentation", post_documentation),
    ),
    ("POST", CONV + "/erase", frozenset(SUPERVISOR_ROLES), post_erase),
    ("GET", "/console/api/documentation/pending", frozenset(CONSOLE_ROLES), get_pending),
    ("GET", "/portal/api/situation", frozenset(SITUATION_ROLES), get_situation),
    ("GET", "/console/portal/api/situation", frozenset(SITUATION_ROLES), get_situation),
)


def setup(app: web.Application) -> None:
    """Add the routes and the scheduled retention purge to the gateway."""
    directory_service(app)
    for method, path, roles, handler in ROUTES:
        app.router.add_route(method, path, require_role(roles, handler))

    async def retention_ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        cfg = retention_config(settings.section("retention"))
        scheduler: RetentionScheduler | None = None
        if cfg["enabled"]:
            interval = float(cfg["interval_minutes"]) * 60
            lease = make_lease(
                settings.redis_url, "retention", prefix=settings.redis_prefix, ttl=max(1.0, interval * 0.9)
            )
            scheduler = RetentionScheduler(
                app[DB], RetentionPolicy.from_config(cfg), lease, interval, broker=app[BROKER]
            )
            app[SCHEDULER] = scheduler
            scheduler.start()
        yield
        if scheduler is not None:
            await scheduler.close()

    app.cleanup_ctx.append(retention_ctx)


__all__ = [
    "ROUTES",
    "SCHEDULER",
    "SituationRefused",
    "current_directory",
    "own_area",
    "portal_situation",
    "require_role",
    "setup",
    "situation_area",
    "situation_period",
]
