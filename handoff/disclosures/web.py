"""The disclosures' JSON API for the console: disclosures of a conversation, the four-eyes
approval by a supervisor, review afterwards, and disclosures passed by phone; and the options of
the referral and disclosure forms.  Sessions, roles and CSRF as in :mod:`handoff.referrals.web`."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from gateway.appkeys import BROKER, DB, SETTINGS
from gateway.crypto import ContactCipher
from handoff.console.idempotency import idempotent
from handoff.console.security import CONSOLE_ROLES, Staff
from handoff.directory.entries import CONTACT_TYPES, TOPICS
from handoff.directory.live import directory_service
from handoff.disclosures.service import RECIPIENTS, Disclosures
from handoff.disclosures.strings import CERTAINTIES, LEGAL_GROUNDS
from handoff.referrals.web_base import (
    CONV,
    HANDOFF_OPTIONS,
    ID,
    HandoffRoute,
    deliverers,
    error,
    guarded,
    handoff_options,
    json_body,
    may_act_on,
    text_field,
)

DISCLOSURES = web.AppKey("disclosures", Disclosures)

DISC = "/console/api/disclosures/" + ID % "disclosure_id"


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


# ---------------------------------------------------------------------- console: disclosures
async def api_disclosures_of(request: web.Request, staff: Staff) -> web.StreamResponse:
    conv_id = request.match_info["conversation_id"]
    denied = await may_act_on(request, staff, conv_id)
    if denied is not None:
        return denied
    return web.json_response({"disclosures": await request.app[DISCLOSURES].of_conversation(conv_id)})


async def api_disclosure_create(request: web.Request, staff: Staff) -> web.StreamResponse:
    conv_id = request.match_info["conversation_id"]
    denied = await may_act_on(request, staff, conv_id)
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
        recipient_id=text_field(body, "recipient_id"),
        what=text_field(body, "what"),
        when=text_field(body, "when"),
        where=text_field(body, "where"),
        certainty=text_field(body, "certainty"),
        source_seqs=seqs,
        legal_ground=text_field(body, "legal_ground"),
        immediate_danger=danger,
    )
    return web.json_response({"disclosure": disc}, status=201)


async def api_disclosures_pending(request: web.Request, staff: Staff) -> web.StreamResponse:
    if not staff.is_supervisor:
        return error(403, "supervisor_required")
    return web.json_response({"disclosures": await request.app[DISCLOSURES].needing_supervisor()})


async def api_disclosure(request: web.Request, staff: Staff) -> web.StreamResponse:
    did = request.match_info["disclosure_id"]
    denied = await may_act_on(request, staff, await request.app[DISCLOSURES].conversation_of(did))
    if denied is not None:
        return denied
    return web.json_response({"disclosure": await request.app[DISCLOSURES].get(did)})


async def api_disclosure_approve(request: web.Request, staff: Staff) -> web.StreamResponse:
    disc = await request.app[DISCLOSURES].approve(request.match_info["disclosure_id"], staff.user)
    return web.json_response({"disclosure": disc})


async def api_disclosure_reject(request: web.Request, staff: Staff) -> web.StreamResponse:
    body = await json_body(request)
    disc = await request.app[DISCLOSURES].reject(
        request.match_info["disclosure_id"], staff.user, text_field(body, "reason")
    )
    return web.json_response({"disclosure": disc})


async def api_disclosure_review(request: web.Request, staff: Staff) -> web.StreamResponse:
    body = await json_body(request)
    disc = await request.app[DISCLOSURES].review(
        request.match_info["disclosure_id"], staff.user, text_field(body, "note")
    )
    return web.json_response({"disclosure": disc})


async def api_disclosure_readout(request: web.Request, staff: Staff) -> web.StreamResponse:
    """The numbers to call and the text to read out, for a disclosure to be passed by phone."""
    did = request.match_info["disclosure_id"]
    denied = await may_act_on(request, staff, await request.app[DISCLOSURES].conversation_of(did))
    if denied is not None:
        return denied
    return web.json_response({"readout": await request.app[DISCLOSURES].readout(did, staff.user)})


async def api_disclosure_phoned(request: web.Request, staff: Staff) -> web.StreamResponse:
    """Record that a disclosure was passed by phone (number, the police's reference, when)."""
    did = request.match_info["disclosure_id"]
    denied = await may_act_on(request, staff, await request.app[DISCLOSURES].conversation_of(did))
    if denied is not None:
        return denied
    body = await json_body(request)
    disc = await request.app[DISCLOSURES].record_phone(
        did,
        staff.user,
        number=text_field(body, "number"),
        police_reference=text_field(body, "police_reference"),
        called_at=text_field(body, "called_at"),
        note=text_field(body, "note"),
    )
    return web.json_response({"disclosure": disc})


# ---------------------------------------------------------------------- routes
ROUTES: tuple[HandoffRoute, ...] = (
    HandoffRoute("GET", "/console/api/handoff/options", api_form_options, CONSOLE_ROLES),
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
)
"""Every disclosure route behind a login, with the roles that may use it.  Disclosure approval is
open to console roles here so that a counsellor's or the author's attempt is refused *and audited*
by the four-eyes check in :mod:`handoff.disclosures.service`."""


def setup(app: web.Application) -> None:
    """Add the disclosures' API and their delivery."""
    handoff_options(app)
    directory = directory_service(app)
    delivery = deliverers(app)

    async def disclosures_ctx(app: web.Application) -> AsyncIterator[None]:
        disclosures = Disclosures(
            app[DB],
            app[BROKER],
            ContactCipher(app[SETTINGS].contact_key),
            app[HANDOFF_OPTIONS],
            directory.directory,
            directory.refresh_quietly,
        )
        app[DISCLOSURES] = disclosures
        delivery["disclosure"] = disclosures.deliver
        yield

    app.cleanup_ctx.append(disclosures_ctx)
    for route in ROUTES:
        app.router.add_route(route.method, route.path, guarded(route))


__all__ = ["DISCLOSURES", "ROUTES", "setup"]
