"""Staff actions that create something are stored once per client key.

The console's scripts send an ``Idempotency-Key`` header (one per user action, the same on every
resend of it).  The first request with a key claims it in ``staff_action_keys`` (unique per staff
user and key) before it acts, and stores its answer afterwards; a repeat gets that first answer
(``Idempotent-Replayed: true``) and acts no more.  A repeat while the first is still being answered
gets 409 ``in_progress`` (the script resends a moment later); a key reused for another request
422 ``idempotency_key_reused``.  An answer of 500 or more, or an error, releases the key, so that a
resend acts.  Requests without a key act as before.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiohttp import web
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from gateway.appkeys import DB
from gateway.envelope import utcnow
from gateway.store.db import Database
from gateway.store.models import StaffActionKey
from handoff.web.errors import problem

from .security import Staff

HEADER = "Idempotency-Key"
KEY_FORM = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
KEEP = timedelta(days=1)

Handler = Callable[[web.Request, Staff], Awaitable[web.StreamResponse]]


async def _request_hash(request: web.Request) -> str:
    body = await request.read()  # aiohttp keeps it: the handler reads it again
    return hashlib.sha256(request.method.encode() + b"\0" + request.path.encode() + b"\0" + body).hexdigest()


def _replay(row: StaffActionKey) -> web.Response:
    return web.Response(
        status=row.status or 200,
        text=row.body or "{}",
        content_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )


async def _claim(
    request: web.Request, staff: Staff, key: str, action: str, digest: str
) -> web.Response | int:
    """The claimed row's id, or the answer to give instead of acting."""
    db = request.app[DB]
    conversation_id = request.match_info.get("conversation_id")
    try:
        async with db.session() as session:
            found = (
                await session.execute(
                    select(StaffActionKey).where(
                        StaffActionKey.user_id == staff.user.id, StaffActionKey.key == key
                    )
                )
            ).scalar_one_or_none()
            if found is None:
                row = StaffActionKey(
                    user_id=staff.user.id,
                    key=key,
                    action=action,
                    request_hash=digest,
                    conversation_id=conversation_id,
                    created_at=utcnow(),
                )
                session.add(row)
                await session.flush()
                await session.execute(
                    delete(StaffActionKey).where(StaffActionKey.created_at < utcnow() - KEEP)
                )
                return row.id
    except IntegrityError:
        # The same key at the same moment from another request (or process): look again.
        async with db.session() as session:
            found = (
                await session.execute(
                    select(StaffActionKey).where(
                        StaffActionKey.user_id == staff.user.id, StaffActionKey.key == key
                    )
                )
            ).scalar_one_or_none()
        if found is None:
            return problem(409, "in_progress")
    if found.request_hash != digest or found.action != action:
        return problem(422, "idempotency_key_reused")
    if found.status is None:
        return problem(409, "in_progress")
    return _replay(found)


def idempotent(action: str, handler: Handler) -> Handler:
    """``handler`` acting at most once per ``Idempotency-Key`` of a staff user."""

    async def wrapped(request: web.Request, staff: Staff) -> web.StreamResponse:
        key = request.headers.get(HEADER)
        if key is None:
            return await handler(request, staff)
        if not KEY_FORM.match(key):
            return problem(400, "invalid_idempotency_key")
        claimed = await _claim(request, staff, key, action, await _request_hash(request))
        if isinstance(claimed, web.Response):
            return claimed
        db = request.app[DB]
        try:
            response = await handler(request, staff)
        except web.HTTPException as exc:
            if exc.status < 500:
                await _store(db, claimed, exc.status, exc.text or "{}")
            else:
                await _release(db, claimed)
            raise
        except BaseException:
            await _release(db, claimed)
            raise
        if isinstance(response, web.Response) and response.status < 500:
            await _store(db, claimed, response.status, response.text or "{}")
        else:
            await _release(db, claimed)
        return response

    wrapped.__name__ = getattr(handler, "__name__", action)
    wrapped.__doc__ = handler.__doc__
    return wrapped


async def _store(db: Database, row_id: int, status: int, body: str) -> None:
    async with db.session() as session:
        row = await session.get(StaffActionKey, row_id)
        if row is not None:
            row.status = status
            row.body = body


async def _release(db: Database, row_id: int) -> None:
    try:
        async with db.session() as session:
            await session.execute(delete(StaffActionKey).where(StaffActionKey.id == row_id))
    except Exception:
        # The store is away: the claim stays "in progress" and a resend is told so, never acting twice.
        return
