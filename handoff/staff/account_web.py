"""Every staff member's own account at ``/console/account``: their signed-in sessions (when made,
last seen, the browser in a few words; never an address), ending any of them, and their second
factor: enrol (the ``otpauth://`` address and its QR code), new recovery codes, and, for the roles
that need none, turning it off.  Codes are rate-limited like those of the login."""

from __future__ import annotations

import hashlib

from aiohttp import web

from gateway import auth, twofactor
from gateway.appkeys import DB
from gateway.errors import Conflict, InvalidInput
from gateway.store import repo
from handoff.console.second_step import totp_box
from handoff.console.security import Staff, login_policy
from handoff.console.views import CONSOLE, render
from handoff.web import ALL_ROLES, Route
from handoff.web.errors import problem
from handoff.web.validation import body

from . import enrolment
from .schemas import CodeBody, EndedAnswer, EnrolmentAnswer, RecoveryCodesAnswer, SessionsAnswer

SESSION = "/console/api/account/sessions/{session_id:[0-9a-f]{16}}"


def session_id(token_hash: str) -> str:
    """The id a session is shown by: derived from its token hash, which is not shown itself."""
    return hashlib.sha256(b"session id\0" + token_hash.encode()).hexdigest()[:16]


async def close_sockets(app: web.Application, token_hashes: list[str]) -> None:
    """Close the live sockets of sessions just ended (this process; the others within seconds)."""
    hub = app[CONSOLE].hub
    if hub is not None:
        for token_hash in token_hashes:
            await hub.close_session(token_hash)


async def account_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    return render(request, "account.html", staff.lang, staff=staff, user=staff.user)


async def api_account(request: web.Request, staff: Staff) -> web.StreamResponse:
    async with request.app[DB].session() as session:
        rows = await auth.sessions_of(session, staff.user.id)
        left = await twofactor.recovery_codes_left(session, staff.user.id)
    return web.json_response(
        {
            "sessions": [
                {
                    "id": session_id(row.token_hash),
                    "created_at": row.created_at.isoformat(),
                    "last_seen_at": row.last_seen_at.isoformat(),
                    "browser": row.browser,
                    "current": row.token_hash == staff.token_hash,
                }
                for row in rows
            ],
            "second_factor": staff.user.totp_enabled_at is not None,
            "second_factor_required": staff.user.role in login_policy(request.app).second_factor_roles,
            "recovery_codes_left": left,
        }
    )


async def api_end_session(request: web.Request, staff: Staff) -> web.StreamResponse:
    wanted = request.match_info["session_id"]
    async with request.app[DB].session() as session:
        rows = await auth.sessions_of(session, staff.user.id)
        found = next((row.token_hash for row in rows if session_id(row.token_hash) == wanted), None)
        if found is None:
            return problem(404, "not_found")
        ended = await auth.end_sessions(session, staff.user.id, found)
        await repo.audit(
            session, "auth.session_ended", actor=staff.user, details={"own": found == staff.token_hash}
        )
    await close_sockets(request.app, ended)
    return web.json_response({"ok": True, "ended": len(ended)})


async def api_enrol_start(request: web.Request, staff: Staff) -> web.StreamResponse:
    try:
        async with request.app[DB].session() as session:
            user = await repo.user_by_id(session, staff.user.id)
            started = await enrolment.start(session, user, totp_box(request.app))
    except Conflict:
        return problem(409, "already_enrolled")
    return web.json_response({"secret": started.secret, "uri": started.uri, "qr_svg": started.qr_svg})


async def _code_allowed(request: web.Request, staff: Staff) -> bool:
    return await request.app[CONSOLE].limiter.allow_code(request.app, staff.user.id)


async def api_enrol_confirm(request: web.Request, staff: Staff) -> web.StreamResponse:
    code = body(request, CodeBody).code
    if not await _code_allowed(request, staff):
        return problem(429, "rate_limited")
    try:
        async with request.app[DB].session() as session:
            user = await repo.user_by_id(session, staff.user.id)
            codes = await enrolment.confirm(session, user, totp_box(request.app), code)
    except Conflict:
        return problem(409, "already_enrolled")
    except InvalidInput:
        return problem(422, "code_invalid", {"code": "code_invalid"})
    await request.app[CONSOLE].limiter.code_succeeded(request.app, staff.user.id)
    return web.json_response({"recovery_codes": codes})


async def api_new_recovery_codes(request: web.Request, staff: Staff) -> web.StreamResponse:
    code = body(request, CodeBody).code
    if not await _code_allowed(request, staff):
        return problem(429, "rate_limited")
    async with request.app[DB].session() as session:
        user = await repo.user_by_id(session, staff.user.id)
        if user.totp_enabled_at is None:
            return problem(409, "not_enrolled")
        if not await twofactor.check_code(session, user, code, totp_box(request.app)):
            return problem(422, "code_invalid", {"code": "code_invalid"})
        codes = await twofactor.new_recovery_codes(session, user.id)
        await repo.audit(session, "user.recovery_codes_renewed", actor=user)
    return web.json_response({"recovery_codes": codes})


async def api_second_factor_off(request: web.Request, staff: Staff) -> web.StreamResponse:
    code = body(request, CodeBody).code
    if not await _code_allowed(request, staff):
        return problem(429, "rate_limited")
    required = login_policy(request.app).second_factor_roles
    try:
        async with request.app[DB].session() as session:
            user = await repo.user_by_id(session, staff.user.id)
            await enrolment.turn_off(session, user, totp_box(request.app), code, required)
    except Conflict:
        return problem(409, "second_factor_required")
    except InvalidInput:
        return problem(422, "code_invalid", {"code": "code_invalid"})
    return web.json_response({"ok": True, "ended": 0})


ACCOUNT = "/console/api/account"
ROUTES: tuple[Route, ...] = (
    Route("GET", "/console/account", account_page, ALL_ROLES, "page", summary="My account"),
    Route(
        "GET",
        ACCOUNT,
        api_account,
        ALL_ROLES,
        answers={200: SessionsAnswer},
        summary="My sessions and second factor",
    ),
    Route(
        "POST",
        SESSION + "/end",
        api_end_session,
        ALL_ROLES,
        answers={200: EndedAnswer},
        summary="End one of my sessions",
    ),
    Route(
        "POST",
        ACCOUNT + "/2fa/start",
        api_enrol_start,
        ALL_ROLES,
        answers={200: EnrolmentAnswer},
        summary="Start enrolling a second factor",
    ),
    Route(
        "POST",
        ACCOUNT + "/2fa/confirm",
        api_enrol_confirm,
        ALL_ROLES,
        body=CodeBody,
        answers={200: RecoveryCodesAnswer},
        summary="Confirm the second factor with its first code",
    ),
    Route(
        "POST",
        ACCOUNT + "/2fa/recovery-codes",
        api_new_recovery_codes,
        ALL_ROLES,
        body=CodeBody,
        answers={200: RecoveryCodesAnswer},
        summary="New recovery codes",
    ),
    Route(
        "POST",
        ACCOUNT + "/2fa/off",
        api_second_factor_off,
        ALL_ROLES,
        body=CodeBody,
        answers={200: EndedAnswer},
        summary="Turn my second factor off (roles that need none)",
    ),
)

__all__ = ["ROUTES", "close_sockets", "session_id"]
