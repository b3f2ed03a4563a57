"""What the handoff APIs share (referrals, disclosures, the portal): the handoff options, the one
delivery worker, JSON bodies and errors, who may act on a conversation, and the guard of a route
behind a login (the console's session, role and CSRF header ``X-CSRF-Token`` on POST)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway.appkeys import BROKER, CONSUMER, DB, SETTINGS
from gateway.broker.base import Event, Subscription
from gateway.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from gateway.store import repo
from handoff.console.security import CSRF_HEADER, Staff, authenticate, csrf_ok
from handoff.console.views import render
from handoff.referrals.options import DELIVER_GROUP, TOPIC_DELIVER, HandoffOptions

HANDOFF_OPTIONS = web.AppKey("handoff_options", HandoffOptions)
DELIVERERS = web.AppKey("handoff_deliverers", dict[str, Callable[[str], Awaitable[None]]])

MAX_BODY = 64 * 1024
ID = "{%s:[0-9a-f]{32}}"
CONV = "/console/api/conversations/" + ID % "conversation_id"

Handler = Callable[[web.Request, Staff], Awaitable[web.StreamResponse]]


def handoff_options(app: web.Application) -> HandoffOptions:
    """The ``handoff`` section's options, made by the first extension that asks (a deployment or a
    test may replace them under :data:`HANDOFF_OPTIONS` before the application starts)."""
    if HANDOFF_OPTIONS not in app:
        app[HANDOFF_OPTIONS] = HandoffOptions.from_section(app[SETTINGS].section("handoff"))
    return app[HANDOFF_OPTIONS]


def deliverers(app: web.Application) -> dict[str, Callable[[str], Awaitable[None]]]:
    """The one delivery worker of handoffs (topic ``handoff.deliver``, group ``handoff``): each kind
    (``referral``, ``disclosure``) adds its delivery here when its service starts."""
    if DELIVERERS in app:
        return app[DELIVERERS]
    found: dict[str, Callable[[str], Awaitable[None]]] = {}
    app[DELIVERERS] = found
    subs: list[Subscription] = []

    async def deliver(event: Event) -> None:
        handler = found.get(str(event.payload.get("kind")))
        if handler is not None:
            await handler(str(event.payload["id"]))

    async def start(app: web.Application) -> None:  # after every service has started
        subs.append(
            await app[BROKER].subscribe(TOPIC_DELIVER, DELIVER_GROUP, deliver, consumer=app[CONSUMER])
        )

    async def stop(app: web.Application) -> None:
        for sub in subs:
            await sub.cancel()
        subs.clear()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
    return found


def error(status: int, code: str) -> web.Response:
    return web.json_response({"error": code}, status=status)


def error_code(exc: Exception, default: str) -> str:
    text = str(exc.args[0]) if exc.args else default
    return text if text.replace("_", "").isalnum() else default


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_BODY, actual_size=request.content_length)
    if not request.body_exists:  # (not can_read_body: the body may have been read already, e.g. hashed)
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text='{"error": "invalid_json"}', content_type="application/json") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='{"error": "invalid_json"}', content_type="application/json")
    return body


def handles_errors(handler: Handler) -> Handler:
    async def wrapped(request: web.Request, staff: Staff) -> web.StreamResponse:
        try:
            return await handler(request, staff)
        except NotFound:
            return error(404, "not_found")
        except InvalidInput as exc:
            return error(422, error_code(exc, "invalid_input"))
        except PermissionDenied as exc:
            return error(403, error_code(exc, "forbidden"))
        except Conflict as exc:
            return error(409, error_code(exc, "conflict"))

    wrapped.__name__ = handler.__name__
    return wrapped


async def may_act_on(request: web.Request, staff: Staff, conversation_id: str) -> web.Response | None:
    """A counsellor acts on the conversation assigned to them; a supervisor or admin on any."""
    async with request.app[DB].session() as session:
        try:
            conv = await repo.get_conversation(session, conversation_id)
        except NotFound:
            return error(404, "not_found")
        holds = conv.state == "assigned" and conv.assigned_to == staff.user.id
        if holds or staff.is_supervisor:
            return None
        await repo.audit(session, "handoff.denied", actor=staff.user, conversation_id=conversation_id)
    return error(403, "not_assigned_to_you")


def text_field(body: dict[str, Any], key: str, default: str = "") -> str:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidInput(f"{key}_must_be_text")
    return value


@dataclass(frozen=True, slots=True)
class HandoffRoute:
    method: str
    path: str
    handler: Handler
    roles: frozenset[str]
    page: bool = False  # an HTML page: a redirect to the login page without a session


def guarded(route: HandoffRoute) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    inner = handles_errors(route.handler)

    async def handler(request: web.Request) -> web.StreamResponse:
        staff = await authenticate(request)
        if staff is None:
            if route.page:
                raise web.HTTPSeeOther("/console/login")
            return error(401, "not_signed_in")
        if staff.user.role not in route.roles:
            if route.page:
                return render(request, "forbidden.html", staff.lang, status=403, staff=staff, user=staff.user)
            return error(403, "forbidden")
        if request.method == "POST" and not csrf_ok(staff.csrf, request.headers.get(CSRF_HEADER)):
            return error(403, "csrf")
        return await inner(request, staff)

    handler.__name__ = route.handler.__name__
    return handler


__all__ = [
    "CONV",
    "DELIVERERS",
    "HANDOFF_OPTIONS",
    "ID",
    "HandoffRoute",
    "deliverers",
    "error",
    "guarded",
    "handles_errors",
    "handoff_options",
    "json_body",
    "may_act_on",
    "text_field",
]
