"""JSON API of handoffs: referrals and disclosures for the console, the municipality portal, and the
signed callback of recipients.

* ``/console/api/...`` (counsellors, supervisors, admins): proposals, referrals of a conversation,
  consent, disclosures, four-eyes approval.  A counsellor acts on conversations assigned to them; a
  supervisor on any.
* ``/console/portal/api/...`` (municipality role): the referrals of the user's own municipality or
  Kunskapshus (``StaffUser.municipality_code``), acknowledgement and follow-up.  The portal lives
  under ``/console`` because the session cookie is scoped to that path.  Every portal route checks
  the unit; a referral of another unit is answered 404, as if it did not exist.
* ``/handoff/callback/referrals/{id}`` (no session): a recipient's follow-up, signed like our
  webhooks (HMAC-SHA256 with the recipient's shared secret over ``"<timestamp>.<body>"``).

Sessions are the console's (``handoff.console.security.authenticate``); POSTs need the CSRF
header ``X-CSRF-Token``.  :data:`ROUTES` is the one table of the routes behind a login.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway.appkeys import BROKER, CONSUMER, DB, SETTINGS
from gateway.broker.base import Event, Subscription
from gateway.crypto import ContactCipher
from gateway.envelope import utcnow
from gateway.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from gateway.store import repo
from gateway.store.models import Role
from gateway.tasks import cancel_and_wait
from handoff.directory.entries import CONTACT_TYPES, TOPICS
from handoff.directory.live import DIRECTORY_SERVICE, directory_service

from . import webhook
from .console.idempotency import idempotent
from .console.security import CONSOLE_ROLES, CSRF_HEADER, Staff, authenticate, csrf_ok
from .console.views import render
from .disclosure import CERTAINTIES, LEGAL_GROUNDS, RECIPIENTS, Disclosures
from .referral import (
    CONSENT_GROUP,
    DELIVER_GROUP,
    TOPIC_CONVERSATION,
    TOPIC_DELIVER,
    HandoffOptions,
    Referrals,
    callback_body,
    run_periodically,
    usable_methods,
    user_units,
)

HANDOFF_OPTIONS = web.AppKey("handoff_options", HandoffOptions)
REFERRALS = web.AppKey("referrals", Referrals)
DISCLOSURES = web.AppKey("disclosures", Disclosures)

PORTAL_ROLES = frozenset({Role.MUNICIPALITY.value})
MAX_BODY = 64 * 1024
ID = "{%s:[0-9a-f]{32}}"
CONV = "/console/api/conversations/" + ID % "conversation_id"
REF = "/console/api/referrals/" + ID % "referral_id"
DISC = "/console/api/disclosures/" + ID % "disclosure_id"
PORTAL = "/console/portal/api"
PORTAL_REF = PORTAL + "/referrals/" + ID % "referral_id"

Handler = Callable[[web.Request, Staff], Awaitable[web.StreamResponse]]


def error(status: int, code: str) -> web.Response:
    return web.json_response({"error": code}, status=status)


def _code(exc: Exception, default: str) -> str:
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


def _errors(handler: Handler) -> Handler:
    async def wrapped(request: web.Request, staff: Staff) -> web.StreamResponse:
        try:
            return await handler(request, staff)
        except NotFound:
            return error(404, "not_found")
        except InvalidInput as exc:
            return error(422, _code(exc, "invalid_input"))
        except PermissionDenied as exc:
            return error(403, _code(exc, "forbidden"))
        except Conflict as exc:
            return error(409, _code(exc, "conflict"))

    wrapped.__name__ = handler.__name__
    return wrapped


async def _may_act_on(request: web.Request, staff: Staff, conversation_id: str) -> web.Response | None:
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


def _str(body: dict[str, Any], key: str, default: str = "") -> str:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidInput(f"{key}_must_be_text")
    return value


# ---------------------------------------------------------------------- console: proposals
async def api_proposals(request: web.Request, staff: Staff) -> web.StreamResponse:
    q = request.query
    municipality = q.get("municipality", "").strip() or None
    referrals = request.app[REFERRALS]
    proposals = referrals.proposals(
        municipality, q.get("topic", ""), q.get("contact_type", "other"), now=utcnow()
    )
    d = referrals.directory
    house = d.kunskapshus_for(municipality) if municipality else None
    m = d.municipality(municipality) if municipality else None
    return web.json_response(
        {
            "municipality": {"code": m.code, "name": m.name, "county": m.county_name} if m else None,
            "kunskapshus": house.id if house else None,
            "proposals": [
                {
                    "recipient_id": p.recipient_id,
                    "name": {"sv": p.recipient.name_sv, "en": p.recipient.name_en},
                    "kind": p.recipient.kind,
                    "tier": p.tier,
                    "reason": {"sv": p.reason_sv, "en": p.reason_en},
                    "open_now": p.open_now,
                    "phone": p.recipient.phone,
                    "methods": usable_methods(p.recipient, d),
                }
                for p in proposals
            ],
        }
    )


async def api_form_options(request: web.Request, staff: Staff) -> web.StreamResponse:
    """What the referral and disclosure forms offer (Swedish first, English second)."""
    return web.json_response(
        {
            "topics": list(TOPICS),
            "contact_types": list(CONTACT_TYPES),
            "urgencies": ["normal", "urgent"],
            "disclosure_recipients": list(RECIPIENTS),
            "certainties": {k: {"sv": v[0], "en": v[1]} for k, v in CERTAINTIES.items()},
            "legal_grounds": {
                g.id: {"sv": g.sv, "en": g.en, "requires_identity": g.requires_identity}
                for g in LEGAL_GROUNDS.values()
            },
        }
    )


# ---------------------------------------------------------------------- console: referrals
async def api_referrals_of(request: web.Request, staff: Staff) -> web.StreamResponse:
    conv_id = request.match_info["conversation_id"]
    denied = await _may_act_on(request, staff, conv_id)
    if denied is not None:
        return denied
    return web.json_response({"referrals": await request.app[REFERRALS].of_conversation(conv_id)})


async def api_referral_create(request: web.Request, staff: Staff) -> web.StreamResponse:
    conv_id = request.match_info["conversation_id"]
    denied = await _may_act_on(request, staff, conv_id)
    if denied is not None:
        return denied
    body = await json_body(request)
    contact = body.get("contact_details")
    if contact is not None and not isinstance(contact, str):
        raise InvalidInput("contact_details_must_be_text")
    ref = await request.app[REFERRALS].create(
        conv_id,
        staff.user,
        recipient_id=_str(body, "recipient_id"),
        topic=_str(body, "topic"),
        contact_type=_str(body, "contact_type", "other"),
        municipality_code=_str(body, "municipality_code").strip() or None,
        summary=_str(body, "summary"),
        urgency=_str(body, "urgency", "normal"),
        contact_details=contact,
    )
    return web.json_response({"referral": ref}, status=201)


async def _referral_guard(request: web.Request, staff: Staff) -> web.Response | None:
    conv_id = await request.app[REFERRALS].conversation_of(request.match_info["referral_id"])
    return await _may_act_on(request, staff, conv_id)


async def api_referral(request: web.Request, staff: Staff) -> web.StreamResponse:
    denied = await _referral_guard(request, staff)
    if denied is not None:
        return denied
    return web.json_response(
        {"referral": await request.app[REFERRALS].get(request.match_info["referral_id"])}
    )


async def api_consent_request(request: web.Request, staff: Staff) -> web.StreamResponse:
    denied = await _referral_guard(request, staff)
    if denied is not None:
        return denied
    ref = await request.app[REFERRALS].request_consent(request.match_info["referral_id"], staff.user)
    return web.json_response({"referral": ref})


async def api_consent(request: web.Request, staff: Staff) -> web.StreamResponse:
    denied = await _referral_guard(request, staff)
    if denied is not None:
        return denied
    body = await json_body(request)
    consent = body.get("consent")
    if not isinstance(consent, bool):
        return error(422, "consent_must_be_bool")
    ref = await request.app[REFERRALS].record_consent(
        request.match_info["referral_id"], consent, user=staff.user
    )
    return web.json_response({"referral": ref})


async def api_consent_not_asked(request: web.Request, staff: Staff) -> web.StreamResponse:
    denied = await _referral_guard(request, staff)
    if denied is not None:
        return denied
    body = await json_body(request)
    ref = await request.app[REFERRALS].record_not_asked(
        request.match_info["referral_id"], staff.user, _str(body, "reason")
    )
    return web.json_response({"referral": ref})


# ---------------------------------------------------------------------- console: disclosures
async def api_disclosures_of(request: web.Request, staff: Staff) -> web.StreamResponse:
    conv_id = request.match_info["conversation_id"]
    denied = await _may_act_on(request, staff, conv_id)
    if denied is not None:
        return denied
    return web.json_response({"disclosures": await request.app[DISCLOSURES].of_conversation(conv_id)})


async def api_disclosure_create(request: web.Request, staff: Staff) -> web.StreamResponse:
    conv_id = request.match_info["conversation_id"]
    denied = await _may_act_on(request, staff, conv_id)
    if denied is not None:
        return denied
    body = await json_body(request)
    seqs = body.get("source_seqs")
    if not isinstance(seqs, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in seqs):
        return error(422, "source_seqs_must_be_integers")
    danger = body.get("immediate_danger", False)
    if not isinstance(danger, bool):
        return error(422, "immediate_danger_must_be_bool")
    disc = await request.app[DISCLOSURES].create(
        conv_id,
        staff.user,
        recipient_id=_str(body, "recipient_id"),
        what=_str(body, "what"),
        when=_str(body, "when"),
        where=_str(body, "where"),
        certainty=_str(body, "certainty"),
        source_seqs=seqs,
        legal_ground=_str(body, "legal_ground"),
        immediate_danger=danger,
    )
    return web.json_response({"disclosure": disc}, status=201)


async def api_disclosures_pending(request: web.Request, staff: Staff) -> web.StreamResponse:
    if not staff.is_supervisor:
        return error(403, "supervisor_required")
    return web.json_response({"disclosures": await request.app[DISCLOSURES].needing_supervisor()})


async def api_disclosure(request: web.Request, staff: Staff) -> web.StreamResponse:
    did = request.match_info["disclosure_id"]
    denied = await _may_act_on(request, staff, await request.app[DISCLOSURES].conversation_of(did))
    if denied is not None:
        return denied
    return web.json_response({"disclosure": await request.app[DISCLOSURES].get(did)})


async def api_disclosure_approve(request: web.Request, staff: Staff) -> web.StreamResponse:
    disc = await request.app[DISCLOSURES].approve(request.match_info["disclosure_id"], staff.user)
    return web.json_response({"disclosure": disc})


async def api_disclosure_reject(request: web.Request, staff: Staff) -> web.StreamResponse:
    body = await json_body(request)
    disc = await request.app[DISCLOSURES].reject(
        request.match_info["disclosure_id"], staff.user, _str(body, "reason")
    )
    return web.json_response({"disclosure": disc})


async def api_disclosure_review(request: web.Request, staff: Staff) -> web.StreamResponse:
    body = await json_body(request)
    disc = await request.app[DISCLOSURES].review(
        request.match_info["disclosure_id"], staff.user, _str(body, "note")
    )
    return web.json_response({"disclosure": disc})


async def api_disclosure_readout(request: web.Request, staff: Staff) -> web.StreamResponse:
    """The numbers to call and the text to read out, for a disclosure to be passed by phone."""
    did = request.match_info["disclosure_id"]
    denied = await _may_act_on(request, staff, await request.app[DISCLOSURES].conversation_of(did))
    if denied is not None:
        return denied
    return web.json_response({"readout": await request.app[DISCLOSURES].readout(did, staff.user)})


async def api_disclosure_phoned(request: web.Request, staff: Staff) -> web.StreamResponse:
    """Record that a disclosure was passed by phone (number, the police's reference, when)."""
    did = request.match_info["disclosure_id"]
    denied = await _may_act_on(request, staff, await request.app[DISCLOSURES].conversation_of(did))
    if denied is not None:
        return denied
    body = await json_body(request)
    disc = await request.app[DISCLOSURES].record_phone(
        did,
        staff.user,
        number=_str(body, "number"),
        police_reference=_str(body, "police_reference"),
        called_at=_str(body, "called_at"),
        note=_str(body, "note"),
    )
    return web.json_response({"disclosure": disc})


# ---------------------------------------------------------------------- portal
async def portal_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    """The municipality portal's page: the referrals come from ``/console/portal/api/...``; the local
    situational picture of the user's own area (``?from=&to=``, Stockholm dates) is rendered here by
    :func:`handoff.records_web.portal_situation`, the same picture as ``/console/portal/api/situation``."""
    from .records_web import portal_situation

    situation = await portal_situation(request, staff)
    return render(request, "portal.html", staff.lang, staff=staff, user=staff.user, situation=situation)


def _units(request: web.Request, staff: Staff) -> frozenset[str]:
    return user_units(staff.user.municipality_code, request.app[DIRECTORY_SERVICE].directory)


async def portal_me(request: web.Request, staff: Staff) -> web.StreamResponse:
    d = request.app[DIRECTORY_SERVICE].directory
    units = []
    for unit in sorted(_units(request, staff)):
        # The unit's entry whether active or not: a deactivated unit still has its earlier
        # referrals here, under its name (a unit is a Kunskapshus id or a municipality's code).
        r = d.entry(unit) or d.social_services_by_code.get(unit)
        units.append(
            {
                "id": unit,
                "name": {"sv": r.name_sv, "en": r.name_en} if r else None,
                "active": r.active if r else False,
            }
        )
    return web.json_response(
        {"username": staff.user.username, "language": staff.lang, "units": units, "csrf": staff.csrf}
    )


async def portal_list(request: web.Request, staff: Staff) -> web.StreamResponse:
    return web.json_response({"referrals": await request.app[REFERRALS].for_units(_units(request, staff))})


async def portal_get(request: web.Request, staff: Staff) -> web.StreamResponse:
    ref = await request.app[REFERRALS].for_unit(request.match_info["referral_id"], _units(request, staff))
    return web.json_response({"referral": ref})


async def _portal_report(request: web.Request, staff: Staff, status: str, note: str) -> web.StreamResponse:
    units = _units(request, staff)
    referrals = request.app[REFERRALS]
    await referrals.for_unit(request.match_info["referral_id"], units)  # 404 outside the user's units
    await referrals.report(
        request.match_info["referral_id"], status, user=staff.user, via="portal", note=note, units=units
    )
    return web.json_response({"referral": await referrals.for_unit(request.match_info["referral_id"], units)})


async def portal_acknowledge(request: web.Request, staff: Staff) -> web.StreamResponse:
    return await _portal_report(request, staff, "received", "")


async def portal_status(request: web.Request, staff: Staff) -> web.StreamResponse:
    body = await json_body(request)
    return await _portal_report(request, staff, _str(body, "status"), _str(body, "note"))


# ---------------------------------------------------------------------- signed callback
async def callback(request: web.Request) -> web.StreamResponse:
    """A recipient's follow-up by signed callback: ``{"status": "received", "note": "..."}``."""
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        return error(413, "too_large")
    referrals = request.app[REFERRALS]
    rid = request.match_info["referral_id"]
    try:
        recipient_id = (await referrals.get(rid))["recipient_id"]
    except NotFound:
        return error(401, "bad_signature")  # do not tell unsigned callers which ids exist
    secret = request.app[HANDOFF_OPTIONS].webhook_secrets.get(recipient_id)
    if not secret or not webhook.verify_signature(
        secret,
        request.headers.get(webhook.TIMESTAMP_HEADER),
        raw,
        request.headers.get(webhook.SIGNATURE_HEADER),
        request.app[HANDOFF_OPTIONS].callback_tolerance,
    ):
        return error(401, "bad_signature")
    try:
        body = callback_body(raw)
        status = body.get("status")
        note = body.get("note", "")
        if not isinstance(status, str) or not isinstance(note, str):
            return error(422, "status_required")
        ref = await referrals.report(rid, status, user=None, via=f"webhook:{recipient_id}", note=note)
    except InvalidInput as exc:
        return error(422, _code(exc, "invalid_input"))
    except Conflict as exc:
        return error(409, _code(exc, "conflict"))
    return web.json_response({"id": rid, "status": ref["status"], "acknowledged_at": ref["acknowledged_at"]})


# ---------------------------------------------------------------------- routes
@dataclass(frozen=True, slots=True)
class HandoffRoute:
    method: str
    path: str
    handler: Handler
    roles: frozenset[str]
    page: bool = False  # an HTML page: a redirect to the login page without a session


ROUTES: tuple[HandoffRoute, ...] = (
    HandoffRoute("GET", "/console/api/handoff/proposals", api_proposals, CONSOLE_ROLES),
    HandoffRoute("GET", "/console/api/handoff/options", api_form_options, CONSOLE_ROLES),
    HandoffRoute("GET", CONV + "/referrals", api_referrals_of, CONSOLE_ROLES),
    HandoffRoute("POST", CONV + "/referrals", idempotent("referral", api_referral_create), CONSOLE_ROLES),
    HandoffRoute("GET", REF, api_referral, CONSOLE_ROLES),
    HandoffRoute("POST", REF + "/consent-request", api_consent_request, CONSOLE_ROLES),
    HandoffRoute("POST", REF + "/consent", api_consent, CONSOLE_ROLES),
    HandoffRoute("POST", REF + "/consent-not-asked", api_consent_not_asked, CONSOLE_ROLES),
    HandoffRoute("GET", CONV + "/disclosures", api_disclosures_of, CONSOLE_ROLES),
    HandoffRoute(
        "POST", CONV + "/disclosures", idempotent("disclosure", api_disclosure_create), CONSOLE_ROLES
    ),
    HandoffRoute("GET", "/console/api/disclosures", api_disclosures_pending, CONSOLE_ROLES),
    HandoffRoute("GET", DISC, api_disclosure, CONSOLE_ROLES),
    HandoffRoute("POST", DISC + "/approve", api_disclosure_approve, CONSOLE_ROLES),
    HandoffRoute("POST", DISC + "/reject", api_disclosure_reject, CONSOLE_ROLES),
    HandoffRoute("POST", DISC + "/review", api_disclosure_review, CONSOLE_ROLES),
    HandoffRoute("GET", DISC + "/readout", api_disclosure_readout, CONSOLE_ROLES),
    HandoffRoute("POST", DISC + "/phoned", api_disclosure_phoned, CONSOLE_ROLES),
    HandoffRoute("GET", "/console/portal", portal_page, PORTAL_ROLES, page=True),
    HandoffRoute("GET", PORTAL + "/me", portal_me, PORTAL_ROLES),
    HandoffRoute("GET", PORTAL + "/referrals", portal_list, PORTAL_ROLES),
    HandoffRoute("GET", PORTAL_REF, portal_get, PORTAL_ROLES),
    HandoffRoute("POST", PORTAL_REF + "/acknowledge", portal_acknowledge, PORTAL_ROLES),
    HandoffRoute("POST", PORTAL_REF + "/status", portal_status, PORTAL_ROLES),
)
"""Every route behind a login, with the roles that may use it.  Disclosure approval is open to
console roles here so that a counsellor's or the author's attempt is refused *and audited* by the
four-eyes check in :mod:`handoff.disclosure`."""


def guarded(route: HandoffRoute) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    inner = _errors(route.handler)

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


def setup(app: web.Application) -> None:
    """Add the handoff API, the delivery worker, the consent listener and the reminder task."""
    app[HANDOFF_OPTIONS] = HandoffOptions.from_section(app[SETTINGS].section("handoff"))
    directory = directory_service(app)

    async def handoff_ctx(app: web.Application) -> AsyncIterator[None]:
        options = app[HANDOFF_OPTIONS]
        cipher = ContactCipher(app[SETTINGS].contact_key)
        referrals = Referrals(app[DB], app[BROKER], cipher, options, directory.directory)
        disclosures = Disclosures(
            app[DB], app[BROKER], cipher, options, directory.directory, directory.refresh_quietly
        )
        app[REFERRALS] = referrals
        app[DISCLOSURES] = disclosures

        async def deliver(event: Event) -> None:
            kind = event.payload.get("kind")
            if kind == "referral":
                await referrals.deliver(str(event.payload["id"]))
            elif kind == "disclosure":
                await disclosures.deliver(str(event.payload["id"]))

        async def reminders() -> None:
            await referrals.run_reminders(utcnow())

        subs: list[Subscription] = [
            await app[BROKER].subscribe(TOPIC_DELIVER, DELIVER_GROUP, deliver, consumer=app[CONSUMER]),
            await app[BROKER].subscribe(
                TOPIC_CONVERSATION,
                CONSENT_GROUP,
                referrals.on_conversation_event,
                consumer=app[CONSUMER],
                accepts=referrals.may_answer_consent,
            ),
        ]
        task = asyncio.create_task(
            run_periodically(options.reminder_check_seconds, reminders, "referral reminders"),
            name="referral reminders",
        )
        yield
        await cancel_and_wait(task)
        for sub in subs:
            await sub.cancel()

    app.cleanup_ctx.append(handoff_ctx)
    app.router.add_post("/handoff/callback/referrals/" + ID % "referral_id", callback)
    for route in ROUTES:
        app.router.add_route(route.method, route.path, guarded(route))


__all__ = ["DISCLOSURES", "HANDOFF_OPTIONS", "REFERRALS", "ROUTES", "HandoffRoute", "setup"]
