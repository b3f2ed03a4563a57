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
* ``GET  /console/portal/api/situation`` and ``/portal/api/situation``: the local situational
  picture (:mod:`handoff.records.situation_web`; :func:`portal_situation` is the portal page's).

:func:`setup` also starts the :class:`~handoff.records.retention_scheduler.RetentionScheduler` (``retention``
section of the configuration).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy import select

from gateway.appkeys import BROKER, DB, SETTINGS
from gateway.errors import Conflict, NotFound, PermissionDenied
from gateway.lease import make_lease
from gateway.store import repo
from gateway.store.models import Conversation, ConversationState, Role
from handoff.console.idempotency import idempotent
from handoff.console.security import CSRF_HEADER, Staff, authenticate, csrf_ok
from handoff.directory.live import directory_service
from handoff.records import documentation
from handoff.records.event_retention import forget_conversation
from handoff.records.retention import RetentionPolicy, retention_config
from handoff.records.retention_scheduler import RetentionScheduler
from handoff.records.situation_web import current_directory, get_situation, portal_situation

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
    "current_directory",
    "portal_situation",
    "require_role",
    "setup",
]
