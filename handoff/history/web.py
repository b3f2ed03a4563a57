"""Routes of the Person panel, search, the audit page and care for counsellors (:data:`ROUTES`,
each a :class:`handoff.web.Route` behind the web kit's guard), and the listener that takes a
person's "glöm mig mellan samtalen" from the chat (consumer group :data:`FORGET_GROUP`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from aiohttp import web

from gateway import catalogues
from gateway.appkeys import BROKER, CONSUMER, DB, PIPELINE, SETTINGS
from gateway.broker.base import FEW_EVENTS_LINGER, Event
from gateway.conversation import UNLINK_AT_CLOSE
from gateway.envelope import Direction, SenderKind, utcnow
from gateway.errors import NotFound
from gateway.events import TOPIC_CONVERSATION
from gateway.store import repo
from gateway.store.db import Database
from gateway.store.models import Conversation
from handoff.console.panels import Opened, add_part
from handoff.console.security import Staff
from handoff.console.views import render
from handoff.records.retention import RetentionPolicy
from handoff.web import CONSOLE_ROLES, SUPERVISOR_ROLES, Route, in_path
from handoff.web.errors import problem
from handoff.web.guard import add_routes
from handoff.web.validation import body

from . import audit_log, care, person, search
from .schemas import (
    AuditCsv,
    AuditLogAnswer,
    DebriefAnswer,
    DebriefBody,
    EarlierAnswer,
    ForgetAnswer,
    PersonAnswer,
    RecordAnswer,
    SearchAnswer,
    ShiftAnswer,
)

CONV = "/console/api/conversations/{conversation_id:[0-9a-f]{32}}"
FORGET_GROUP = "handoff-forget"


PERSON = in_path().but(denied="person.denied")
"""Who may see a person's earlier contacts or unlink them: the counsellor holding the conversation,
supervisors and admins (the web kit's guard; every refusal audited)."""


async def _conversation_for(request: web.Request, session: Any) -> Conversation:
    """The route's conversation (the guard has checked who may act on it)."""
    return await repo.get_conversation(session, request.match_info["conversation_id"])


# ------------------------------------------------------------------------------------- person
async def person_part(request: web.Request, staff: Staff, opened: Opened) -> dict[str, Any]:
    """The person's earlier contacts, as ``GET …/person`` answers them, read with the transcript
    (handoff.console.panels)."""
    return await person.person_view(opened.session, opened.conversation)


async def get_person(request: web.Request, staff: Staff) -> web.StreamResponse:
    async with request.app[DB].session() as session:
        return web.json_response(await person.person_view(session, await _conversation_for(request, session)))


async def get_earlier(request: web.Request, staff: Staff) -> web.StreamResponse:
    async with request.app[DB].session() as session:
        conv = await _conversation_for(request, session)
        found = await person.earlier_record(session, conv, request.match_info["earlier_id"], staff.user)
    if found is None:
        return problem(404, "not_found")
    return web.json_response(found)


async def post_forget(request: web.Request, staff: Staff) -> web.StreamResponse:
    """The counsellor unlinks the person on their behalf (they asked in their own words)."""
    async with request.app[DB].session() as session:
        conv = await _conversation_for(request, session)
        count = await person.forget(session, conv, staff.user, "counsellor")
    return web.json_response({"ok": True, "unlinked": count})


def may_be_forget_request(event: Event) -> bool:
    """A person's message asking not to be recognised; the group acknowledges every other event."""
    payload = event.payload
    msg = payload.get("message")
    if payload.get("kind") != "message" or not isinstance(msg, dict):
        return False
    if msg.get("direction") != Direction.IN.value or msg.get("sender_kind") != SenderKind.PERSON.value:
        return False
    return person.asks_to_be_forgotten(str(msg.get("text", "")))


def forget_listener(db: Database, app: web.Application) -> Any:
    async def on_event(event: Event) -> None:
        if not may_be_forget_request(event):
            return
        conv_id = str(event.payload.get("conversation_id", ""))
        async with db.session() as session:
            try:
                conv = await repo.get_conversation(session, conv_id, for_update=True)
            except NotFound:
                return
            if (conv.meta or {}).get(UNLINK_AT_CLOSE):  # a redelivered event: told once
                return
            await person.forget(session, conv, None, "person")
            told = catalogues.text("person", catalogues.pick("person", conv.language), "notice.forgotten")
            await app[PIPELINE].outgoing.write(session, conv.id, told)
        app[PIPELINE].outgoing.committed()

    return on_event


# ------------------------------------------------------------------------------------- search
async def search_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    return render(request, "search.html", staff.lang, staff=staff, user=staff.user)


async def get_search(request: web.Request, staff: Staff) -> web.StreamResponse:
    policy = RetentionPolicy.from_config(request.app[SETTINGS].section("retention"))
    query = replace(search.Query.parse(request.query), transcripts_since=utcnow() - policy.transcripts)
    async with request.app[DB].session() as session:
        found = await search.search(session, query)
        await repo.audit(
            session,
            "search.run",
            actor=staff.user,
            details={"kind": query.kind, "results": found["total"]},
        )
    return web.json_response(found)


async def get_record(request: web.Request, staff: Staff) -> web.StreamResponse:
    async with request.app[DB].session() as session:
        found = await search.open_record(session, request.match_info["conversation_id"], staff.user)
    if found is None:
        return problem(404, "not_found")
    return web.json_response(found)


# ------------------------------------------------------------------------------------- audit
async def audit_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    return render(request, "audit.html", staff.lang, staff=staff, user=staff.user)


async def get_audit_log(request: web.Request, staff: Staff) -> web.StreamResponse:
    query = audit_log.AuditQuery.parse(request.query)
    async with request.app[DB].session() as session:
        found = await audit_log.read(session, query)
    return web.json_response(found)


async def get_audit_csv(request: web.Request, staff: Staff) -> web.StreamResponse:
    query = audit_log.AuditQuery.parse(request.query)
    async with request.app[DB].session() as session:
        text = await audit_log.export_csv(session, query, staff.user)
    return web.Response(
        text=text,
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"'},
    )


# ------------------------------------------------------------------------------------- care
async def post_debrief(request: web.Request, staff: Staff) -> web.StreamResponse:
    note = body(request, DebriefBody).note
    async with request.app[DB].session() as session:
        saved = await care.add_debrief(session, request.match_info["conversation_id"], staff.user, note)
    return web.json_response(saved, status=201)


async def get_shift(request: web.Request, staff: Staff) -> web.StreamResponse:
    async with request.app[DB].session() as session:
        view = await care.shift_view(session)
    return web.json_response(view)


ROUTES: tuple[Route, ...] = (
    Route("GET", "/console/search", search_page, SUPERVISOR_ROLES, "page", summary="Search"),
    Route("GET", "/console/audit", audit_page, SUPERVISOR_ROLES, "page", summary="The audit log"),
    Route(
        "GET",
        CONV + "/person",
        get_person,
        CONSOLE_ROLES,
        acts_on=PERSON,
        answers={200: PersonAnswer},
        summary="The person's earlier conversations (dates, no transcripts)",
    ),
    Route(
        "GET",
        CONV + "/person/{earlier_id:[0-9a-f]{32}}",
        get_earlier,
        CONSOLE_ROLES,
        acts_on=PERSON,
        answers={200: EarlierAnswer},
        summary="An earlier conversation's documentation and referrals (audited)",
    ),
    Route(
        "POST",
        CONV + "/forget",
        post_forget,
        CONSOLE_ROLES,
        acts_on=PERSON,
        answers={200: ForgetAnswer},
        summary="Unlink the person from their earlier and later conversations",
    ),
    Route(
        "POST",
        CONV + "/debrief",
        post_debrief,
        CONSOLE_ROLES,
        body=DebriefBody,
        answers={201: DebriefAnswer},
        summary="A debrief note to the supervisors",
    ),
    Route(
        "GET",
        "/console/api/search",
        get_search,
        SUPERVISOR_ROLES,
        answers={200: SearchAnswer},
        summary="Search documentation and transcripts",
    ),
    Route(
        "GET",
        "/console/api/search/records/{conversation_id:[0-9a-f]{32}}",
        get_record,
        SUPERVISOR_ROLES,
        answers={200: RecordAnswer},
        summary="A documentation record from the search (audited)",
    ),
    Route(
        "GET",
        "/console/api/audit-log",
        get_audit_log,
        SUPERVISOR_ROLES,
        answers={200: AuditLogAnswer},
        summary="The audit log, filtered and paginated",
    ),
    Route(
        "GET",
        "/console/api/audit-log.csv",
        get_audit_csv,
        SUPERVISOR_ROLES,
        answers={200: AuditCsv},
        summary="The audit log as CSV (the export is audited)",
    ),
    Route(
        "GET",
        "/console/api/care/shift",
        get_shift,
        SUPERVISOR_ROLES,
        answers={200: ShiftAnswer},
        summary="Critical conversations and debrief notes of the shift",
    ),
)


def setup(app: web.Application) -> None:
    """Add the routes and the listener of the person's "forget me" in the chat."""
    add_part(app, "person", person_part)

    async def listener_ctx(app: web.Application) -> AsyncIterator[None]:
        sub = await app[BROKER].subscribe(
            TOPIC_CONVERSATION,
            FORGET_GROUP,
            forget_listener(app[DB], app),
            consumer=app[CONSUMER],
            accepts=may_be_forget_request,
            linger=FEW_EVENTS_LINGER,
        )
        yield
        await sub.cancel()

    app.cleanup_ctx.append(listener_ctx)
    add_routes(app, ROUTES)


__all__ = ["FORGET_GROUP", "ROUTES", "setup"]
