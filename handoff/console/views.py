"""Request handlers of the console: login and logout, the HTML pages, the JSON API and the websocket.

Handlers behind a login take ``(request, staff)``; the route table in ``__init__`` wraps them with
the session, role and CSRF checks, so that no handler can forget one.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import auth, catalogues
from gateway.appkeys import BROKER, DB, PIPELINE
from gateway.errors import InvalidInput, NotFound
from gateway.outbox import outbox_for
from gateway.passwords import MAX_PASSWORD_LENGTH
from gateway.store import repo
from gateway.store.models import Conversation, StaffUser
from handoff.corrections import of_counsellor
from handoff.shift import presence
from handoff.shift.options import shift_options
from handoff.web.errors import problem
from handoff.web.validation import body, read_json

from . import data
from .i18n import client_strings, gettext, pick_language, strings
from .live import Hub
from .panels import CLOSED, Opened, parts_json, read_parts
from .schemas import CloseBody, ReplyBody, TransferBody, TypingBody
from .security import (
    CONSOLE_ROLES,
    PRELOGIN_COOKIE,
    SESSION_COOKIE,
    STEP_COOKIE,
    LoginRateLimiter,
    Staff,
    authenticate,
    browser_summary,
    clear_cookie,
    login_policy,
    new_prelogin_nonce,
    prelogin_ok,
    prelogin_token,
    set_cookie,
)

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
STATIC_FILES = {
    "console.js": "text/javascript",
    "console_queue.js": "text/javascript",
    "console_conversations.js": "text/javascript",
    "alert.js": "text/javascript",
    "triage.js": "text/javascript",
    "corrections.js": "text/javascript",
    "supervisor.js": "text/javascript",
    "handoff.js": "text/javascript",
    "portal.js": "text/javascript",
    "common.js": "text/javascript",
    "shift.js": "text/javascript",
    "sms.js": "text/javascript",
    "phone.js": "text/javascript",
    "login.js": "text/javascript",
    "records.js": "text/javascript",
    "directory_admin.js": "text/javascript",
    "person.js": "text/javascript",
    "context_tabs.js": "text/javascript",
    "search.js": "text/javascript",
    "audit.js": "text/javascript",
    "care.js": "text/javascript",
    "staff_admin.js": "text/javascript",
    "account.js": "text/javascript",
    "training.js": "text/javascript",
    "training_console.js": "text/javascript",
    "training_supervise.js": "text/javascript",
    "training_admin.js": "text/javascript",
    "console.css": "text/css",
}


class ConsoleState:
    """The console's shared state in one application."""

    def __init__(self) -> None:
        self.templates = Environment(
            loader=FileSystemLoader(str(HERE / "templates")),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
            extensions=["jinja2.ext.i18n"],
        )
        # ``_("id")`` in a template: each render passes the page language's ``gettext`` in its context.
        self.templates.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
        self.limiter = LoginRateLimiter()
        self.canned = data.load_canned()
        self.hub: Hub | None = None


CONSOLE = web.AppKey("console", ConsoleState)


# ---------------------------------------------------------------------- helpers
def render(request: web.Request, template: str, lang: str, status: int = 200, **context: Any) -> web.Response:
    state = request.app[CONSOLE]
    html = state.templates.get_template(template).render(
        t=strings(lang),
        gettext=gettext(lang),
        lang=lang,
        client=client_strings(lang),
        path=request.path,
        **context,
    )
    return web.Response(text=html, content_type="text/html", charset="utf-8", status=status)


def home_of(role: str) -> str:
    """Where a member of staff lands after signing in: the portal, the training, or the console."""
    return {"municipality": "/console/portal", "trainee": "/console/training"}.get(role, "/console")


def error(status: int, code: str) -> web.Response:
    return problem(status, code)


def conversation_id(request: web.Request) -> str:
    return request.match_info["conversation_id"]


async def json_body(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object (the web kit's reader: 413, 400 ``invalid_json``)."""
    return await read_json(request)


# ---------------------------------------------------------------------- login / logout (no session)
async def login_page(request: web.Request) -> web.StreamResponse:
    staff = await authenticate(request)
    if staff is not None:
        raise web.HTTPSeeOther(home_of(staff.user.role))
    return _login_form(request, pick_language(request.query.get("lang")), None, 200)


def _login_form(request: web.Request, lang: str, problem: str | None, status: int) -> web.Response:
    nonce = new_prelogin_nonce()
    response = render(
        request,
        "login.html",
        lang,
        status=status,
        csrf=prelogin_token(request.app, nonce),
        problem=problem,
    )
    set_cookie(response, request.app, PRELOGIN_COOKIE, nonce, max_age=3600)
    return response


async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    lang = pick_language(str(form.get("lang", "")))
    if not prelogin_ok(request.app, request.cookies.get(PRELOGIN_COOKIE), str(form.get("csrf", ""))):
        return _login_form(request, lang, "login_expired", 403)
    username = str(form.get("username", ""))[:64]
    # One more than the longest password: auth.login refuses it without hashing a megabyte.
    password = str(form.get("password", ""))[: MAX_PASSWORD_LENGTH + 1]
    if not await request.app[CONSOLE].limiter.allow(request.app, username):
        return _login_form(request, lang, "login_rate_limited", 429)
    if not username.isprintable():  # a NUL or another control character: no account has it
        return _login_form(request, lang, "login_invalid", 401)
    async with request.app[DB].session() as session:
        result = await auth.login(
            session, username, password, login_policy(request.app), browser=browser_summary(request)
        )
    if result.user is None or result.token is None:
        # One answer for a wrong password, an unknown name and a locked account: the lockout must
        # not tell which names exist.
        return _login_form(request, lang, "login_invalid", 401)
    await request.app[CONSOLE].limiter.succeeded(request.app, username)
    if result.pending is not None:
        # The password was right; the second factor (or its enrolment) comes next, on a pending
        # session that opens nothing else.
        response = web.HTTPSeeOther(f"/console/login/{result.pending}?lang={lang}")
        max_age = int(auth.PENDING_LIFETIME.total_seconds())
        set_cookie(response, request.app, STEP_COOKIE, result.token, max_age=max_age)
        clear_cookie(response, PRELOGIN_COOKIE)
        raise response
    response = web.HTTPSeeOther(home_of(result.user.role))
    lifetime = login_policy(request.app).session_lifetime
    set_cookie(response, request.app, SESSION_COOKIE, result.token, max_age=int(lifetime.total_seconds()))
    clear_cookie(response, PRELOGIN_COOKIE)
    raise response


async def logout(request: web.Request, staff: Staff) -> web.StreamResponse:
    token = request.cookies.get(SESSION_COOKIE, "")
    async with request.app[DB].session() as session:
        await auth.logout(session, token)
        await repo.audit(session, "auth.logout", actor=staff.user)
    # Signed out: no longer offered conversations nor counted on duty (signing in makes them available).
    await presence.signed_out(request.app[DB], outbox_for(request.app[DB], request.app[BROKER]), staff.user)
    hub = request.app[CONSOLE].hub
    if hub is not None:  # (its sockets leave the hub before the status event is published)
        await hub.close_session(staff.token_hash)
    response = web.HTTPSeeOther("/console/login")
    clear_cookie(response, SESSION_COOKIE)
    raise response


async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    body = await asyncio.to_thread((STATIC_DIR / name).read_bytes)
    return web.Response(body=body, content_type=STATIC_FILES[name], headers={"Cache-Control": "no-cache"})


# ---------------------------------------------------------------------- pages
async def console_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    options = shift_options(request.app)
    return render(
        request,
        "console.html",
        staff.lang,
        staff=staff,
        user=staff.user,
        queue_mode=options.queue_mode,
        may_pick=options.may_pick(staff.user.role),
    )


async def supervisor_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    return render(request, "supervisor.html", staff.lang, staff=staff, user=staff.user)


async def transcript_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    """A transcript as a server-rendered page (for reading and printing); audited like the API."""
    async with request.app[DB].session() as session:
        conv = await _conversation(request, session)
        tr = None if conv is None else await _transcript_of(staff, session, conv)
    if tr is None:
        raise web.HTTPNotFound()
    return render(request, "transcript.html", staff.lang, staff=staff, user=staff.user, tr=tr)


# ---------------------------------------------------------------------- JSON API
async def api_queue(request: web.Request, staff: Staff) -> web.StreamResponse:
    async with request.app[DB].session() as session:
        waiting, by_user = await data.queue_snapshot(session)
        status, auto = await presence.status_of(session, staff.user.id)
    mine = by_user.get(staff.user.id, [])
    options = shift_options(request.app)
    return web.json_response(
        {
            "waiting": waiting,
            "mine": mine,
            "capacity": staff.user.capacity,
            "load": len(mine),
            "me": {"username": staff.user.username, "display_name": staff.user.display_name},
            "queue_mode": options.queue_mode,
            "may_pick": options.may_pick(staff.user.role),
            "status": status,
            "status_auto": auto,
        }
    )


async def api_claim(request: web.Request, staff: Staff) -> web.StreamResponse:
    if not shift_options(request.app).may_pick(staff.user.role):
        # console.queue_mode next_only: counsellors take the next one (POST /console/api/queue/next).
        return web.json_response(
            {"error": "next_only", "message": strings(staff.lang)["next_only"]}, status=403
        )
    conv_id = conversation_id(request)

    async def transcript(session: AsyncSession, conv: Conversation) -> dict[str, Any]:
        # The claimer now holds it, whom the transcript's guard admits: the answer brings the
        # transcript as its GET answers it (audited the same), read in the claim's transaction,
        # and the page opens the panel from it without a request of its own (issue #18).
        return await _opened(request, staff, session, conv)

    found = await request.app[PIPELINE].staff.claim(conv_id, staff.user, then=transcript)
    return web.json_response({"ok": True, "conversation_id": conv_id, "transcript": found})


async def _conversation(request: web.Request, session: AsyncSession) -> Conversation | None:
    """The request's conversation; None when it was erased since the guard looked (``acts_on``:
    who may read it)."""
    try:
        return await repo.get_conversation(session, conversation_id(request))
    except NotFound:
        return None


async def _transcript_of(staff: Staff, session: AsyncSession, conv: Conversation) -> dict[str, Any]:
    """The transcript of ``conv``, its opening audited in ``session``."""
    await repo.audit(
        session,
        "transcript.opened",
        actor=staff.user,
        conversation_id=conv.id,
        details={"via": "console"},
    )
    return await data.transcript(session, conv, staff.lang, reader=staff.user)


async def _opened(
    request: web.Request, staff: Staff, session: AsyncSession, conv: Conversation
) -> dict[str, Any]:
    """The transcript with the counsellor's corrections and the panel's parts, read in
    ``session``, the opening audited there."""
    found = await _transcript_of(staff, session, conv)
    found["corrections"] = await of_counsellor(session, conv.id, staff.user.id)
    found["panels"] = await read_parts(request, staff, Opened(session, conv))
    return found


async def _transcript_answer(request: web.Request, staff: Staff) -> dict[str, Any] | None:
    """The transcript with the counsellor's corrections and the panel's parts, in one transaction
    (None: erased since the guard looked)."""
    async with request.app[DB].session() as session:
        conv = await _conversation(request, session)
        return None if conv is None else await _opened(request, staff, session, conv)


async def api_conversation(request: web.Request, staff: Staff) -> web.StreamResponse:
    found = await _transcript_answer(request, staff)
    return error(404, "not_found") if found is None else web.json_response(found)


async def api_reply(request: web.Request, staff: Staff) -> web.StreamResponse:
    text = body(request, ReplyBody).text
    try:
        msg = await request.app[PIPELINE].staff.reply(conversation_id(request), text, staff.user)
    except InvalidInput:
        return error(422, "invalid_text")
    return web.json_response({"message": data.client_message(msg)})


async def api_typing(request: web.Request, staff: Staff) -> web.StreamResponse:
    typing = body(request, TypingBody).typing
    await request.app[PIPELINE].staff.counsellor_typing(conversation_id(request), staff.user, typing)
    return web.json_response({"ok": True})


async def api_release(request: web.Request, staff: Staff) -> web.StreamResponse:
    await request.app[PIPELINE].staff.release(conversation_id(request), staff.user)
    return web.json_response({"ok": True})


async def api_transfer(request: web.Request, staff: Staff) -> web.StreamResponse:
    to = body(request, TransferBody).to.strip()
    async with request.app[DB].session() as session:
        target: StaffUser | None = await repo.user_by_name(session, to)
    if target is None or not target.active or target.role not in CONSOLE_ROLES:
        return error(404, "unknown_user")
    if target.id == staff.user.id:
        return error(409, "same_user")
    async with request.app[DB].session() as session:
        language = (await repo.get_conversation(session, conversation_id(request))).language
    await request.app[PIPELINE].staff.release(
        conversation_id(request),
        staff.user,
        to_user=target,
        notice=catalogues.text("person", catalogues.pick("person", language), "notice.transferred"),
    )
    return web.json_response({"ok": True, "to": target.username})


async def api_close(request: web.Request, staff: Staff) -> web.StreamResponse:
    reason = body(request, CloseBody).reason[:200]
    conv_id = conversation_id(request)

    async def parts(session: AsyncSession, conv: Conversation) -> dict[str, Any]:
        # The close's guard admitted the holder, a supervisor or an admin: each may document it.
        # Read in the close's own transaction.
        return await read_parts(request, staff, Opened(session, conv), at=CLOSED)

    found = await request.app[PIPELINE].staff.close(conv_id, staff.user, reason, then=parts)
    return web.Response(
        text='{"ok": true, "parts": ' + parts_json(found or {}) + "}", content_type="application/json"
    )


async def api_canned(request: web.Request, staff: Staff) -> web.StreamResponse:
    return web.json_response({"language": staff.lang, "canned": request.app[CONSOLE].canned})


async def api_supervisor(request: web.Request, staff: Staff) -> web.StreamResponse:
    async with request.app[DB].session() as session:
        view = await data.supervisor_view(session)
    return web.json_response(view)


async def api_audit(request: web.Request, staff: Staff) -> web.StreamResponse:
    conv_id = request.query.get("conversation_id") or None
    if conv_id is not None and (len(conv_id) > 32 or not conv_id.isalnum()):
        return error(400, "bad_conversation_id")
    async with request.app[DB].session() as session:
        events = await data.audit_events(session, conv_id)
    return web.json_response({"events": events})
