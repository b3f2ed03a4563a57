"""The web kit: one :class:`Route` type, one guard, one JSON reader and validator, one mapping of
errors to answers, one set of role sets and an OpenAPI 3.1 document generated from the route table.

* :mod:`handoff.web.roles`: the role sets (``CONSOLE_ROLES`` ...);
* :mod:`handoff.web.routes`: :class:`Route`, :class:`Body` (input schemas), :class:`Answer`;
* :mod:`handoff.web.validation`: the JSON reader (400 ``invalid_json``, 413) and validator (422
  ``{"error": "invalid_input", "fields": {...}}``);
* :mod:`handoff.web.errors`: :func:`~handoff.web.errors.problem` (the one body shape) and the
  mapping of :class:`~gateway.errors.HelplineError` to answers;
* :mod:`handoff.web.access`: :class:`ActsOn`, the conversation a route acts on and who may
  (:func:`in_path`, :func:`in_body`, :func:`resolved`);
* :mod:`handoff.web.guard`: :func:`~handoff.web.guard.guarded` (session, role, CSRF, body) and
  :func:`~handoff.web.guard.add_routes`;
* :mod:`handoff.web.openapi`: the route table of an application (kit routes and adapted tables)
  and its OpenAPI document at ``GET /api/openapi.json``.

This module imports only the light parts, so that the console's modules can use the role sets
without an import cycle; :func:`setup` is the extension the gateway loads last.
"""

from __future__ import annotations

from aiohttp import web

from .access import ActsOn, in_body, in_path, resolved
from .roles import (
    ADMIN_ROLES,
    ALL_ROLES,
    CONSOLE_ROLES,
    PORTAL_ROLES,
    SITUATION_ROLES,
    SUPERVISOR_ROLES,
)
from .routes import Answer, Body, Download, ErrorAnswer, Kind, Ok, Route, StaffHandler


def setup(app: web.Application) -> None:
    """Serve the OpenAPI document of every route the other extensions added."""
    from .openapi import setup as openapi_setup

    openapi_setup(app)


__all__ = [
    "ADMIN_ROLES",
    "ALL_ROLES",
    "CONSOLE_ROLES",
    "PORTAL_ROLES",
    "SITUATION_ROLES",
    "SUPERVISOR_ROLES",
    "ActsOn",
    "Answer",
    "Body",
    "Download",
    "ErrorAnswer",
    "Kind",
    "Ok",
    "Route",
    "StaffHandler",
    "in_body",
    "in_path",
    "resolved",
    "setup",
]
