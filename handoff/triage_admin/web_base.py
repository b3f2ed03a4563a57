"""What the triage admin's web modules share: the application's :class:`TriageAdmin`, the page
renderer and the answer of a refusal (:class:`AdminError`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway.web_errors import error_body
from handoff.console.i18n import client_strings
from handoff.console.security import Staff
from handoff.console.views import CONSOLE
from handoff.triage_admin.service import TriageAdmin
from handoff.triage_admin.state import AdminError
from handoff.triage_admin.strings import ADMIN_STRINGS, admin_strings

API = "/console/api/triage"
STATIC_DIR = Path(__file__).resolve().parents[1] / "console" / "static"
STATIC_FILES = {"admin_triage.js": "text/javascript", "admin_corrections.js": "text/javascript"}
VERSION_RE = "{version:[A-Za-z0-9._-]{1,100}}"
JOB_RE = "{job_id:[0-9a-f]{32}}"


TRIAGE_ADMIN = web.AppKey("triage_admin", TriageAdmin)


# ---------------------------------------------------------------------- views
def _admin(request: web.Request) -> TriageAdmin:
    return request.app[TRIAGE_ADMIN]


def render_admin(request: web.Request, staff: Staff, template: str, **context: Any) -> web.Response:
    state = request.app[CONSOLE]
    words = admin_strings(staff.lang)
    client = {**client_strings(staff.lang), "t": words}
    html = state.templates.get_template(template).render(
        t=words,
        lang=staff.lang,
        client=client,
        path=request.path,
        staff=staff,
        user=staff.user,
        **context,
    )
    return web.Response(text=html, content_type="text/html", charset="utf-8")


def admin_error(staff: Staff, exc: AdminError, **extra: Any) -> web.Response:
    """A refusal in the one body shape (``{"error": code}``) with the admin's words for it
    (``message``) and, when there is one, the detail (``detail``: the field, or the check that failed)."""
    words = ADMIN_STRINGS.get(staff.lang, ADMIN_STRINGS["sv"])
    body: dict[str, Any] = {
        **error_body(exc.code),
        "message": words.get("e_" + exc.code, exc.detail or exc.code),
    }
    if exc.detail:
        body["detail"] = exc.detail
    body.update(extra)
    return web.json_response(body, status=exc.status)


def handles_errors(
    handler: Callable[[web.Request, Staff], Awaitable[web.StreamResponse]],
) -> Callable[[web.Request, Staff], Awaitable[web.StreamResponse]]:
    async def wrapped(request: web.Request, staff: Staff) -> web.StreamResponse:
        try:
            return await handler(request, staff)
        except AdminError as exc:
            return admin_error(staff, exc)

    wrapped.__name__ = handler.__name__
    return wrapped
