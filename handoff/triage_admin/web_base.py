"""What the triage admin's web modules share: the application's :class:`TriageAdmin`, the page
renderer and the answer of a refusal (:class:`AdminError`) in the one error shape."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway.web_errors import error_body
from handoff.console.i18n import client_strings, gettext
from handoff.console.security import Staff
from handoff.console.views import CONSOLE
from handoff.triage_admin.service import TriageAdmin
from handoff.triage_admin.state import AdminError
from handoff.triage_admin.strings import admin_strings

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
        gettext=gettext(staff.lang),
        lang=staff.lang,
        client=client,
        path=request.path,
        staff=staff,
        user=staff.user,
        **context,
    )
    return web.Response(text=html, content_type="text/html", charset="utf-8")


def refused_fields(exc: AdminError, *catalogues: Mapping[str, str]) -> dict[str, str] | None:
    """``{field: words}`` for a refusal of one field of the input (the first catalogue with words for
    ``e_<code>`` or ``error_<code>``), else None: the page has the words of every code itself."""
    if not exc.field:
        return None
    for words in catalogues:
        text = words.get("e_" + exc.code) or words.get("error_" + exc.code)
        if text:
            return {exc.field: text}
    return {exc.field: exc.code}


def admin_error(staff: Staff, exc: AdminError) -> web.Response:
    """A refusal in the one body shape: ``{"error": code}``, with ``fields`` (field -> the admin's
    words) when it refuses a field of the input."""
    return web.json_response(
        error_body(exc.code, refused_fields(exc, admin_strings(staff.lang))), status=exc.status
    )


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
