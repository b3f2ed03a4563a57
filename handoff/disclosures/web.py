"""The disclosures' JSON API for the console: disclosures of a conversation, the four-eyes
approval by a supervisor, review afterwards, and disclosures passed by phone; and the options of
the referral and disclosure forms.  Each route a :class:`handoff.web.Route` with its input schema and
answers (:mod:`handoff.disclosures.schemas`), guarded by the web kit."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from gateway.appkeys import BROKER, DB, SETTINGS
from gateway.crypto import ContactCipher
from handoff.console.panels import Opened, add_part
from handoff.console.security import Staff
from handoff.directory.entries import CONTACT_TYPES, TOPICS
from handoff.directory.live import directory_service
from handoff.disclosures.schemas import (
    DisclosureAnswer,
    DisclosureBody,
    DisclosuresAnswer,
    FormOptionsAnswer,
    PhonedBody,
    ReadoutAnswer,
    RejectBody,
    ReviewBody,
)
from handoff.disclosures.service import RECIPIENTS, Disclosures
from handoff.disclosures.strings import CERTAINTIES, LEGAL_GROUNDS
from handoff.referrals.web_base import (
    CONV,
    HANDOFF_OPTIONS,
    ID,
    deliverers,
    handoff_options,
    text,
)
from handoff.web import CONSOLE_ROLES, Route, in_path, resolved
from handoff.web.errors import problem
from handoff.web.guard import add_routes
from handoff.web.validation import body

DISCLOSURES = web.AppKey("disclosures", Disclosures)

DISC = "/console/api/disclosures/" + ID % "disclosure_id"


async def _conversation_of_disclosure(request: web.Request) -> str:
    return await request.app[DISCLOSURES].reading.conversation_of(request.match_info["disclosure_id"])


ON_CONVERSATION = in_path()
ON_DISCLOSURE = resolved(_conversation_of_disclosure, "disclosure_id")


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
    return web.json_response({"disclosures": await request.app[DISCLOSURES].reading.of_conversation(conv_id)})


async def api_disclosure_create(request: web.Request, staff: Staff) -> web.StreamResponse:
    conv_id = request.match_info["conversation_id"]
    b = body(request, DisclosureBody)
    disc = await request.app[DISCLOSURES].create(
        conv_id,
        staff.user,
        recipient_id=text(b.recipient_id),
        what=text(b.what),
        when=text(b.when),
        where=text(b.where),
        certainty=text(b.certainty),
        source_seqs=b.source_seqs,
        legal_ground=text(b.legal_ground),
        immediate_danger=b.immediate_danger,
    )
    return web.json_response({"disclosure": disc}, status=201)


async def api_disclosures_pending(request: web.Request, staff: Staff) -> web.StreamResponse:
    if not staff.is_supervisor:
        return problem(403, "supervisor_required")
    return web.json_response({"disclosures": await request.app[DISCLOSURES].reading.needing_supervisor()})


async def api_disclosure(request: web.Request, staff: Staff) -> web.StreamResponse:
    did = request.match_info["disclosure_id"]
    return web.json_response({"disclosure": await request.app[DISCLOSURES].reading.get(did)})


async def api_disclosure_approve(request: web.Request, staff: Staff) -> web.StreamResponse:
    disc = await request.app[DISCLOSURES].approve(request.match_info["disclosure_id"], staff.user)
    return web.json_response({"disclosure": disc})


async def api_disclosure_reject(request: web.Request, staff: Staff) -> web.StreamResponse:
    disc = await request.app[DISCLOSURES].reject(
        request.match_info["disclosure_id"], staff.user, text(body(request, RejectBody).reason)
    )
    return web.json_response({"disclosure": disc})


async def api_disclosure_review(request: web.Request, staff: Staff) -> web.StreamResponse:
    disc = await request.app[DISCLOSURES].review(
        request.match_info["disclosure_id"], staff.user, text(body(request, ReviewBody).note)
    )
    return web.json_response({"disclosure": disc})


async def api_disclosure_readout(request: web.Request, staff: Staff) -> web.StreamResponse:
    """The numbers to call and the text to read out, for a disclosure to be passed by phone."""
    did = request.match_info["disclosure_id"]
    return web.json_response({"readout": await request.app[DISCLOSURES].by_phone.readout(did, staff.user)})


async def api_disclosure_phoned(request: web.Request, staff: Staff) -> web.StreamResponse:
    """Record that a disclosure was passed by phone (number, the police's reference, when)."""
    did = request.match_info["disclosure_id"]
    b = body(request, PhonedBody)
    disc = await request.app[DISCLOSURES].by_phone.record(
        did,
        staff.user,
        number=text(b.number),
        police_reference=text(b.police_reference),
        called_at=text(b.called_at),
        note=text(b.note),
    )
    return web.json_response({"disclosure": disc})


# ---------------------------------------------------------------------- routes
ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/console/api/handoff/options",
        api_form_options,
        CONSOLE_ROLES,
        answers={200: FormOptionsAnswer},
        summary="What the referral and disclosure forms offer",
    ),
    Route(
        "GET",
        CONV + "/disclosures",
        api_disclosures_of,
        CONSOLE_ROLES,
        acts_on=ON_CONVERSATION,
        answers={200: DisclosuresAnswer},
        summary="The disclosures of a conversation",
    ),
    Route(
        "POST",
        CONV + "/disclosures",
        api_disclosure_create,
        CONSOLE_ROLES,
        acts_on=ON_CONVERSATION,
        body=DisclosureBody,
        answers={201: DisclosureAnswer},
        idempotency="disclosure",
        summary="Write a disclosure",
    ),
    Route(
        "GET",
        "/console/api/disclosures",
        api_disclosures_pending,
        CONSOLE_ROLES,
        answers={200: DisclosuresAnswer},
        summary="Disclosures a supervisor has to act on",
    ),
    Route(
        "GET",
        DISC,
        api_disclosure,
        CONSOLE_ROLES,
        acts_on=ON_DISCLOSURE,
        answers={200: DisclosureAnswer},
        summary="A disclosure",
    ),
    Route(
        "POST",
        DISC + "/approve",
        api_disclosure_approve,
        CONSOLE_ROLES,
        answers={200: DisclosureAnswer},
        summary="Approve (four eyes)",
    ),
    Route(
        "POST",
        DISC + "/reject",
        api_disclosure_reject,
        CONSOLE_ROLES,
        body=RejectBody,
        answers={200: DisclosureAnswer},
        summary="Reject",
    ),
    Route(
        "POST",
        DISC + "/review",
        api_disclosure_review,
        CONSOLE_ROLES,
        body=ReviewBody,
        answers={200: DisclosureAnswer},
        summary="Review afterwards",
    ),
    Route(
        "GET",
        DISC + "/readout",
        api_disclosure_readout,
        CONSOLE_ROLES,
        acts_on=ON_DISCLOSURE,
        answers={200: ReadoutAnswer},
        summary="What to read out on the phone (audited)",
    ),
    Route(
        "POST",
        DISC + "/phoned",
        api_disclosure_phoned,
        CONSOLE_ROLES,
        acts_on=ON_DISCLOSURE,
        body=PhonedBody,
        answers={200: DisclosureAnswer},
        summary="Record a call",
    ),
)
"""Every disclosure route behind a login, with the roles that may use it.  Disclosure approval is
open to console roles here so that a counsellor's or the author's attempt is refused *and audited*
by the four-eyes check in :mod:`handoff.disclosures.service`."""


async def disclosures_part(request: web.Request, staff: Staff, opened: Opened) -> list[dict[str, object]]:
    """The panel's crime information, read with the transcript (handoff.console.panels)."""
    return await request.app[DISCLOSURES].reading.of_conversation(opened.conversation.id, opened.session)


def setup(app: web.Application) -> None:
    """Add the disclosures' API and their delivery."""
    add_part(app, "disclosures", disclosures_part)
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
        delivery["disclosure"] = disclosures.delivery.deliver
        yield

    app.cleanup_ctx.append(disclosures_ctx)
    add_routes(app, ROUTES)


__all__ = ["DISCLOSURES", "ROUTES", "setup"]
