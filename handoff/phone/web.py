"""The phone's routes.

* ``POST /channels/phone/events``: the phone system's events, signed (docs/phone.md).  No login:
  ``X-Helpline-Timestamp`` (Unix seconds) and ``X-Helpline-Signature`` (``sha256=`` + the hex
  HMAC-SHA256 with ``phone.events_secret`` over ``"<timestamp>.<body>"``, as the handoff webhooks
  sign).  401 ``bad_signature`` for a missing or wrong signature; 400 ``stale_timestamp`` for a
  right signature whose timestamp is more than ``phone.events_window_seconds`` from the clock (an
  old request replayed); 200 ``{"repeat": true}`` for an event (call id and event) already taken,
  which changes nothing; 422 for a body that does not fit; 404 while no secret is configured.
* ``POST /console/api/phone/calls``: "Registrera samtal" (a call logged by hand);
  ``POST /console/api/phone/calls/{conversation_id}/stop`` ends it;
  ``GET /console/api/phone/calls/{conversation_id}``: the call (never the number);
  ``GET /console/api/phone/calls/{conversation_id}/number``: the number, for a callback only.

A referral's consent on a call is recorded by the counsellor with the referrals' own
``POST /console/api/referrals/{referral_id}/consent`` ("the caller agreed on the phone": audited
``referral.consented`` with ``via: counsellor, on_the_phone: true``); the question in the channel
is refused for a call (``ask_on_the_phone``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.appkeys import DB, PIPELINE, SETTINGS
from gateway.crypto import ContactCipher
from gateway.errors import InvalidInput
from gateway.store.models import StaffUser
from gateway.store.rows import ConversationRow
from gateway.web_errors import client_error
from handoff.console.security import Staff
from handoff.referrals.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from handoff.web import CONSOLE_ROLES, Route, in_path
from handoff.web.guard import add_routes
from handoff.web.validation import body, validate

from . import manual
from .calls import PhoneCalls, call_view
from .schemas import CallAnswer, CallEventBody, ManualCallBody, NumberAnswer

EVENTS_PATH = "/channels/phone/events"
PHONE_CALLS = web.AppKey("phone_calls", PhoneCalls)
MAX_EVENT = 16 * 1024


def _calls(request: web.Request) -> PhoneCalls:
    return request.app[PHONE_CALLS]


def _error(status: int, code: str) -> web.Response:
    return web.json_response({"error": code}, status=status)


async def post_event(request: web.Request) -> web.StreamResponse:
    """An event of the phone system (signed)."""
    phone = request.app[SETTINGS].section("phone")
    secret = str(phone["events_secret"])
    if not secret:
        return _error(404, "phone_events_off")
    if request.content_length is not None and request.content_length > MAX_EVENT:
        return _error(413, "too_large")
    raw = await request.read()  # the whole body (aiohttp refuses one past client_max_size)
    if len(raw) > MAX_EVENT:
        return _error(413, "too_large")
    stamp = request.headers.get(TIMESTAMP_HEADER)
    signature = request.headers.get(SIGNATURE_HEADER)
    # The signature first, whatever the time: a stranger learns nothing of the window.
    if not verify_signature(secret, stamp, raw, signature, tolerance=float("inf")):
        return _error(401, "bad_signature")
    if not verify_signature(secret, stamp, raw, signature, tolerance=float(phone["events_window_seconds"])):
        return _error(400, "stale_timestamp")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _error(400, "invalid_json")
    if not isinstance(data, dict):
        return _error(400, "invalid_json")
    try:
        event = validate(CallEventBody, data)
    except InvalidInput as exc:  # a phone system reads JSON, whatever it sends as Accept
        refused = client_error(exc)
        assert refused is not None
        return web.json_response(refused[1], status=refused[0])
    applied = await _calls(request).apply(event)
    return web.json_response(
        {"ok": True, "repeat": applied.repeat, "conversation_id": applied.conversation_id}
    )


# ---------------------------------------------------------------------- the console's routes
async def api_log_call(request: web.Request, staff: Staff) -> web.StreamResponse:
    wanted = body(request, ManualCallBody)
    call = await manual.log_call(_calls(request), staff.user, wanted.duration_seconds)
    return web.json_response(call_view(call), status=201)


async def api_stop_call(request: web.Request, staff: Staff) -> web.StreamResponse:
    call = await manual.stop_call(_calls(request), request.match_info["conversation_id"], staff.user)
    return web.json_response(call_view(call))


async def api_call(request: web.Request, staff: Staff) -> web.StreamResponse:
    call = await manual.get_call(_calls(request), request.match_info["conversation_id"])
    return web.json_response(call_view(call))


async def api_number(request: web.Request, staff: Staff) -> web.StreamResponse:
    number = await manual.callback_number(_calls(request), request.match_info["conversation_id"], staff.user)
    return web.json_response({"number": number})


def handled_by(conv: ConversationRow, user: StaffUser) -> bool:
    """The counsellor who holds or held (answered, closed) the call, or a supervisor or admin."""
    held = conv.assigned_to == user.id or (conv.meta or {}).get("closed_by") == user.username
    return held or user.role in ("supervisor", "admin")


CALL = "/console/api/phone/calls/{conversation_id:[0-9a-f]{32}}"
HANDLED = in_path().but(
    rule=handled_by, rule_text="the counsellor who holds or held the call, or a supervisor or admin"
)

ROUTES: tuple[Route, ...] = (
    Route(
        "POST",
        "/console/api/phone/calls",
        api_log_call,
        CONSOLE_ROLES,
        body=ManualCallBody,
        answers={201: CallAnswer},
        summary="Log a call by hand (Registrera samtal): running now, or over with its duration",
        tag="phone",
    ),
    Route(
        "POST",
        CALL + "/stop",
        api_stop_call,
        CONSOLE_ROLES,
        answers={200: CallAnswer},
        acts_on=in_path(),
        summary="End a call logged by hand: it goes to documentation",
        tag="phone",
    ),
    Route(
        "GET",
        CALL,
        api_call,
        CONSOLE_ROLES,
        answers={200: CallAnswer},
        acts_on=HANDLED,
        summary="A call: outcome, duration (never the number)",
        tag="phone",
    ),
    Route(
        "GET",
        CALL + "/number",
        api_number,
        CONSOLE_ROLES,
        answers={200: NumberAnswer},
        acts_on=in_path(),
        summary="The number to call back (only a callback, only its holder; audited)",
        tag="phone",
    ),
)


def setup(app: web.Application) -> None:
    """The events endpoint, the console's routes and the process's :class:`PhoneCalls`."""
    add_routes(app, ROUTES)
    app.router.add_post(EVENTS_PATH, post_event)

    async def phone_ctx(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        pipeline = app[PIPELINE]
        app[PHONE_CALLS] = PhoneCalls(
            app[DB],
            ContactCipher(settings.contact_key, settings.previous_contact_keys),
            settings.pseudonym_key,
            pipeline.event_rows,
            pipeline.outbox,
            busy_on_call=bool(settings.section("phone")["busy_on_call"]),
        )
        yield

    app.cleanup_ctx.append(phone_ctx)


__all__ = ["EVENTS_PATH", "PHONE_CALLS", "ROUTES", "setup"]
