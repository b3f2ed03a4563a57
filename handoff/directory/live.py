"""The application's one live directory (:class:`DirectoryService` under :data:`DIRECTORY_SERVICE`),
made by the first extension that asks for it (:func:`directory_service`): the directory admin, the
handoffs and the records share it whatever the order of the extensions."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from gateway.appkeys import BROKER, DB, SETTINGS
from gateway.errors import ConfigError
from gateway.tasks import cancel_and_wait
from handoff.directory.entries import (
    HandoffMethod,
)
from handoff.directory.loading import default_directory
from handoff.directory.overrides import (
    apply_overrides,
    parse_recipient_methods,
)
from handoff.directory.service import (
    CHECK_SECONDS,
    TOPIC_DIRECTORY,
    DirectoryService,
    log,
)

# Requests that read the directory: the process compares its directory with the database first
# (also the portal's page and the situational picture, which show a Kunskapshus's area, and the
# documentation form, which knows the recipients).
_DIRECTORY_PATHS = re.compile(
    r"^/console/(api/(handoff|referrals|disclosures|directory)/|portal/api/|portal$)"
    r"|^/portal/api/situation$"
    r"|^/console/api/conversations/[0-9a-f]{32}/(referrals|disclosures|documentation)$"
)
DIRECTORY_SERVICE = web.AppKey("directory_service", DirectoryService)


def configured_methods(app: web.Application) -> dict[str, tuple[HandoffMethod, ...]]:
    """``handoff.recipient_methods``, checked against the shipped directory (ConfigError)."""
    section = app[SETTINGS].section("handoff")
    methods = parse_recipient_methods(
        section.get("recipient_methods") or {}, webhook_secrets=section.get("webhook_secrets") or {}
    )
    for rid in methods:
        if default_directory().entry(rid) is None:
            raise ConfigError(
                f"handoff.recipient_methods.{rid}", "no recipient with this id in the directory"
            )
    return methods


@web.middleware
async def _current_directory(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Before a request that reads the directory: take in edits other processes made (when their
    fan-out cannot reach this process: :meth:`DirectoryService.attach`)."""
    if _DIRECTORY_PATHS.match(request.path):
        service = request.app.get(DIRECTORY_SERVICE)
        if service is not None and service.check_each_request:
            await service.refresh_quietly()
    return await handler(request)


def directory_service(app: web.Application) -> DirectoryService:
    """The application's one live directory, made by the first extension that asks for it: the
    directory admin, the handoffs and the records all route with it, whatever their order.

    It is the shipped directory with the configured ``handoff.recipient_methods`` and the admins'
    edits laid over it; it loads the edits at start (in a cleanup context, after the store and the
    broker), then follows them (fan-out topic ``directory``, every
    ``handoff.directory_check_seconds``, and before each request that reads it)."""
    found = app.get(DIRECTORY_SERVICE)
    if found is not None:
        return found
    section = app[SETTINGS].section("handoff")
    interval = float(section.get("directory_check_seconds", CHECK_SECONDS))
    if interval <= 0:
        raise ConfigError("handoff.directory_check_seconds", "must be positive")
    secrets = {str(k): str(s) for k, s in dict(section.get("webhook_secrets") or {}).items()}
    service = DirectoryService(configured_methods(app), webhook_secrets=secrets)
    app[DIRECTORY_SERVICE] = service

    async def directory_ctx(app: web.Application) -> AsyncIterator[None]:
        service.attach(app[DB], app[BROKER])
        try:
            await service.refresh()
        except Exception as exc:  # the gateway still routes with the shipped directory
            log.error("directory: could not load the admins' edits at start: %s", exc)
            service.live.install(apply_overrides(service.base, {}, service.methods))
        sub = await app[BROKER].fanout(TOPIC_DIRECTORY, service.on_event)
        task = asyncio.create_task(service.check_forever(interval), name="directory check")
        yield
        await cancel_and_wait(task)
        with contextlib.suppress(Exception):
            await sub.cancel()

    app.cleanup_ctx.append(directory_ctx)
    app.middlewares.append(_current_directory)
    return service


__all__ = ["DIRECTORY_SERVICE", "configured_methods", "directory_service"]
