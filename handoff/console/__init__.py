"""The counsellor console: login, the live queue, conversations, supervision; HTML pages and a JSON API.

Everything lives under ``/console``.  :data:`ROUTES` is the one table of the routes behind a login,
each with the roles that may use it; :func:`setup` wraps every handler with the session check
(401 for the API, a redirect to the login page for pages), the role check (403) and, for POST,
the CSRF check (header ``X-CSRF-Token``, or the form field ``csrf`` of the logout form).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from aiohttp import web

from gateway import deadletter
from gateway.appkeys import BROKER, DB
from gateway.store.models import Role

from .corrections_web import api_correct
from .idempotency import idempotent
from .live import Hub
from .security import ALL_ROLES, CONSOLE_ROLES, SUPERVISOR_ROLES, Staff, authenticate
from .views import (
    CONSOLE,
    ConsoleState,
    api_audit,
    api_canned,
    api_claim,
    api_close,
    api_conversation,
    api_queue,
    api_release,
    api_reply,
    api_supervisor,
    api_transfer,
    api_typing,
    check_csrf,
    console_page,
    error,
    login_page,
    login_submit,
    logout,
    render,
    static_file,
    supervisor_page,
    transcript_page,
    websocket,
)

log = logging.getLogger(__name__)

StaffHandler = Callable[[web.Request, Staff], Awaitable[web.StreamResponse]]
Kind = Literal["page", "api", "ws"]
ADMIN_ROLES = frozenset({Role.ADMIN.value})
CONV = "/console/api/conversations/{conversation_id:[0-9a-f]{32}}"
MESSAGE = "/messages/{message_id:[0-9a-f]{32}}"


async def api_dead_letters(request: web.Request, staff: Staff) -> web.StreamResponse:
    """Messages no channel could store (gateway.deadletter): channel, reason, time; never the payload."""
    db = request.app[DB]
    return web.json_response(
        {"count": await deadletter.count(db), "dead_letters": await deadletter.recent(db)}
    )


@dataclass(frozen=True, slots=True)
class ConsoleRoute:
    method: str
    path: str
    handler: StaffHandler
    roles: frozenset[str]
    kind: Kind


ROUTES: tuple[ConsoleRoute, ...] = (
    ConsoleRoute("POST", "/console/logout", logout, ALL_ROLES, "page"),
    ConsoleRoute("GET", "/console", console_page, CONSOLE_ROLES, "page"),
    ConsoleRoute("GET", "/console/supervisor", supervisor_page, SUPERVISOR_ROLES, "page"),
    ConsoleRoute(
        "GET", "/console/conversations/{conversation_id:[0-9a-f]{32}}", transcript_page, CONSOLE_ROLES, "page"
    ),
    ConsoleRoute("GET", "/console/ws", websocket, CONSOLE_ROLES, "ws"),
    ConsoleRoute("GET", "/console/api/queue", api_queue, CONSOLE_ROLES, "api"),
    ConsoleRoute("GET", CONV, api_conversation, CONSOLE_ROLES, "api"),
    ConsoleRoute("POST", CONV + "/claim", api_claim, CONSOLE_ROLES, "api"),
    ConsoleRoute("POST", CONV + "/reply", idempotent("reply", api_reply), CONSOLE_ROLES, "api"),
    ConsoleRoute("POST", CONV + "/typing", api_typing, CONSOLE_ROLES, "api"),
    ConsoleRoute("POST", CONV + "/release", api_release, CONSOLE_ROLES, "api"),
    ConsoleRoute("POST", CONV + "/transfer", idempotent("transfer", api_transfer), CONSOLE_ROLES, "api"),
    ConsoleRoute("POST", CONV + "/close", api_close, CONSOLE_ROLES, "api"),
    ConsoleRoute("POST", CONV + MESSAGE + "/correction", api_correct, CONSOLE_ROLES, "api"),
    ConsoleRoute("GET", "/console/api/canned", api_canned, CONSOLE_ROLES, "api"),
    ConsoleRoute("GET", "/console/api/supervisor", api_supervisor, SUPERVISOR_ROLES, "api"),
    ConsoleRoute("GET", "/console/api/audit", api_audit, SUPERVISOR_ROLES, "api"),
    ConsoleRoute("GET", "/console/api/dead-letters", api_dead_letters, ADMIN_ROLES, "api"),
)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def guarded(route: ConsoleRoute) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handler(request: web.Request) -> web.StreamResponse:
        staff = await authenticate(request)
        if staff is None:
            if route.kind == "page":
                raise web.HTTPSeeOther("/console/login")
            return error(401, "not_signed_in")
        if staff.user.role not in route.roles:
            if route.kind == "page":
                return render(request, "forbidden.html", staff.lang, status=403, staff=staff, user=staff.user)
            return error(403, "forbidden")
        if request.method == "POST":
            form_token: str | None = None
            if route.kind == "page":
                form = await request.post()
                form_token = str(form.get("csrf", "")) or None
            if not check_csrf(request, staff, form_token):
                return error(403, "csrf")
        return await route.handler(request, staff)

    handler.__name__ = route.handler.__name__
    return handler


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path == "/console" or request.path.startswith("/console/"):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.path.startswith("/console/static/"):
            response.headers.setdefault("Cache-Control", "no-store")


def setup(app: web.Application) -> None:
    """Add the console's routes, its live-update hub and its security headers to the gateway."""
    state = ConsoleState()
    app[CONSOLE] = state

    async def hub_ctx(app: web.Application) -> AsyncIterator[None]:
        hub = Hub(app[DB], app[BROKER])
        await hub.start()
        state.hub = hub
        yield
        state.hub = None
        await hub.stop()

    async def going_away(app: web.Application) -> None:
        if state.hub is not None:
            count = await state.hub.going_away()
            log.info("stopping: %d console socket(s) closed (1001 going away)", count)

    app.cleanup_ctx.append(hub_ctx)
    app.on_shutdown.append(going_away)
    app.on_response_prepare.append(_security_headers)
    app.router.add_get("/console/login", login_page)
    app.router.add_post("/console/login", login_submit)
    app.router.add_get("/console/static/{name}", static_file)
    for route in ROUTES:
        app.router.add_route(route.method, route.path, guarded(route))


__all__ = ["CONSOLE", "ROUTES", "ConsoleRoute", "ConsoleState", "setup"]
