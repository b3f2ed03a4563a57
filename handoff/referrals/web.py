"""The referrals' JSON API for the console, the municipality portal, and the signed callback of
recipients.

* ``/console/api/...`` (counsellors, supervisors, admins): proposals, referrals of a conversation,
  consent.  A counsellor acts on conversations assigned to them; a supervisor on any.
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
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.appkeys import BROKER, CONSUMER, DB, SETTINGS
from gateway.crypto import ContactCipher
from gateway.envelope import utcnow
from gateway.errors import Conflict, InvalidInput, NotFound
from gateway.events import TOPIC_CONVERSATION
from gateway.store.models import Role
from gateway.tasks import cancel_and_wait
from handoff.console.idempotency import idempotent
from handoff.console.security import CONSOLE_ROLES, Staff
from handoff.console.views import render
from handoff.directory.live import DIRECTORY_SERVICE, directory_service
from handoff.records.web import portal_situation
from handoff.referrals import webhook
from handoff.referrals.options import CONSENT_GROUP
from handoff.referrals.service import Referrals, callback_body, run_periodically
from handoff.referrals.units import usable_methods, user_units
from handoff.referrals.web_base import (
    CONV,
    HANDOFF_OPTIONS,
    ID,
    MAX_BODY,
    HandoffRoute,
    deliverers,
    error,
    error_code,
    guarded,
    handoff_options,
    json_body,
    may_act_on,
    text_field,
)

REFERRALS = web.AppKey("referrals", Referrals)

PORTAL_ROLES = frozenset({Role.MUNICIPALITY.value})
REF = "/console/api/referrals/" + ID % "referral_id"
PORTAL = "/console/portal/api"
PORTAL_REF = PORTAL + "/referrals/" + ID % "referral_id"


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


# ---------------------------------------------------------------------- console: referrals
async def api_referrals_of(request: web.Request, staff: Staff) -> web.StreamResponse:
    conv_id = request.match_info["conversation_id"]
    denied = await may_act_on(request, staff, conv_id)
    if denied is not None:
        return denied
    return web.json_response({"referrals": await request.app[REFERRALS].of_conversation(conv_id)})


async def api_referral_create(request: web.Request, staff: Staff) -> web.StreamResponse:
    conv_id = request.match_info["conversation_id"]
    denied = await may_act_on(request, staff, conv_id)
    if denied is not None:
        return denied
    body = await json_body(request)
    contact = body.get("contact_details")
    if contact is not None and not isinstance(contact, str):
        raise InvalidInput("contact_details_must_be_text")
    ref = await request.app[REFERRALS].create(
        conv_id,
        staff.user,
        recipient_id=text_field(body, "recipient_id"),
        topic=text_field(body, "topic"),
        contact_type=text_field(body, "contact_type", "other"),
        municipality_code=text_field(body, "municipality_code").strip() or None,
        summary=text_field(body, "summary"),
        urgency=text_field(body, "urgency", "normal"),
        contact_details=contact,
    )
    return web.json_response({"referral": ref}, status=201)


async def _referral_guard(request: web.Request, staff: Staff) -> web.Response | None:
    conv_id = await request.app[REFERRALS].conversation_of(request.match_info["referral_id"])
    return await may_act_on(request, staff, conv_id)


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
        request.match_info["referral_id"], staff.user, text_field(body, "reason")
    )
    return web.json_response({"referral": ref})


# ---------------------------------------------------------------------- portal
async def portal_page(request: web.Request, staff: Staff) -> web.StreamResponse:
    """The municipality portal's page: the referrals come from ``/console/portal/api/...``; the local
    situational picture of the user's own area (``?from=&to=``, Stockholm dates) is rendered here by
    :func:`handoff.records.web.portal_situation`, the same picture as ``/console/portal/api/situation``."""

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
    return await _portal_report(request, staff, text_field(body, "status"), text_field(body, "note"))


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
        return error(422, error_code(exc, "invalid_input"))
    except Conflict as exc:
        return error(409, error_code(exc, "conflict"))
    return web.json_response({"id": rid, "status": ref["status"], "acknowledged_at": ref["acknowledged_at"]})


# ---------------------------------------------------------------------- routes
ROUTES: tuple[HandoffRoute, ...] = (
    HandoffRoute("GET", "/console/api/handoff/proposals", api_proposals, CONSOLE_ROLES),
    HandoffRoute("GET", CONV + "/referrals", api_referrals_of, CONSOLE_ROLES),
    HandoffRoute("POST", CONV + "/referrals", idempotent("referral", api_referral_create), CONSOLE_ROLES),
    HandoffRoute("GET", REF, api_referral, CONSOLE_ROLES),
    HandoffRoute("POST", REF + "/consent-request", api_consent_request, CONSOLE_ROLES),
    HandoffRoute("POST", REF + "/consent", api_consent, CONSOLE_ROLES),
    HandoffRoute("POST", REF + "/consent-not-asked", api_consent_not_asked, CONSOLE_ROLES),
    HandoffRoute("GET", "/console/portal", portal_page, PORTAL_ROLES, page=True),
    HandoffRoute("GET", PORTAL + "/me", portal_me, PORTAL_ROLES),
    HandoffRoute("GET", PORTAL + "/referrals", portal_list, PORTAL_ROLES),
    HandoffRoute("GET", PORTAL_REF, portal_get, PORTAL_ROLES),
    HandoffRoute("POST", PORTAL_REF + "/acknowledge", portal_acknowledge, PORTAL_ROLES),
    HandoffRoute("POST", PORTAL_REF + "/status", portal_status, PORTAL_ROLES),
)
"""Every referral and portal route behind a login, with the roles that may use it."""


def setup(app: web.Application) -> None:
    """Add the referrals' API and portal, their delivery, the consent listener and the reminders."""
    options = handoff_options(app)
    directory = directory_service(app)
    delivery = deliverers(app)

    async def referrals_ctx(app: web.Application) -> AsyncIterator[None]:
        options = app[HANDOFF_OPTIONS]
        referrals = Referrals(
            app[DB], app[BROKER], ContactCipher(app[SETTINGS].contact_key), options, directory.directory
        )
        app[REFERRALS] = referrals
        delivery["referral"] = referrals.deliver

        async def reminders() -> None:
            await referrals.run_reminders(utcnow())

        sub = await app[BROKER].subscribe(
            TOPIC_CONVERSATION,
            CONSENT_GROUP,
            referrals.on_conversation_event,
            consumer=app[CONSUMER],
            accepts=referrals.may_answer_consent,
        )
        task = asyncio.create_task(
            run_periodically(options.reminder_check_seconds, reminders, "referral reminders"),
            name="referral reminders",
        )
        yield
        await cancel_and_wait(task)
        await sub.cancel()

    del options
    app.cleanup_ctx.append(referrals_ctx)
    app.router.add_post("/handoff/callback/referrals/" + ID % "referral_id", callback)
    for route in ROUTES:
        app.router.add_route(route.method, route.path, guarded(route))


__all__ = ["PORTAL", "REFERRALS", "ROUTES", "setup"]
