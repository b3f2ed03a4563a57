"""The second step of a login: the code of the second factor, or the enrolment a supervisor or
admin must make before anything else.

After the right password a user with a second factor (or whose role needs one) holds only a
*pending* session (cookie ``hl_console_step``, ten minutes) that opens these pages and nothing else;
the guard of every other route does not know it.  The right code (or an unused recovery code)
replaces it with a real session under a new token.  Codes are rate-limited per user (five per five
minutes) and a code cannot be used twice (:mod:`gateway.twofactor`).  These routes need no
session, like the login form; their forms carry the pending session's CSRF token.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import auth, twofactor
from gateway.appkeys import DB, SETTINGS
from gateway.crypto import ContactCipher
from gateway.errors import Conflict, InvalidInput
from gateway.store import repo
from gateway.store.models import StaffSession, StaffUser
from handoff.staff import enrolment

from .i18n import pick_language
from .security import SESSION_COOKIE, STEP_COOKIE, clear_cookie, csrf_ok, login_policy, set_cookie
from .views import CONSOLE, home_of, render

CODE_PATH = "/console/login/code"
ENROL_PATH = "/console/login/enrol"
STEP_PATHS = {"code": CODE_PATH, "enrol": ENROL_PATH}


def totp_box(app: web.Application) -> ContactCipher:
    settings = app[SETTINGS]
    return twofactor.cipher(settings.contact_key, settings.previous_contact_keys)


def _restart() -> web.HTTPSeeOther:
    response = web.HTTPSeeOther("/console/login")
    clear_cookie(response, STEP_COOKIE)
    return response


def _lang(request: web.Request, fallback: str) -> str:
    return pick_language(request.query.get("lang"), fallback)


def _signed_in(request: web.Request, response: web.StreamResponse, result: auth.LoginResult) -> None:
    assert result.token is not None
    lifetime = login_policy(request.app).session_lifetime
    set_cookie(response, request.app, SESSION_COOKIE, result.token, max_age=int(lifetime.total_seconds()))
    clear_cookie(response, STEP_COOKIE)


async def _pending(request: web.Request, session: AsyncSession, kind: str) -> tuple[StaffUser, StaffSession]:
    """The login halfway whose step is ``kind`` ("code" or "enrol"), or back to the login form."""
    token = request.cookies.get(STEP_COOKIE, "")
    found = await auth.pending_login(session, token) if token else None
    if found is None or found[1].pending != kind:
        raise _restart()
    return found


async def code_page(request: web.Request) -> web.StreamResponse:
    async with request.app[DB].session() as session:
        user, row = await _pending(request, session, "code")
    return render(
        request, "login_code.html", _lang(request, user.language), csrf=row.csrf_token, problem=None
    )


async def code_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    code = str(form.get("code", ""))[:40]
    policy = login_policy(request.app)
    async with request.app[DB].session() as session:
        user, row = await _pending(request, session, "code")
        lang = pick_language(str(form.get("lang", "")), user.language)
        if not csrf_ok(row.csrf_token, str(form.get("csrf", ""))):
            return render(
                request, "login_code.html", lang, status=403, csrf=row.csrf_token, problem="login_expired"
            )
        if not await request.app[CONSOLE].limiter.allow_code(request.app, user.id):
            return render(
                request,
                "login_code.html",
                lang,
                status=429,
                csrf=row.csrf_token,
                problem="login_rate_limited",
            )
        how = None
        if await twofactor.check_code(session, user, code, totp_box(request.app)):
            how = "totp"
        elif await twofactor.use_recovery_code(session, user.id, code):
            how = "recovery_code"
        if how is None:
            await repo.audit(session, "auth.second_factor_failed", actor=user)
            return render(
                request, "login_code.html", lang, status=401, csrf=row.csrf_token, problem="code_invalid"
            )
        result = await auth.complete_login(session, user, row, policy, how)
    await request.app[CONSOLE].limiter.code_succeeded(request.app, user.id)
    response = web.HTTPSeeOther(home_of(user.role))
    _signed_in(request, response, result)
    raise response


async def enrol_page(request: web.Request) -> web.StreamResponse:
    async with request.app[DB].session() as session:
        user, row = await _pending(request, session, "enrol")
        try:
            started = await enrolment.start(session, user, totp_box(request.app))
        except Conflict:  # enrolled meanwhile (another tab): the login starts again, with a code
            raise _restart() from None
    return render(
        request,
        "login_enrol.html",
        _lang(request, user.language),
        csrf=row.csrf_token,
        enrol=started,
        problem=None,
    )


async def enrol_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    code = str(form.get("code", ""))[:40]
    box = totp_box(request.app)
    async with request.app[DB].session() as session:
        user, row = await _pending(request, session, "enrol")
        lang = pick_language(str(form.get("lang", "")), user.language)
        problem = None
        codes: list[str] = []
        if not csrf_ok(row.csrf_token, str(form.get("csrf", ""))):
            problem, status = "login_expired", 403
        elif not await request.app[CONSOLE].limiter.allow_code(request.app, user.id):
            problem, status = "login_rate_limited", 429
        else:
            try:
                codes = await enrolment.confirm(session, user, box, code)
            except InvalidInput:
                problem, status = "code_invalid", 401
            except Conflict:
                raise _restart() from None
        if problem is not None:
            started = await enrolment.start(session, user, box)
            return render(
                request,
                "login_enrol.html",
                lang,
                status=status,
                csrf=row.csrf_token,
                enrol=started,
                problem=problem,
            )
        result = await auth.complete_login(session, user, row, login_policy(request.app), "enrolled")
    await request.app[CONSOLE].limiter.code_succeeded(request.app, user.id)
    response = render(request, "recovery_codes.html", lang, codes=codes, next=home_of(user.role))
    _signed_in(request, response, result)
    return response


def add_step_routes(app: web.Application) -> None:
    app.router.add_get(CODE_PATH, code_page)
    app.router.add_post(CODE_PATH, code_submit)
    app.router.add_get(ENROL_PATH, enrol_page)
    app.router.add_post(ENROL_PATH, enrol_submit)
