"""What the handoff APIs share (referrals, disclosures, the portal): the handoff options, the one
delivery worker and the text fields of checked bodies.  The routes
are the web kit's (:mod:`handoff.web`: session, role, CSRF, body, who may act on the conversation (``acts_on``),
idempotency, the one error shape)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.appkeys import BROKER, CONSUMER, SETTINGS
from gateway.broker.base import Event, Subscription
from handoff.referrals.options import DELIVER_GROUP, TOPIC_DELIVER, HandoffOptions

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
    "text",
]
