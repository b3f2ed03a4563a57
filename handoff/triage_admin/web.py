"""The triage admin as an extension of the gateway: the admin's routes (:mod:`handoff.triage_admin.admin`)
and the corrections' (:mod:`handoff.triage_admin.corrections_admin`, which builds on the admin)."""

from __future__ import annotations

from aiohttp import web

from handoff.console import ConsoleRoute, guarded
from handoff.triage_admin import admin, corrections_admin

ROUTES: tuple[ConsoleRoute, ...] = (*admin.ROUTES, *corrections_admin.ROUTES)
"""Every route of the triage admin, each wrapped by the console's guard."""


def setup(app: web.Application, *, resync_seconds: float | None = None) -> None:
    """Add the triage admin (see :func:`handoff.triage_admin.admin.setup`; idempotent)."""
    if admin.setup(app, resync_seconds=resync_seconds):
        for route in corrections_admin.ROUTES:
            app.router.add_route(route.method, route.path, guarded(route))


__all__ = ["ROUTES", "setup"]
