"""What the handoff APIs share (referrals, disclosures, the portal): the handoff options, the one
delivery worker, who may act on a conversation, and the text fields of checked bodies.  The routes
are the web kit's (:mod:`handoff.web`: session, role, CSRF, body, idempotency, the one error shape)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.appkeys import BROKER, CONSUMER, DB, SETTINGS
from gateway.broker.base import Event, Subscription
from gateway.errors import NotFound
from gateway.store import repo
from handoff.console.security import Staff
from handoff.referrals.options import DELIVER_GROUP, TOPIC_DELIVER, HandoffOptions
from handoff.web.errors import problem

HANDOFF_OPTIONS = web.AppKey("handoff_options", HandoffOptions)
DELIVERERS = web.AppKey("handoff_deliverers", dict[str, Callable[[str], Awaitable[None]]])

ID = "{%s:[0-9a-f]{32}}"
CONV = "/console/api/conversations/" + ID % "conversation_id"


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


async def may_act_on(request: web.Request, staff: Staff, conversation_id: str) -> web.Response | None:
    """A counsellor acts on the conversation assigned to them; a supervisor or admin on any."""
    async with request.app[DB].session() as session:
        try:
            conv = await repo.get_conversation(session, conversation_id)
        except NotFound:
            return problem(404, "not_found")
        holds = conv.state == "assigned" and conv.assigned_to == staff.user.id
        if holds or staff.is_supervisor:
            return None
        await repo.audit(session, "handoff.denied", actor=staff.user, conversation_id=conversation_id)
    return problem(403, "not_assigned_to_you")


def text(value: str | None, default: str = "") -> str:
    """A text field of a checked body: ``default`` when it is missing or null."""
    return default if value is None else value


__all__ = [
    "CONV",
    "DELIVERERS",
    "HANDOFF_OPTIONS",
    "ID",
    "deliverers",
    "handoff_options",
    "may_act_on",
    "text",
]
