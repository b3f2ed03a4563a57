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

:data:`ROUTES` is the one table of the routes behind a login, each a :class:`handoff.web.Route`
with its roles, input schema and answers (:mod:`handoff.referrals.schemas`), guarded by the web kit
(the console's session, the role, the CSRF header ``X-CSRF-Token`` on POST, the body, the
``Idempotency-Key``; errors in the kit's one shape).  The signed callback is not behind a login.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.appkeys import BROKER, CONSUMER, DB, PIPELINE, SETTINGS
from gateway.broker.base import FEW_EVENTS_LINGER
from gateway.crypto import ContactCipher
from gateway.envelope import utcnow
from gateway.errors import Conflict, InvalidInput, NotFound
from gateway.events import TOPIC_CONVERSATION
from gateway.tasks import cancel_and_wait
from handoff.console.panels import Opened, add_part
from handoff.console.security import Staff
from handoff.console.views import render
from handoff.directory.live import DIRECTORY_SERVICE, directory_service
from handoff.records.web import portal_situation
from handoff.referrals import webhook
from handoff.referrals.options import CONSENT_GROUP
from handoff.referrals.schemas import (
    ConsentBody,
    NotAskedBody,
    PortalMeAnswer,
    ProposalsAnswer,
    ReferralAnswer,
    ReferralBody,
    ReferralsAnswer,
    StatusBody,
)
from handoff.referrals.service import Referrals, callback_body, run_periodically
from handoff.referrals.units import usable_methods, user_units
from handoff.referrals.web_base import (
    CONV,
    HANDOFF_OPTIONS,
    ID,
    deliverers,
    handoff_options,
    text,
)
from handoff.web import CONSOLE_ROLES, PORTAL_ROLES, Route, in_path, resolved
from handoff.web.errors import answer_for, problem
from handoff.web.guard import add_routes
from handoff.web.validation import MAX_BODY, body

REFERRALS = web.AppKey("referrals", Referrals)
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
    return web.json_response({"referrals": await request.app[REFERRALS].reading.of_conversation(conv_id)})


async def api_referral_create(request: web.Request, staff: Staff) -> web.StreamResponse:
    conv_id = request.match_info["conversation_id"]
    b = body(request, ReferralBody)
    ref = await request.app[REFERRALS].create(
        conv_id,
        staff.user,
        recipient_id=text(b.recipient_id),
        topic=text(b.topic),
        contact_type=text(b.contact_type, "other"),
        municipality_code=text(b.municipality_code).strip() or None,
        summary=text(b.summary),
        urgency=text(b.urgency, "normal"),
        contact_details=b.contact_details,
    )
    return web.json_response({"referral": ref}, status=201)


async def _conversation_of_referral(request: web.Request) -> str:
    return await request.app[REFERRALS].reading.conversation_of(request.match_info["referral_id"])


ON_CONVERSATION = in_path()
ON_REFERRAL = resolved(_conversation_of_referral, "referral_id")


async def api_referral(request: web.Request, staff: Staff) -> web.StreamResponse:
    return web.json_response(
        {"referral": await request.app[REFERRALS].reading.get(request.match_info["referral_id"])}
    )


async def api_consent_request(request: web.Request, staff: Staff) -> web.StreamResponse:
    ref = await request.app[REFERRALS].consent.request(request.match_info["referral_id"], staff.user)
    return web.json_response({"referral": ref})


async def api_consent(request: web.Request, staff: Staff) -> web.StreamResponse:
    ref = await request.app[REFERRALS].consent.record(
        request.match_info["referral_id"], body(request, ConsentBody).consent, user=staff.user
    )
    return web.json_response({"referral": ref})


async def api_consent_not_asked(request: web.Request, staff: Staff) -> web.StreamResponse:
    ref = await request.app[REFERRALS].consent.record_not_asked(
        request.match_info["referral_id"], staff.user, text(body(request, NotAskedBody).reason)
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
    units = _units(request, staff)
    return web.json_response({"referrals": await request.app[REFERRALS].reading.for_units(units)})


async def portal_get(request: web.Request, staff: Staff) -> web.StreamResponse:
    rid, units = request.match_info["referral_id"], _units(request, staff)
    return web.json_response({"referral": await request.app[REFERRALS].reading.for_unit(rid, units)})


async def _portal_report(request: web.Request, staff: Staff, status: str, note: str) -> web.StreamResponse:
    rid, units, referrals = request.match_info["referral_id"], _units(request, staff), request.app[REFERRALS]
    await referrals.reading.for_unit(rid, units)  # 404 outside the user's units
    await referrals.delivery.report(rid, status, user=staff.user, via="portal", note=note, units=units)
    return web.json_response({"referral": await referrals.reading.for_unit(rid, units)})


async def portal_acknowledge(request: web.Request, staff: Staff) -> web.StreamResponse:
    return await _portal_report(request, staff, "received", "")


async def portal_status(request: web.Request, staff: Staff) -> web.StreamResponse:
    b = body(request, StatusBody)
    return await _portal_report(request, staff, text(b.status), text(b.note))


# ---------------------------------------------------------------------- signed callback
async def callback(request: web.Request) -> web.StreamResponse:
    """A recipient's follow-up by signed callback: ``{"status": "received", "note": "..."}``."""
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        return problem(413, "too_large")
    referrals = request.app[REFERRALS]
    rid = request.match_info["referral_id"]
    try:
        recipient_id = (await referrals.reading.get(rid))["recipient_id"]
    except NotFound:
        return problem(401, "bad_signature")  # do not tell unsigned callers which ids exist
    secret = request.app[HANDOFF_OPTIONS].webhook_secrets.get(recipient_id)
    if not secret or not webhook.verify_signature(
        secret,
        request.headers.get(webhook.TIMESTAMP_HEADER),
        raw,
        request.headers.get(webhook.SIGNATURE_HEADER),
        request.app[HANDOFF_OPTIONS].callback_tolerance,
    ):
        return problem(401, "bad_signature")
    try:
        found = callback_body(raw)
        status = found.get("status")
        note = found.get("note", "")
        if not isinstance(status, str) or not isinstance(note, str):
            return problem(422, "status_required")
        via = f"webhook:{recipient_id}"
        ref = await referrals.delivery.report(rid, status, user=None, via=via, note=note)
    except (InvalidInput, Conflict) as exc:
        answer = answer_for(exc)
        assert answer is not None
        return answer
    return web.json_response({"id": rid, "status": ref["status"], "acknowledged_at": ref["acknowledged_at"]})


# ---------------------------------------------------------------------- routes
ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/console/api/handoff/proposals",
        api_proposals,
        CONSOLE_ROLES,
        answers={200: ProposalsAnswer},
        summary="Recipients to propose (?municipality=&topic=&contact_type=)",
    ),
    Route(
        "GET",
        CONV + "/referrals",
        api_referrals_of,
        CONSOLE_ROLES,
        acts_on=ON_CONVERSATION,
        answers={200: ReferralsAnswer},
        summary="The referrals of a conversation",
    ),
    Route(
        "POST",
        CONV + "/referrals",
        api_referral_create,
        CONSOLE_ROLES,
        acts_on=ON_CONVERSATION,
        body=ReferralBody,
        answers={201: ReferralAnswer},
        idempotency="referral",
        summary="Propose a referral",
    ),
    Route(
        "GET",
        REF,
        api_referral,
        CONSOLE_ROLES,
        acts_on=ON_REFERRAL,
        answers={200: ReferralAnswer},
        summary="A referral",
    ),
    Route(
        "POST",
        REF + "/consent-request",
        api_consent_request,
        CONSOLE_ROLES,
        acts_on=ON_REFERRAL,
        answers={200: ReferralAnswer},
        summary="Ask the person for consent",
    ),
    Route(
        "POST",
        REF + "/consent",
        api_consent,
        CONSOLE_ROLES,
        acts_on=ON_REFERRAL,
        body=ConsentBody,
        answers={200: ReferralAnswer},
        summary="Record the person's answer",
    ),
    Route(
        "POST",
        REF + "/consent-not-asked",
        api_consent_not_asked,
        CONSOLE_ROLES,
        acts_on=ON_REFERRAL,
        body=NotAskedBody,
        answers={200: ReferralAnswer},
        summary="Record why consent could not be asked",
    ),
    Route("GET", "/console/portal", portal_page, PORTAL_ROLES, "page", summary="The municipality portal"),
    Route(
        "GET",
        PORTAL + "/me",
        portal_me,
        PORTAL_ROLES,
        answers={200: PortalMeAnswer},
        summary="The portal user",
    ),
    Route(
        "GET",
        PORTAL + "/referrals",
        portal_list,
        PORTAL_ROLES,
        answers={200: ReferralsAnswer},
        summary="The referrals of the user's units",
    ),
    Route("GET", PORTAL_REF, portal_get, PORTAL_ROLES, answers={200: ReferralAnswer}, summary="A referral"),
    Route(
        "POST",
        PORTAL_REF + "/acknowledge",
        portal_acknowledge,
        PORTAL_ROLES,
        answers={200: ReferralAnswer},
        summary="Acknowledge a referral",
    ),
    Route(
        "POST",
        PORTAL_REF + "/status",
        portal_status,
        PORTAL_ROLES,
        body=StatusBody,
        answers={200: ReferralAnswer},
        summary="Report a referral's follow-up",
    ),
)
"""Every referral and portal route behind a login, with the roles that may use it."""


async def referrals_part(request: web.Request, staff: Staff, opened: Opened) -> list[dict[str, object]]:
    """The panel's referrals, read with the transcript (handoff.console.panels)."""
    return await request.app[REFERRALS].reading.of_conversation(opened.conversation.id, opened.session)


def setup(app: web.Application) -> None:
    """Add the referrals' API and portal, their delivery, the consent listener and the reminders."""
    add_part(app, "referrals", referrals_part)
    options = handoff_options(app)
    directory = directory_service(app)
    delivery = deliverers(app)

    async def referrals_ctx(app: web.Application) -> AsyncIterator[None]:
        options = app[HANDOFF_OPTIONS]
        cipher = ContactCipher(app[SETTINGS].contact_key)
        outgoing = app[PIPELINE].outgoing  # the consent question goes out as the pipeline writes
        referrals = Referrals(app[DB], app[BROKER], cipher, options, outgoing, directory.directory)
        app[REFERRALS] = referrals
        delivery["referral"] = referrals.delivery.deliver

        async def reminders() -> None:
            await referrals.delivery.run_reminders(utcnow())

        sub = await app[BROKER].subscribe(
            TOPIC_CONVERSATION,
            CONSENT_GROUP,
            referrals.consent.on_conversation_event,
            consumer=app[CONSUMER],
            accepts=referrals.consent.may_answer,
            linger=FEW_EVENTS_LINGER,
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
    add_routes(app, ROUTES)


__all__ = ["PORTAL", "REFERRALS", "ROUTES", "setup"]
