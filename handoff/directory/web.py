"""Admins edit the directory of recipients in the console (``/console/directory``).

The shipped data (:mod:`handoff.directory.loading`, ``handoff/data/``) stays as it is; an admin's edit is
kept in the database as an *override* of the keys they changed (:class:`DirectoryOverride`), so
that keys nobody edited follow the shipped data of a later release.  Admins may

* list and search every recipient (national, regional, civil society, the Kunskapshus and the
  290 municipalities' social services),
* add a recipient, edit one (names, kind, topics, target groups, languages, opening hours, phone
  numbers, web site, and how it receives handoffs: portal, e-mail, signed webhook), deactivate and
  activate it, or return it to the shipped data,
* change which counties and municipalities a Kunskapshus serves (its own form; a municipality
  belongs to one Kunskapshus at most), or give another recipient an area of its own (``serves``,
  saved with the entry; areas may overlap): a municipal or regional unit or a local organisation
  is then proposed among the local recipients, and only there (:mod:`handoff.referrals.routing`).  A
  municipal recipient needs an area; the recipients of crime information serve the whole country.

Every input is checked field by field (422 with ``fields``: field -> code, nothing stored on any
error): its types by the route's schema (:mod:`handoff.directory.schemas`) before the handler runs,
its values by :mod:`handoff.directory.checks`; an edit carries the ``revision`` of the entry it started from (409 ``edited_meanwhile``
when someone else saved in between).  Every change is audited (``directory.*``: who, the entry
before and after, the keys changed) in the transaction that stores it.

**Every process applies every edit.**  Each gateway process keeps its own copy of the directory,
the one its referrals and disclosures use (``HandoffOptions.directory``), and lays the overrides
over the directory it started with.  An edit raises the counter in ``directory_version`` in its
transaction; a process reloads when the counter differs from what it loaded: before each handoff
request (one small SELECT), on the fan-out topic ``directory`` (published after the commit), before
a disclosure is delivered, and every ``handoff.directory_check_seconds`` (the fan-out is best
effort).

The deployment's ``handoff.recipient_methods`` (e.g. an e-mail address for crime information to
the police) lie on top of everything and cannot be changed here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy import select

from gateway.appkeys import DB
from gateway.store.models import AuditEvent
from handoff.console.security import Staff
from handoff.console.views import render
from handoff.directory import views
from handoff.directory.checks import (
    HISTORY_LIMIT,
    ID_RE,
    REQUIRED_RECIPIENTS,
    RESERVED_PREFIXES,
    check_area,
    check_recipient,
)
from handoff.directory.entries import (
    HANDOFF_METHODS,
    KINDS,
    TARGET_GROUPS,
    TOPICS,
    fold,
)
from handoff.directory.live import DIRECTORY_SERVICE, directory_service
from handoff.directory.schemas import (
    ActiveBody,
    AreaBody,
    DirectoryOptionsAnswer,
    HistoryAnswer,
    NewRecipientBody,
    RecipientAnswer,
    RecipientBody,
    RecipientsAnswer,
    Revision,
)
from handoff.directory.service import (
    DirectoryService,
    FieldErrors,
    Refused,
)
from handoff.web import ADMIN_ROLES, Route
from handoff.web.guard import add_routes
from handoff.web.validation import body

API = "/console/api/directory"
RID = "{recipient_id:[a-z0-9][a-z0-9-]{0,63}}"


# ---------------------------------------------------------------------- views
def _service(request: web.Request) -> DirectoryService:
    return request.app[DIRECTORY_SERVICE]


def handles_errors(
    handler: Callable[[web.Request, Staff], Awaitable[web.StreamResponse]],
) -> Callable[[web.Request, Staff], Awaitable[web.StreamResponse]]:
    async def wrapped(request: web.Request, staff: Staff) -> web.StreamResponse:
        try:
            return await handler(request, staff)
        except FieldErrors as exc:
            body: dict[str, Any] = {"error": "invalid_input", "fields": exc.fields}
            if exc.detail:
                body["detail"] = exc.detail
            return web.json_response(body, status=422)
        except Refused as exc:
            return web.json_response({"error": exc.code}, status=exc.status)

    wrapped.__name__ = handler.__name__
    return wrapped


async def directory_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    return render(
        request,
        "directory_admin.html",
        staff.lang,
        staff=staff,
        user=staff.user,
        kinds=KINDS,
        topics=TOPICS,
        target_groups=TARGET_GROUPS,
    )


@handles_errors
async def api_options(request: web.Request, staff: Staff) -> web.StreamResponse:
    d = _service(request).directory
    served = {m.code: k.id for k in d.kunskapshus for m in d.served_by(k.id)}
    return web.json_response(
        {
            "kinds": list(KINDS),
            "topics": list(TOPICS),
            "target_groups": list(TARGET_GROUPS),
            "methods": list(HANDOFF_METHODS),
            "counties": [
                {
                    "code": c.code,
                    "name": c.name,
                    "municipalities": [
                        {"code": m.code, "name": m.name, "kunskapshus": served.get(m.code)}
                        for m in sorted(d.municipalities_in_county(c.code), key=lambda m: m.name)
                    ],
                }
                for c in d.counties()
            ],
            "kunskapshus": [
                {"id": k.id, "name": {"sv": k.recipient.name_sv, "en": k.recipient.name_en}}
                for k in d.kunskapshus
            ],
        }
    )


@handles_errors
async def api_list(request: web.Request, staff: Staff) -> web.StreamResponse:
    service = _service(request)
    q = fold(request.query.get("q", "")[:100])
    kind = request.query.get("kind", "")
    section = request.query.get("section", "")
    state = request.query.get("state", "all")
    found = []
    for r in service.directory.all_recipients():
        summary = views.summary(service, r)
        if kind and r.kind != kind:
            continue
        if section and summary["section"] != section:
            continue
        if (state == "active" and not r.active) or (state == "inactive" and r.active):
            continue
        if q:
            muni = summary["municipality"]["name"] if summary["municipality"] else ""
            hay = " ".join((r.id, fold(r.name_sv), fold(r.name_en), fold(muni), r.municipality_code or ""))
            if q not in hay:
                continue
        found.append(summary)
    order = {"recipient": 0, "kunskapshus": 1, "social_services": 2}
    found.sort(key=lambda s: (order[s["section"]], fold(s["name"]["sv"])))
    return web.json_response({"recipients": found, "version": service.version})


@handles_errors
async def api_get(request: web.Request, staff: Staff) -> web.StreamResponse:
    return web.json_response(
        {"recipient": views.detail(_service(request), request.match_info["recipient_id"])}
    )


@handles_errors
async def api_create(request: web.Request, staff: Staff) -> web.StreamResponse:
    service = _service(request)
    form = body(request, NewRecipientBody)
    rid = form.id
    if rid is None or not ID_RE.fullmatch(rid.strip()):
        raise FieldErrors({"id": "invalid_id"})
    rid = rid.strip()
    if rid.startswith(RESERVED_PREFIXES):
        raise FieldErrors({"id": "id_reserved"})
    if service.directory.entry(rid) is not None or service.shipped(rid) is not None:
        raise FieldErrors({"id": "id_taken"})
    data = check_recipient(form.form(), service, rid, current=None)
    result = await service.save(
        staff.user, rid, data, revision=0, action="directory.recipient_created", creating=True
    )
    return web.json_response({"recipient": views.detail(service, rid), **result}, status=201)


@handles_errors
async def api_update(request: web.Request, staff: Staff) -> web.StreamResponse:
    service = _service(request)
    rid = request.match_info["recipient_id"]
    current = views.current_entry(service, rid)
    form = body(request, RecipientBody)
    data = check_recipient(form.form(), service, rid, current=current)
    if data == current:
        return web.json_response({"recipient": views.detail(service, rid), "unchanged": True})
    result = await service.save(
        staff.user, rid, data, revision=form.revision, action="directory.recipient_updated"
    )
    return web.json_response({"recipient": views.detail(service, rid), **result})


@handles_errors
async def api_set_active(request: web.Request, staff: Staff) -> web.StreamResponse:
    service = _service(request)
    rid = request.match_info["recipient_id"]
    current = views.current_entry(service, rid)
    form = body(request, ActiveBody)
    active = form.active
    if not active and rid in REQUIRED_RECIPIENTS:
        raise FieldErrors({"active": "required_recipient"})
    if current["active"] == active:
        return web.json_response({"recipient": views.detail(service, rid), "unchanged": True})
    action = "directory.recipient_activated" if active else "directory.recipient_deactivated"
    result = await service.save(
        staff.user, rid, {**current, "active": active}, revision=form.revision, action=action
    )
    return web.json_response({"recipient": views.detail(service, rid), **result})


@handles_errors
async def api_area(request: web.Request, staff: Staff) -> web.StreamResponse:
    service = _service(request)
    rid = request.match_info["recipient_id"]
    house = service.directory.kunskapshus_by_id(rid)
    if house is None:
        raise Refused(404, "not_found")
    current = views.current_entry(service, rid)
    form = body(request, AreaBody)
    serves = check_area(form.form(), service, house)
    if serves == current["serves"]:
        return web.json_response({"recipient": views.detail(service, rid), "unchanged": True})
    result = await service.save(
        staff.user,
        rid,
        {**current, "serves": serves},
        revision=form.revision,
        action="directory.area_updated",
    )
    return web.json_response({"recipient": views.detail(service, rid), **result})


@handles_errors
async def api_reset(request: web.Request, staff: Staff) -> web.StreamResponse:
    service = _service(request)
    rid = request.match_info["recipient_id"]
    views.current_entry(service, rid)
    result = await service.reset(staff.user, rid, revision=body(request, Revision).revision)
    return web.json_response({"recipient": views.detail(service, rid), **result})


@handles_errors
async def api_history(request: web.Request, staff: Staff) -> web.StreamResponse:
    rid = request.query.get("recipient_id", "")
    async with request.app[DB].session() as session:
        rows = (
            (
                await session.execute(
                    select(AuditEvent)
                    .where(AuditEvent.action.like("directory.%"))
                    .order_by(AuditEvent.id.desc())
                    .limit(HISTORY_LIMIT if not rid else 2000)
                )
            )
            .scalars()
            .all()
        )
    events = [
        {
            "at": e.at.isoformat(),
            "actor": e.actor,
            "action": e.action,
            "recipient_id": (e.details or {}).get("recipient_id"),
            "changed": (e.details or {}).get("changed", []),
            "before": (e.details or {}).get("before"),
            "after": (e.details or {}).get("after"),
        }
        for e in rows
        if not rid or (e.details or {}).get("recipient_id") == rid
    ]
    return web.json_response({"events": events[:HISTORY_LIMIT]})


# ---------------------------------------------------------------------- routes and setup
ROUTES: tuple[Route, ...] = (
    Route("GET", "/console/directory", directory_page, ADMIN_ROLES, "page", summary="The directory admin"),
    Route("GET", API + "/options", api_options, ADMIN_ROLES, answers={200: DirectoryOptionsAnswer}),
    Route("GET", API + "/recipients", api_list, ADMIN_ROLES, answers={200: RecipientsAnswer}),
    Route(
        "POST",
        API + "/recipients",
        api_create,
        ADMIN_ROLES,
        body=NewRecipientBody,
        answers={201: RecipientAnswer},
    ),
    Route("GET", API + "/recipients/" + RID, api_get, ADMIN_ROLES, answers={200: RecipientAnswer}),
    Route(
        "POST",
        API + "/recipients/" + RID,
        api_update,
        ADMIN_ROLES,
        body=RecipientBody,
        answers={200: RecipientAnswer},
    ),
    Route(
        "POST",
        API + "/recipients/" + RID + "/active",
        api_set_active,
        ADMIN_ROLES,
        body=ActiveBody,
        answers={200: RecipientAnswer},
    ),
    Route(
        "POST",
        API + "/recipients/" + RID + "/reset",
        api_reset,
        ADMIN_ROLES,
        body=Revision,
        answers={200: RecipientAnswer},
    ),
    Route(
        "POST",
        API + "/kunskapshus/" + RID + "/area",
        api_area,
        ADMIN_ROLES,
        body=AreaBody,
        answers={200: RecipientAnswer},
    ),
    Route("GET", API + "/history", api_history, ADMIN_ROLES, answers={200: HistoryAnswer}),
)
"""The directory admin's routes, each guarded by the web kit (session, role, CSRF on POST, the body's
schema: :mod:`handoff.directory.schemas`)."""


def setup(app: web.Application) -> None:
    """Add the directory admin's page and API."""
    directory_service(app)
    add_routes(app, ROUTES)


__all__ = ["ROUTES", "setup"]
