"""JSON routes for documentation, erasure and the local situational picture, and the scheduled purge.

Routes (:data:`ROUTES`, each a :class:`handoff.web.Route` behind the web kit's guard: the session,
401; the role, 403; the ``X-CSRF-Token`` header on every POST, 403; the body, 422 with ``fields``):

* ``GET  /console/api/conversations/{id}/documentation``: the close form (fields, labels in Swedish
  and English, allowed values) with the saved or prefilled values;
* ``POST /console/api/conversations/{id}/documentation``: save; 422 ``{"error": "invalid",
  "fields": {field: message}}`` naming every missing or wrong field (in the staff member's language,
  the one error shape); 409 ``not_closed``;
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
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.appkeys import BROKER, DB, SETTINGS
from gateway.errors import Conflict, NotFound, PermissionDenied
from gateway.lease import make_lease
from gateway.store import repo
from gateway.store.models import Conversation, ConversationState, StaffUser
from gateway.store.rows import ConversationRow
from handoff.console.panels import CLOSED, JsonText, Opened, add_part
from handoff.console.security import Staff
from handoff.directory.live import directory_service
from handoff.records import documentation
from handoff.records.event_retention import forget_conversation
from handoff.records.retention import RetentionPolicy, retention_config
from handoff.records.retention_scheduler import RetentionScheduler
from handoff.records.schemas import (
    DocumentationBody,
    DocumentationFormAnswer,
    DocumentationSavedAnswer,
    EraseBody,
    ErasedAnswer,
    PendingAnswer,
    SituationAnswer,
)
from handoff.records.situation_web import current_directory, get_situation, portal_situation
from handoff.web import CONSOLE_ROLES, SITUATION_ROLES, SUPERVISOR_ROLES, Route, in_path
from handoff.web.errors import problem
from handoff.web.guard import add_routes
from handoff.web.validation import body

log = logging.getLogger(__name__)

CONV = "/console/api/conversations/{conversation_id:[0-9a-f]{32}}"
PENDING_LIMIT = 200
SCHEDULER = web.AppKey("retention_scheduler", RetentionScheduler)

# ------------------------------------------------------------------------------------- handlers


def _may_document(conv: ConversationRow, user: StaffUser) -> bool:
    return documentation.may_document(conv.assigned_to, (conv.meta or {}).get("closed_by"), user)


DOCUMENTS = in_path().but(
    rule=_may_document,
    code="not_your_conversation",
    denied="documentation.denied",
    rule_text="the counsellor who held or closed the conversation, or a supervisor or admin",
)
"""Who may read and save a conversation's documentation (every refusal audited)."""


async def get_documentation(request: web.Request, staff: Staff) -> web.StreamResponse:
    """The close form: for the counsellor who held or closed the conversation and for supervisors
    (``acts_on``: the guard refuses anyone else, audited); every read is audited."""
    try:
        form = await _opened_form(request, staff, request.match_info["conversation_id"])
    except NotFound:
        return problem(404, "not_found")
    return form_answer(form, staff.lang)


async def _opened_form(request: web.Request, staff: Staff, conv_id: str) -> dict[str, Any]:
    """The close form, its opening audited (:class:`NotFound` for an unknown conversation)."""
    async with request.app[DB].session() as session:
        return await _form_in(request, staff, session, await repo.get_conversation(session, conv_id))


async def _form_in(
    request: web.Request, staff: Staff, session: AsyncSession, conv: Conversation
) -> dict[str, Any]:
    form = await documentation.documentation_form(
        session, conv.id, directory=current_directory(request.app), conversation=conv
    )
    await repo.audit(session, "documentation.opened", actor=staff.user, conversation_id=conv.id)
    return form


async def documentation_part(request: web.Request, staff: Staff, opened: Opened) -> JsonText:
    """The close form as ``GET .../documentation`` answers it, brought by the close's answer
    (:mod:`handoff.console.panels`): the page opens it at once, without a request of its own."""
    return form_text(await _form_in(request, staff, opened.session, opened.conversation), staff.lang)


def form_answer(form: dict[str, Any], language: str) -> web.Response:
    """The close form as JSON, in ``language`` (its fields' JSON made once: ``form_json``)."""
    return web.Response(text=form_text(form, language), content_type="application/json")


def form_text(form: dict[str, Any], language: str) -> JsonText:
    """The close form's JSON in ``language``, its fields' JSON made once (``form_json``)."""
    return JsonText(documentation.form_json({**form, "language": language}))


async def post_documentation(request: web.Request, staff: Staff) -> web.StreamResponse:
    """Save the documentation (every missing or wrong field named: 422 ``invalid``)."""
    values = body(request, DocumentationBody).form_values()
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
        return problem(422, "invalid", exc.field_messages(staff.lang))
    except NotFound:
        return problem(404, "not_found")
    except PermissionDenied:
        return problem(403, "not_your_conversation")
    except Conflict as exc:
        return problem(409, str(exc.args[0]) if exc.args else "conflict")
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
    """Erase a closed conversation on request: its transcript, contact record and free text."""
    reason = body(request, EraseBody).reason
    try:
        async with request.app[DB].session() as session:
            result = await documentation.erase_conversation(
                session, request.match_info["conversation_id"], staff.user, reason
            )
    except NotFound:
        return problem(404, "not_found")
    except PermissionDenied:
        return problem(403, "forbidden")
    except Conflict as exc:
        return problem(409, str(exc.args[0]) if exc.args else "conflict")
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
    async with request.app[DB].reader() as session:  # a list read on a timer: no commit
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


# Every route with the roles that may use it, its input schema and its answers.
ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        CONV + "/documentation",
        get_documentation,
        CONSOLE_ROLES,
        acts_on=DOCUMENTS,
        answers={200: DocumentationFormAnswer},
        summary="The close form (audited)",
    ),
    Route(
        "POST",
        CONV + "/documentation",
        post_documentation,
        CONSOLE_ROLES,
        acts_on=DOCUMENTS,
        body=DocumentationBody,
        answers={200: DocumentationSavedAnswer},
        idempotency="documentation",
        summary="Save the documentation",
    ),
    Route(
        "POST",
        CONV + "/erase",
        post_erase,
        SUPERVISOR_ROLES,
        body=EraseBody,
        answers={200: ErasedAnswer},
        summary="Erase a conversation on request",
    ),
    Route(
        "GET",
        "/console/api/documentation/pending",
        get_pending,
        CONSOLE_ROLES,
        answers={200: PendingAnswer},
        summary="Closed conversations still to be documented",
    ),
    Route(
        "GET",
        "/portal/api/situation",
        get_situation,
        SITUATION_ROLES,
        answers={200: SituationAnswer},
        summary="The local situational picture",
    ),
    Route(
        "GET",
        "/console/portal/api/situation",
        get_situation,
        SITUATION_ROLES,
        answers={200: SituationAnswer},
        summary="The local situational picture",
    ),
)


def setup(app: web.Application) -> None:
    """Add the routes, the close form to the close's answer, and the scheduled retention purge."""
    directory_service(app)
    add_routes(app, ROUTES)
    add_part(app, "documentation", documentation_part, at=CLOSED)

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
    "setup",
]
