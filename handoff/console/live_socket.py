"""The console's live socket: the feed out, and the few small requests a page sends on it.

The page receives its queue and its conversations' events here (:mod:`handoff.console.live`).  It
also sends on the socket what it would otherwise send as many small HTTP requests:

* ``{"type":"typing","conversation_id":…,"typing":true|false}``: the counsellor is typing (at most
  every 4 s per conversation while they type, and once when they stop).  Over HTTP each signal was a
  whole request (session, CSRF, access check, JSON): as much CPU as the reply it announces.  The
  socket's session was checked when it opened and is rechecked every few seconds; the conversation
  is checked on each signal as before (only the counsellor who holds it is told of).
* ``{"type":"reply","key":…,"conversation_id":…,"text":…}``: a reply to the person.  As a request
  it waited behind the page's other requests (a browser keeps six connections per host, and a
  claim opens five panels at once): 0.6 s of its 1.5 s p99 in ``bench.deployed`` was that wait in
  the client, not the gateway.  It is stored as the request stores it, once per idempotency key
  (the same key as a request: a page that has no answer resends it as one), and answered
  ``{"type":"answer","key":…,"status":…,"data":…}`` with the request's status and body.
* ``{"type":"snapshot"}``: the page saw a queue delta out of sequence; the whole queue again.
* ``{"type":"active"}``: input on the page (at most once a minute): an automatic away ends.
* ``{"type":"ping"}``: answered with ``pong``.

The socket reads its next frame while a request is being answered: a typing signal that must read
its conversation from a busy store (the first after a claim, before the hub has seen it held) once
took 250-500 ms under load, and every reply behind it on that socket waited as long (half the
replies' p99 in ``bench.deployed``).  A conversation's typing signals go out in the order sent, and
a reply drops those not yet told rather than wait for them (:mod:`handoff.console.live_lanes`); the
replies of one conversation keep their order in the batch that stores them.

Each request kind has an allowance per socket (:class:`Allowance`), so that one page (or a script
with a session) cannot make the process read the store or encode the whole queue without bound: a
snapshot asked for too often is sent once when the allowance returns, not refused (the page that
asked still needs one); a typing signal beyond the allowance is dropped (it is only a hint).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from gateway import auth
from gateway.appkeys import BROKER, DB, METRICS, PIPELINE, SETTINGS
from gateway.errors import BrokerError, Conflict, InvalidInput, NotFound
from gateway.outbox import outbox_for
from gateway.tasks import cancel_and_wait
from gateway.web_errors import error_body, unavailable
from handoff.shift import presence
from handoff.shift.languages import spoken
from handoff.web.errors import problem
from handoff.web.validation import validate

from . import idempotency
from .data import client_message
from .live import Client, Hub, bound_send_buffer
from .live_lanes import Allowance, Lanes, spawn
from .schemas import ReplyBody
from .security import Staff
from .views import CONSOLE

log = logging.getLogger(__name__)

SESSION_RECHECK_SECONDS = 3.0  # a logout in another process closes the live socket this soon
ACTIVE_WRITE_SECONDS = 30.0  # console activity is written to the store at most this often per socket
REPLIES_PER_SECOND = 10.0
"""Replies one socket has stored at once (a burst of twice that); beyond, each waits its turn, so
that a script cannot make the process store without bound, and a page is never refused."""
REPLIES_AT_ONCE = 50
"""Replies of one socket waiting or being stored; beyond, each is answered 429 (a page never has
this many: it sends one per conversation and waits for its answer)."""
CONVERSATION_ID = re.compile(r"^[0-9a-f]{32}$")
TYPING_PER_SECOND = 5.0
"""Typing signals one socket may send (a burst of twice that): a page sends one per conversation
every 4 s at most, and a counsellor holds a handful."""
PONG = '{"type":"pong"}'


FRAME_OVERHEAD = 1024
"""Bytes of a reply frame besides its text: type, key, conversation id."""


def frame_bytes(max_message_chars: int) -> int:
    """The largest frame the socket takes: a reply of the longest text allowed, each character as
    long as JSON can make it (six bytes, ``\\u00XX``), and the rest of the frame.  A larger frame
    closes the socket with 1009; a reply too long in characters is answered 422 ``invalid_text``."""
    return 6 * max_message_chars + FRAME_OVERHEAD


def origin_ok(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if not origin:
        return False
    netloc = urlsplit(origin).netloc.lower()
    allowed = {request.host.lower()}
    public = request.app[SETTINGS].section("server").get("public_url") or ""
    if public:
        allowed.add(urlsplit(str(public)).netloc.lower())
    return netloc in allowed


class LiveRequests:
    """What one socket asks for, within its allowances."""

    def __init__(self, app: web.Application, hub: Hub, client: Client, staff: Staff) -> None:
        self.app = app
        self.hub = hub
        self.client = client
        self.staff = staff
        section = app[SETTINGS].section("console")
        per_minute = float(section["live_snapshots_per_minute"])
        self.snapshots = Allowance(per_minute / 60.0, max(1.0, float(int(per_minute / 5.0))))
        self.typing = Allowance(TYPING_PER_SECOND, 2 * TYPING_PER_SECOND)
        self.replies = Allowance(REPLIES_PER_SECOND, 2 * REPLIES_PER_SECOND)
        self.replying: set[asyncio.Task[None]] = set()
        self.signals: set[asyncio.Task[None]] = set()
        """Typing signals and activity being told (the socket reads on meanwhile)."""
        self.lanes = Lanes()
        self.later: asyncio.Task[None] | None = None
        self.last_active = asyncio.get_running_loop().time()
        self.outbox = outbox_for(app[DB], app[BROKER])

    async def handle(self, data: str) -> None:
        try:
            frame = json.loads(data)
        except ValueError:
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "snapshot":
            await self.snapshot()
        elif kind == "active":
            self.active()
        elif kind == "typing":
            self.typing_signal(frame)
        elif kind == "reply":
            self.reply(frame)
        elif kind == "ping":
            await self.client.ws.send_str(PONG)

    async def snapshot(self) -> None:
        if self.snapshots.take():
            await self.hub.resend(self.client)
        elif self.later is None or self.later.done():
            # Asked too often: one snapshot when the allowance returns answers every request since.
            self.later = asyncio.create_task(self._snapshot_later(), name="console snapshot later")

    async def _snapshot_later(self) -> None:
        await asyncio.sleep(self.snapshots.wait())
        self.snapshots.take()
        if not self.client.ws.closed:
            await self.hub.resend(self.client)

    def active(self) -> None:
        # The page reports input at most once a minute; the store is written at most every 30 s.
        now = asyncio.get_running_loop().time()
        if now - self.last_active >= ACTIVE_WRITE_SECONDS:
            self.last_active = now
            spawn(None, self._activity, self.signals)

    async def _activity(self) -> None:
        self.client.status, _auto = await presence.activity(self.app[DB], self.outbox, self.staff.user)

    def typing_signal(self, frame: dict[str, object]) -> None:
        if not self.typing.take():
            return
        conversation_id, typing = frame.get("conversation_id"), frame.get("typing")
        if not (
            isinstance(conversation_id, str) and 0 < len(conversation_id) <= 32 and conversation_id.isalnum()
        ):
            return
        if not isinstance(typing, bool):
            return
        self.lanes.signal(
            conversation_id,
            functools.partial(self._held, conversation_id),
            functools.partial(self._typing, conversation_id, typing),
            self.signals,
        )

    async def _held(self, conversation_id: str) -> Mapping[str, Any] | None:
        """The conversation's summary as the feed knows it, else read (None: not held by them)."""
        known = self.hub.held_summary(self.client, conversation_id)
        if known is not None:
            return known
        try:
            return await self.app[PIPELINE].staff.held_by(conversation_id, self.staff.user)
        except (NotFound, Conflict):
            return None  # closed or taken over meanwhile: a typing hint for it means nothing now

    async def _typing(self, conversation_id: str, typing: bool, known: Mapping[str, Any] | None) -> None:
        if known is not None:
            await self.app[PIPELINE].staff.counsellor_typing(
                conversation_id, self.staff.user, typing, known=known
            )

    def reply(self, frame: dict[str, object]) -> None:
        """Store the reply in a task of its own: the socket reads the next frame meanwhile."""
        key = frame.get("key")
        if not isinstance(key, str) or not idempotency.KEY_FORM.match(key):
            return  # nothing to answer to; the page sends a key with every reply
        if len(self.replying) >= REPLIES_AT_ONCE:
            spawn(None, functools.partial(self._answer, key, 429, error_body("rate_limited")), self.replying)
            return
        wait = self.replies.reserve()
        conversation_id = frame.get("conversation_id")
        spawn(
            self.lanes.before_reply(conversation_id),
            functools.partial(self._reply, key, conversation_id, frame.get("text"), wait),
            self.replying,
        )

    async def _reply(self, key: str, conversation_id: object, text: object, wait: float) -> None:
        if wait > 0:
            await asyncio.sleep(wait)
        if not isinstance(conversation_id, str) or not CONVERSATION_ID.match(conversation_id):
            await self._answer(key, 404, error_body("not_found"))
            return
        path = f"/console/api/conversations/{conversation_id}/reply"
        staff = self.staff

        async def act() -> idempotency.Answer:
            body = validate(ReplyBody, {"text": text})
            try:
                msg = await self.app[PIPELINE].staff.reply(conversation_id, body.text, staff.user)
            except InvalidInput:
                return 422, error_body("invalid_text")
            return 200, {"message": client_message(msg)}

        try:
            status, data = await idempotency.once(
                self.app[DB],
                staff,
                key,
                "reply",
                idempotency.digest("POST", path, {"text": text}),
                conversation_id,
                act,
            )
        except Exception as exc:  # as the error middleware answers a request that failed
            retry = unavailable(exc)
            metrics = self.app.get(METRICS)
            if retry and metrics is not None:
                metrics.error("broker" if isinstance(exc, BrokerError) else "store")
            log.log(
                logging.WARNING if retry else logging.ERROR, "console reply failed (%s)", type(exc).__name__
            )
            status, data = (503, error_body("unavailable")) if retry else (500, error_body("internal"))
        await self._answer(key, status, data)

    async def _answer(self, key: str, status: int, data: dict[str, Any]) -> None:
        if not self.client.ws.closed:
            frame = {"type": "answer", "key": key, "status": status, "data": data}
            with contextlib.suppress(ConnectionError):
                await self.client.ws.send_str(json.dumps(frame))

    async def close(self) -> None:
        if self.later is not None:
            await cancel_and_wait(self.later)
        # Nobody is left to answer: a reply waiting for its turn is dropped, and one in its batch
        # is still stored (the batch does not stop for a caller that left).  The page resends
        # either by request with the same key, which stores it once or gives the stored answer.
        for task in [*self.replying, *self.signals]:
            await cancel_and_wait(task)


async def websocket(request: web.Request, staff: Staff) -> web.StreamResponse:
    if not origin_ok(request):
        return problem(403, "bad_origin")
    hub = request.app[CONSOLE].hub
    if hub is None:
        return problem(503, "not_ready")
    # No permessage-deflate (as the web chat's socket): small frames, many of them, to every console.
    limit = frame_bytes(int(request.app[SETTINGS].section("limits")["max_message_chars"]))
    ws = web.WebSocketResponse(heartbeat=25.0, max_msg_size=limit, compress=False)
    await ws.prepare(request)
    bound_send_buffer(request.transport)
    outbox = outbox_for(request.app[DB], request.app[BROKER])
    # Opening the console is activity: an automatic away becomes available before the first snapshot.
    status, _auto = await presence.activity(request.app[DB], outbox, staff.user)
    client = Client(
        ws=ws,
        user_id=staff.user.id,
        role=staff.user.role,
        capacity=staff.user.capacity,
        languages=frozenset(spoken(staff.user)),
        token_hash=staff.token_hash,
        transport=request.transport,
        status=status,
    )
    requests = LiveRequests(request.app, hub, client, staff)
    recheck = asyncio.create_task(_recheck_session(request.app, client), name="console session recheck")
    try:
        await hub.add(client)
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                await requests.handle(msg.data)
    finally:
        await requests.close()
        await cancel_and_wait(recheck)
        hub.remove(client)
        with contextlib.suppress(Exception):
            await ws.close()
    return ws


async def _recheck_session(app: web.Application, client: Client) -> None:
    """Close the live socket once its session ended anywhere (a logout through another process):
    checked on a timer, whatever the socket's traffic, with one read of the store."""
    while not client.ws.closed:
        await asyncio.sleep(SESSION_RECHECK_SECONDS)
        try:
            async with app[DB].reader() as session:
                alive = await auth.session_alive(session, client.token_hash)
        except Exception as exc:  # the store is away: keep the socket, check again later
            log.info("console session not rechecked (%s)", type(exc).__name__)
            continue
        if not alive:
            await client.ws.close(code=4401, message=b"session ended")
            return
