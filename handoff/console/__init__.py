"""The counsellor console: login, the live queue, conversations, supervision; HTML pages and a JSON API.

Everything lives under ``/console``.  :data:`ROUTES` is the console's table of the routes behind a
login, each a :class:`handoff.web.Route` with the roles that may use it, its input schema and its
answers; :func:`setup` adds them through the web kit's guard (:mod:`handoff.web.guard`: the
session check, 401 for the API and a redirect to the login page for pages; the role check, 403;
for POST the CSRF check, header ``X-CSRF-Token`` or the form field ``csrf`` of the logout form; the
body, 422 with ``fields``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from gateway import deadletter
from gateway.appkeys import BROKER, DB, METRICS, SETTINGS
from gateway.session_cache import SessionCache
from handoff.web import ADMIN_ROLES, ALL_ROLES, CONSOLE_ROLES, SUPERVISOR_ROLES, Kind, Route, in_path

from .corrections_web import api_correct
from .live import Hub
from .live_socket import websocket
from .schemas import (
    AuditAnswer,
    CannedAnswer,
    ClaimAnswer,
    CloseBody,
    ClosedAnswer,
    ConversationAnswer,
    CorrectionAnswer,
    CorrectionBody,
    DeadLettersAnswer,
    MessageAnswer,
    OkAnswer,
    QueueAnswer,
    ReplyBody,
    SupervisorAnswer,
    TransferAnswer,
    TransferBody,
    TypingBody,
)
from .second_step import add_step_routes
from .security import SESSION_CACHE, Staff
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
    console_page,
    login_page,
    login_submit,
    logout,
    render,
    static_file,
    supervisor_page,
    transcript_page,
)

log = logging.getLogger(__name__)

StaffHandler = Callable[[web.Request, Staff], Awaitable[web.StreamResponse]]
ConsoleRoute = Route
"""The console's route type is the web kit's (the name stays for the tables that use it)."""
CONV = "/console/api/conversations/{conversation_id:[0-9a-f]{32}}"
MESSAGE = "/messages/{message_id:[0-9a-f]{32}}"
TRANSCRIPT = in_path().but(denied="transcript.denied")
"""Who may read a transcript: its counsellor, supervisors and admins (every refusal audited)."""


async def api_dead_letters(request: web.Request, staff: Staff) -> web.StreamResponse:
    """Messages no channel could store (gateway.deadletter): channel, reason, time; never the payload."""
    db = request.app[DB]
    return web.json_response(
        {"count": await deadletter.count(db), "dead_letters": await deadletter.recent(db)}
    )


ROUTES: tuple[Route, ...] = (
    Route("POST", "/console/logout", logout, ALL_ROLES, "page", summary="Sign out"),
    Route("GET", "/console", console_page, CONSOLE_ROLES, "page", summary="The console"),
    Route("GET", "/console/supervisor", supervisor_page, SUPERVISOR_ROLES, "page", summary="Supervision"),
    Route(
        "GET",
        "/console/conversations/{conversation_id:[0-9a-f]{32}}",
        transcript_page,
        CONSOLE_ROLES,
        "page",
        acts_on=TRANSCRIPT,
        summary="A transcript, for reading and printing (audited)",
    ),
    Route("GET", "/console/ws", websocket, CONSOLE_ROLES, "ws", summary="The live socket"),
    Route(
        "GET", "/console/api/queue", api_queue, CONSOLE_ROLES, answers={200: QueueAnswer}, summary="The queue"
    ),
    Route(
        "GET",
        CONV,
        api_conversation,
        CONSOLE_ROLES,
        acts_on=TRANSCRIPT,
        answers={200: ConversationAnswer},
        summary="A transcript (audited)",
    ),
    Route("POST", CONV + "/claim", api_claim, CONSOLE_ROLES, answers={200: ClaimAnswer}, summary="Claim"),
    Route(
        "POST",
        CONV + "/reply",
        api_reply,
        CONSOLE_ROLES,
        body=ReplyBody,
        answers={200: MessageAnswer},
        idempotency="reply",
        summary="Reply to the person",
    ),
    Route(
        "POST",
        CONV + "/typing",
        api_typing,
        CONSOLE_ROLES,
        body=TypingBody,
        answers={200: OkAnswer},
        summary="Typing or not",
    ),
    Route(
        "POST",
        CONV + "/release",
        api_release,
        CONSOLE_ROLES,
        answers={200: OkAnswer},
        summary="Release to the queue",
    ),
    Route(
        "POST",
        CONV + "/transfer",
        api_transfer,
        CONSOLE_ROLES,
        body=TransferBody,
        answers={200: TransferAnswer},
        idempotency="transfer",
        summary="Transfer to a colleague",
    ),
    Route(
        "POST",
        CONV + "/close",
        api_close,
        CONSOLE_ROLES,
        body=CloseBody,
        answers={200: ClosedAnswer},
        summary="Close the conversation",
    ),
    Route(
        "POST",
        CONV + MESSAGE + "/correction",
        api_correct,
        CONSOLE_ROLES,
        body=CorrectionBody,
        answers={200: CorrectionAnswer, 201: CorrectionAnswer},
        summary="Correct a message's triage",
    ),
    Route(
        "GET",
        "/console/api/canned",
        api_canned,
        CONSOLE_ROLES,
        answers={200: CannedAnswer},
        summary="Canned responses",
    ),
    Route(
        "GET",
        "/console/api/supervisor",
        api_supervisor,
        SUPERVISOR_ROLES,
        answers={200: SupervisorAnswer},
        summary="The supervisor's overview",
    ),
    Route(
        "GET",
        "/console/api/audit",
        api_audit,
        SUPERVISOR_ROLES,
        answers={200: AuditAnswer},
        summary="The audit log",
    ),
    Route(
        "GET",
        "/console/api/dead-letters",
        api_dead_letters,
        ADMIN_ROLES,
        answers={200: DeadLettersAnswer},
        summary="Dead letters",
    ),
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


def guarded(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The web kit's guard (:func:`handoff.web.guard.guarded`), for the tables that import it from here."""
    from handoff.web.guard import guarded as kit_guarded  # (it builds on this package's modules)

    return kit_guarded(route)


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    if request.path == "/console" or request.path.startswith("/console/"):
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.path.startswith("/console/static/"):
            response.headers.setdefault("Cache-Control", "no-store")


def forbidden_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    return render(request, "forbidden.html", staff.lang, status=403, staff=staff, user=staff.user)


def setup(app: web.Application) -> None:
    """Add the console's routes, its live-update hub and its security headers to the gateway."""
    from handoff.web.guard import FORBIDDEN_PAGE, add_routes

    state = ConsoleState()
    app[CONSOLE] = state
    app[FORBIDDEN_PAGE] = forbidden_page
    app[SESSION_CACHE] = SessionCache(float(app[SETTINGS].section("console")["session_cache_seconds"]))

    async def hub_ctx(app: web.Application) -> AsyncIterator[None]:
        hub = Hub(app[DB], app[BROKER], app.get(METRICS))
        await hub.start()
        if METRICS in app:
            app[METRICS].count_sockets("consoles", lambda: len(hub.clients))
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
    add_step_routes(app)
    app.router.add_get("/console/static/{name}", static_file)
    add_routes(app, ROUTES)


__all__ = ["CONSOLE", "ROUTES", "ConsoleRoute", "ConsoleState", "Kind", "guarded", "setup"]
