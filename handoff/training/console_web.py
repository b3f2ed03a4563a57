"""The real console in training mode (issue 21): ``/console/training/console`` renders the console's
own page (``console.html``: the queue, the conversation view with its context tabs, the
documentation form at close) with ``space="training"``, whose scripts then call the routes below
instead of ``/console/api``.  Each answers in the shape of the real route it stands for (the real
answer schemas are reused) from the ``training_*`` tables (:mod:`.desk`): a trainee sees only their
own training sessions, and nothing reaches a real conversation, the outbox, the broker, the audit
log, a referral or a disclosure.  Read-only look-ups (canned responses, the referral proposals,
the forms' options) use the real handlers: they change nothing.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.appkeys import DB, SETTINGS, TRIAGER
from gateway.errors import Conflict, NotFound
from handoff.console.schemas import (
    CannedAnswer,
    ClaimAnswer,
    CloseBody,
    ConversationAnswer,
    MessageAnswer,
    OkAnswer,
    QueueAnswer,
    ReplyBody,
    TypingBody,
)
from handoff.console.security import Staff
from handoff.console.views import api_canned, render
from handoff.disclosures.schemas import DisclosureAnswer, DisclosureBody, DisclosuresAnswer, FormOptionsAnswer
from handoff.disclosures.web import api_form_options
from handoff.records.schemas import (
    DocumentationBody,
    DocumentationFormAnswer,
    DocumentationSavedAnswer,
    PendingAnswer,
)
from handoff.records.situation_web import current_directory
from handoff.records.web import form_answer
from handoff.referrals.schemas import (
    NotAskedBody,
    ProposalsAnswer,
    ReferralAnswer,
    ReferralBody,
    ReferralsAnswer,
)
from handoff.referrals.web import api_proposals
from handoff.web import Route
from handoff.web.errors import problem
from handoff.web.roles import TRAINING_ROLES
from handoff.web.validation import body

from . import desk, service
from .models import TrainingSession

BASE = "/console/api/training/console"
"""What the console's scripts use for ``/console/api`` in the training space (``HL.base``)."""
CONV = BASE + "/conversations/{training_id:[0-9a-f]{32}}"
REF = BASE + "/referrals/{referral_id:[0-9a-f]{32}(?:-[0-9]{1,3})?}"
"""A training referral is its session's id and its number there (``desk.referral_id``)."""


async def _mine(
    request: web.Request, db_session: Any, staff: Staff, session_id: str | None = None
) -> TrainingSession:
    """The path's session if it is the caller's own (else 404: nobody probes other sessions' ids;
    supervisors watch on the supervision page).  Locked, as a read may add the person's follow-up."""
    found = await service.get(db_session, session_id or request.match_info["training_id"], for_update=True)
    if found.trainee_id != staff.user.id:
        raise NotFound("training session not found")
    return found


def _lang(staff: Staff) -> str:
    return staff.lang


# ------------------------------------------------------------------------------------- page
async def console_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    """The console's page itself, in the training space."""
    return render(
        request,
        "console.html",
        staff.lang,
        staff=staff,
        user=staff.user,
        queue_mode="pick",
        may_pick=True,
        space="training",
        api_base=BASE,
    )


# ------------------------------------------------------------------------------------- queue, transcript
async def api_queue(request: web.Request, staff: Staff) -> web.StreamResponse:
    async with request.app[DB].session() as session:
        return web.json_response(await desk.snapshot(session, staff.user))


async def api_next(request: web.Request, staff: Staff) -> web.StreamResponse:
    """ "Nästa samtal": the most urgent of the trainee's waiting training sessions."""
    async with request.app[DB].session() as session:
        waiting = (await desk.snapshot(session, staff.user))["waiting"]
        if not waiting:
            return problem(409, "queue_empty")
        ts = await _mine(request, session, staff, waiting[0]["conversation_id"])
        await service.claim(session, ts, staff.user)
    return web.json_response({"ok": True, "conversation_id": ts.id})


async def api_conversation(request: web.Request, staff: Staff) -> web.StreamResponse:
    async with request.app[DB].session() as session:
        ts = await _mine(request, session, staff)
        await service.tick(session, ts, request.app[TRIAGER], service_pace(request))
        await session.flush()
        found = await desk.transcript(session, ts, _lang(staff))
    return web.json_response({**found, "corrections": []})


async def api_claim(request: web.Request, staff: Staff) -> web.StreamResponse:
    async with request.app[DB].session() as session:
        ts = await _mine(request, session, staff)
        await service.claim(session, ts, staff.user)
    return web.json_response({"ok": True, "conversation_id": ts.id})


async def api_reply(request: web.Request, staff: Staff) -> web.StreamResponse:
    text = body(request, ReplyBody).text.strip()
    if not text:
        return problem(422, "text_required")
    async with request.app[DB].session() as session:
        ts = await _mine(request, session, staff)
        await service.reply(session, ts, staff.user, text, request.app[TRIAGER], service_pace(request))
        await session.flush()
        found = await desk.transcript(session, ts, _lang(staff))
    mine = [m for m in found["messages"] if m["kind"] == "counsellor"]
    return web.json_response({"message": mine[-1]})


async def api_typing(request: web.Request, staff: Staff) -> web.StreamResponse:
    """Nobody reads a simulated person's typing indicator: accepted, nothing sent."""
    body(request, TypingBody)
    return web.json_response({"ok": True})


async def api_close(request: web.Request, staff: Staff) -> web.StreamResponse:
    body(request, CloseBody)
    async with request.app[DB].session() as session:
        ts = await _mine(request, session, staff)
        await desk.close(session, ts, staff.user)
    return web.json_response({"ok": True})


# ------------------------------------------------------------------------------------- documentation
async def api_documentation(request: web.Request, staff: Staff) -> web.StreamResponse:
    async with request.app[DB].session() as session:
        ts = await _mine(request, session, staff)
        form = await desk.documentation_form(session, ts, current_directory(request.app))
    return form_answer(form, staff.lang)


async def api_document(request: web.Request, staff: Staff) -> web.StreamResponse:
    values = body(request, DocumentationBody).form_values()
    async with request.app[DB].session() as session:
        ts = await _mine(request, session, staff)
        problems = await desk.document(session, ts, staff.user, values, staff.lang)
        if problems:
            return problem(422, "invalid", problems)
        documented_at = str(ts.actions["documented_at"])
    return web.json_response(
        {"ok": True, "state": "documented", "created": True, "redacted": [], "documented_at": documented_at}
    )


async def api_pending(request: web.Request, staff: Staff) -> web.StreamResponse:
    async with request.app[DB].session() as session:
        found = await desk.pending_documentation(session, staff.user)
    return web.json_response({"pending": found, "more": False, "supervisor": False})


# ------------------------------------------------------------------------------------- referrals
def _recipient(request: web.Request, recipient_id: str) -> dict[str, Any]:
    found = current_directory(request.app).recipient(recipient_id)
    if found is None:
        raise NotFound("unknown_recipient")
    return {"id": found.id, "name": {"sv": found.name_sv, "en": found.name_en}}


async def api_referrals(request: web.Request, staff: Staff) -> web.StreamResponse:
    async with request.app[DB].session() as session:
        ts = await _mine(request, session, staff)
        return web.json_response({"referrals": desk.referral_views(ts)})


async def api_referral_create(request: web.Request, staff: Staff) -> web.StreamResponse:
    given = body(request, ReferralBody)
    if not (given.summary or "").strip():
        return problem(422, "summary_required")
    recipient = _recipient(request, given.recipient_id or "")
    async with request.app[DB].session() as session:
        ts = await _mine(request, session, staff)
        item = await desk.propose_referral(session, ts, staff.user, recipient, given.model_dump())
        view = next(r for r in desk.referral_views(ts) if r["id"] == item["id"])
    return web.json_response({"referral": view}, status=201)


async def _consent(request: web.Request, staff: Staff, asked: bool) -> web.StreamResponse:
    session_id, number = desk.split_referral_id(request.match_info["referral_id"])
    async with request.app[DB].session() as session:
        ts = await _mine(request, session, staff, session_id)
        await desk.referral_consent(session, ts, staff.user, number, asked)
        view = desk.referral_views(ts)[number - 1]
    return web.json_response({"referral": view})


async def api_consent_request(request: web.Request, staff: Staff) -> web.StreamResponse:
    """The consent question: the simulated person consents, and the referral shows as sent in the
    training transcript (nothing is delivered)."""
    return await _consent(request, staff, True)


async def api_consent_not_asked(request: web.Request, staff: Staff) -> web.StreamResponse:
    body(request, NotAskedBody)
    return await _consent(request, staff, False)


# ------------------------------------------------------------------------------------- crime information
def _names(request: web.Request) -> dict[str, dict[str, str]]:
    d = current_directory(request.app)
    return {
        rid: {"sv": r.name_sv, "en": r.name_en}
        for rid in ("polisen", "sakerhetspolisen")
        if (r := d.recipient(rid)) is not None
    }


async def api_disclosures(request: web.Request, staff: Staff) -> web.StreamResponse:
    async with request.app[DB].session() as session:
        ts = await _mine(request, session, staff)
        return web.json_response({"disclosures": desk.disclosure_views(ts, _names(request))})


async def api_disclosure_create(request: web.Request, staff: Staff) -> web.StreamResponse:
    """Crime information in training: a supervisor approves it on the supervision page (four
    eyes); it never reaches the police channel."""
    given = body(request, DisclosureBody)
    if not (given.what or "").strip():
        return problem(422, "what_required")
    fields = {
        "recipient_id": given.recipient_id or "polisen",
        "what": given.what or "",
        "when": given.when or "",
        "where": given.where or "",
        "certainty": given.certainty or "",
        "legal_ground": given.legal_ground or "",
        "immediate_danger": given.immediate_danger,
        "source_seqs": list(given.source_seqs),
    }
    async with request.app[DB].session() as session:
        ts = await _mine(request, session, staff)
        try:
            await desk.start_disclosure(session, ts, staff.user, fields)
        except Conflict as exc:
            return problem(409, str(exc.args[0]))
        view = desk.disclosure_views(ts, _names(request))[0]
    return web.json_response({"disclosure": view}, status=201)


def pace(app: web.Application) -> service.Pace:
    return service.Pace(scale=float(app[SETTINGS].section("training")["delay_scale"]))


def service_pace(request: web.Request) -> service.Pace:
    return pace(request.app)


def _api(method: str, path: str, handler: Any, answer: Any, status: int = 200, **kw: Any) -> Route:
    return Route(method, path, handler, TRAINING_ROLES, tag="training", answers={status: answer}, **kw)


ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/console/training/console",
        console_page,
        TRAINING_ROLES,
        "page",
        summary="The console in training mode",
    ),
    _api(
        "GET",
        BASE + "/queue",
        api_queue,
        QueueAnswer,
        summary="Training: my training queue, as the console's",
    ),
    _api(
        "POST",
        BASE + "/queue/next",
        api_next,
        ClaimAnswer,
        summary="Training: take the next training conversation",
    ),
    _api("GET", BASE + "/canned", api_canned, CannedAnswer, summary="Training: the canned responses"),
    _api(
        "GET",
        BASE + "/handoff/options",
        api_form_options,
        FormOptionsAnswer,
        summary="Training: the forms' options",
    ),
    _api(
        "GET",
        BASE + "/handoff/proposals",
        api_proposals,
        ProposalsAnswer,
        summary="Training: referral proposals",
    ),
    _api(
        "GET",
        BASE + "/documentation/pending",
        api_pending,
        PendingAnswer,
        summary="Training: still to document",
    ),
    _api(
        "GET",
        CONV,
        api_conversation,
        ConversationAnswer,
        summary="Training: a training conversation's transcript",
    ),
    _api("POST", CONV + "/claim", api_claim, ClaimAnswer, summary="Training: claim"),
    _api(
        "POST",
        CONV + "/reply",
        api_reply,
        MessageAnswer,
        body=ReplyBody,
        summary="Training: answer the person",
    ),
    _api(
        "POST", CONV + "/typing", api_typing, OkAnswer, body=TypingBody, summary="Training: typing (ignored)"
    ),
    _api("POST", CONV + "/close", api_close, OkAnswer, body=CloseBody, summary="Training: close"),
    _api(
        "GET",
        CONV + "/documentation",
        api_documentation,
        DocumentationFormAnswer,
        summary="Training: close form",
    ),
    _api(
        "POST",
        CONV + "/documentation",
        api_document,
        DocumentationSavedAnswer,
        body=DocumentationBody,
        summary="Training: save the documentation",
    ),
    _api("GET", CONV + "/referrals", api_referrals, ReferralsAnswer, summary="Training: referrals offered"),
    _api(
        "POST",
        CONV + "/referrals",
        api_referral_create,
        ReferralAnswer,
        201,
        body=ReferralBody,
        summary="Training: propose a referral (never delivered)",
    ),
    _api(
        "POST", REF + "/consent-request", api_consent_request, ReferralAnswer, summary="Training: ask consent"
    ),
    _api(
        "POST",
        REF + "/consent-not-asked",
        api_consent_not_asked,
        ReferralAnswer,
        body=NotAskedBody,
        summary="Training: consent could not be asked",
    ),
    _api(
        "GET",
        CONV + "/disclosures",
        api_disclosures,
        DisclosuresAnswer,
        summary="Training: crime information",
    ),
    _api(
        "POST",
        CONV + "/disclosures",
        api_disclosure_create,
        DisclosureAnswer,
        201,
        body=DisclosureBody,
        summary="Training: start crime information (a supervisor approves; never sent)",
    ),
)

__all__ = ["BASE", "ROUTES"]
