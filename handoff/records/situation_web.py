"""The local situational picture on the web: ``GET /console/portal/api/situation`` (also at
``/portal/api/situation`` for clients that send the cookie themselves) and the municipality portal's
page (:func:`portal_situation`).

The picture is of the signed-in municipality user's own area (``StaffUser.municipality_code``: a
municipality code, a Kunskapshus id or ``KH`` + its host's code; a municipality gives that
municipality only, a Kunskapshus the municipalities it serves); ``?from=YYYY-MM-DD&to=YYYY-MM-DD``
(Stockholm dates, both included; default: the last 90 days), ``&format=json|csv|html``.
Supervisors and admins may ask for any area with ``?area=``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from aiohttp import web
from markupsafe import Markup

from gateway.appkeys import DB
from gateway.store.models import Role
from handoff.console.security import Staff
from handoff.directory.catalog import Directory
from handoff.directory.live import DIRECTORY_SERVICE
from handoff.directory.loading import default_directory
from handoff.records.reports import service as reports
from handoff.web.errors import problem
from handoff.web.roles import SUPERVISOR_ROLES


def current_directory(app: web.Application) -> Directory:
    """The directory this process routes with, kept current with the admins' edits (reloaded
    before each of these requests, :func:`handoff.directory.web.directory_service`), so that areas
    (which municipalities a Kunskapshus serves) and names in documentation and situational pictures
    are the ones the admins set."""
    service = app.get(DIRECTORY_SERVICE)
    return service.directory if service is not None else default_directory()


def _date(text: str | None, default: date) -> date:
    if not text:
        return default
    return date.fromisoformat(text)


DEFAULT_DAYS = 90
MAX_DAYS = 3700
# A municipality user's own area: their municipality, or the municipalities their Kunskapshus serves
# (never a county or another area, even if their code happened to name one).
OWN_AREA_KINDS = frozenset({"municipality", "kunskapshus"})
# The printable report has its own inline styles and no script at all.
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; frame-ancestors 'none'"
)


class SituationRefused(Exception):
    """The situational picture cannot be given: HTTP status and error code."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


def own_area(staff: Staff, directory: Directory | None = None) -> reports.Area | None:
    """The area of a municipality user's own situational picture (None: their account has none)."""
    code = (staff.user.municipality_code or "").strip()
    area = reports.resolve_area(code, directory) if code else None
    return area if area is not None and area.kind in OWN_AREA_KINDS else None


def situation_area(staff: Staff, requested: str | None, directory: Directory | None = None) -> reports.Area:
    """The area a user may see: a municipality user only their own (``?area=`` naming anything
    else is refused); supervisors and admins the one they ask for."""
    if staff.user.role == Role.MUNICIPALITY.value:
        area = own_area(staff, directory)
        if area is None:
            raise SituationRefused(403, "unknown_area")
        if requested not in (None, "", area.id, staff.user.municipality_code):
            raise SituationRefused(403, "other_area")
        return area
    if staff.user.role not in SUPERVISOR_ROLES:
        raise SituationRefused(403, "forbidden")
    found = reports.resolve_area(requested, directory) if requested else None
    if found is None:
        raise SituationRefused(400, "unknown_area")
    return found


def situation_period(query: Any, today: date | None = None) -> tuple[date, date]:
    """``from``/``to`` (Stockholm dates, both included); default: the last :data:`DEFAULT_DAYS` days."""
    today = today or reports.local_today()
    try:
        end = _date(query.get("to"), today)
        start = _date(query.get("from"), end - timedelta(days=DEFAULT_DAYS - 1))
    except ValueError:
        raise SituationRefused(400, "bad_period") from None
    if end < start or (end - start).days > MAX_DAYS:
        raise SituationRefused(400, "bad_period")
    return start, end


async def get_situation(request: web.Request, staff: Staff) -> web.StreamResponse:
    """The local situational picture (JSON, CSV or a printable HTML report); never cached, also
    outside ``/console`` (where the console's headers do not reach)."""
    response = await _situation(request, staff)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


async def _situation(request: web.Request, staff: Staff) -> web.StreamResponse:
    directory = current_directory(request.app)
    try:
        area = situation_area(staff, request.query.get("area"), directory)
        start, end = situation_period(request.query)
    except SituationRefused as exc:
        return problem(exc.status, exc.code)
    fmt = request.query.get("format", "json")
    if fmt not in reports.FORMATS:
        return problem(400, "bad_format")
    report = await reports.build_report(request.app[DB], start, end, area=area, directory=directory)
    if fmt == "html":
        response = web.Response(
            text=reports.render(report, "html", "en" if staff.lang == "en" else "sv"),
            content_type="text/html",
        )
        response.headers["Content-Security-Policy"] = REPORT_CSP
        return response
    if fmt == "csv":
        name = f"lagesbild-{area.id}-{start.isoformat()}-{end.isoformat()}.csv"
        return web.Response(
            text=reports.render(report, "csv"),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return web.json_response(report)


# The dimensions the portal shows, in this order (the municipality breakdown only for a Kunskapshus).
PORTAL_DIMENSIONS = (
    "language",
    "contact_type",
    "environment",
    "age_group",
    "gender",
    "intent",
    "outcome",
    "referral_made",
    "municipality",
)


def _with_bars(dimension: dict[str, Any]) -> dict[str, Any]:
    """A dimension with each published cell's share of the largest one (0-100, for its bar);
    hidden cells get no bar."""
    peak = max([c["value"] for c in dimension["cells"] if isinstance(c["value"], int)] + [1])
    cells = [
        {**c, "bar": round(100 * c["value"] / peak, 1) if isinstance(c["value"], int) else None}
        for c in dimension["cells"]
    ]
    return {**dimension, "cells": cells}


async def portal_situation(request: web.Request, staff: Staff) -> dict[str, Any]:
    """What the municipality portal's page shows of the user's own area: the report (or the reason
    there is none), the period chosen and the period presets, the weekly chart (inline SVG built
    from escaped parts) and the dimensions to show.  Only ever the user's own area: the page takes
    no ``area`` parameter."""
    today = reports.local_today()
    presets = [
        ("sit_last_30", today - timedelta(days=29), today),
        ("sit_last_90", today - timedelta(days=DEFAULT_DAYS - 1), today),
        ("sit_last_365", today - timedelta(days=364), today),
        ("sit_this_year", today.replace(month=1, day=1), today),
    ]
    context: dict[str, Any] = {
        "report": None,
        "error": None,
        "area": None,
        "from": (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
        "to": today.isoformat(),
        "presets": [{"key": k, "from": a.isoformat(), "to": b.isoformat()} for k, a, b in presets],
        "time_zone": reports.TIME_ZONE,
        "chart": "",
        "dimensions": [],
    }
    directory = current_directory(request.app)
    area = own_area(staff, directory) if staff.user.role == Role.MUNICIPALITY.value else None
    if area is None:
        context["error"] = "unknown_area"
        return context
    context["area"] = area
    try:
        start, end = situation_period(request.query, today)
    except SituationRefused as exc:
        context["error"] = exc.code
        return context
    context["from"], context["to"] = start.isoformat(), end.isoformat()
    report = await reports.build_report(request.app[DB], start, end, area=area, directory=directory)
    wanted = [d for d in PORTAL_DIMENSIONS if d != "municipality" or area.kind != "municipality"]
    by_key = {d["key"]: d for d in report["dimensions"]}
    context["report"] = report
    context["dimensions"] = [_with_bars(by_key[k]) for k in wanted if k in by_key]
    context["chart"] = Markup(reports.chart_week_totals(report, lang=staff.lang))  # noqa: S704 - built from escaped parts
    return context


__all__ = [
    "SituationRefused",
    "current_directory",
    "get_situation",
    "own_area",
    "portal_situation",
    "situation_area",
    "situation_period",
]
