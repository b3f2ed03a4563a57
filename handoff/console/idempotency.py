"""Staff actions that create something are stored once per client key.

The console's scripts send an ``Idempotency-Key`` header (one per user action, the same on every
resend of it).  The first request with a key claims it in ``staff_action_keys`` (unique per staff
user and key) before it acts, and stores its answer afterwards; a repeat gets that first answer
(``Idempotent-Replayed: true``) and acts no more.  A repeat while the first is still being answered
gets 409 ``in_progress`` (the script resends a moment later); a key reused for another request
422 ``idempotency_key_reused``.  An answer of 500 or more, or an error, releases the key, so that a
resend acts (unless the action committed).  Requests without a key act as before.

A process can die between committing the action and storing its answer.  So every wrapped action
writes its answer to the key row in its own transaction (``gateway.store.action_keys.record``, with
the claim this wrapper puts in ``CLAIM``; :data:`ANSWERS` says how each action's result becomes
the handler's answer): the action and its answer commit together or not at all.  And the claim
holds a lease (:data:`LEASE`): a resend while it runs is told ``in_progress``; a resend after it
finds either the answer (the action committed: it is replayed) or none (the action never committed:
the resend takes the key over, under a new holder, and acts).  A first attempt that is merely slow
and outlives its lease can no longer record, so its transaction rolls back: nothing is created twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.appkeys import DB
from gateway.envelope import utcnow
from gateway.store.action_keys import (
    CLAIM,
    KEYS,
    ActionClaim,
    ActionKeyLost,
    KeyRow,
    KeyTaken,
    purge_old,
)
from gateway.store.db import Database
from gateway.store.models import StaffActionKey
from gateway.web_errors import client_error
from handoff.web.errors import problem

from .data import client_message
from .security import Staff

HEADER = "Idempotency-Key"
KEY_FORM = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
LEASE = timedelta(seconds=60)
"""How long a claim in progress is its attempt's: far longer than any wrapped action takes."""

ANSWERS: dict[str, Callable[[Any], tuple[int, Any]]] = {
    # What each action records in its transaction (``action_keys.record``), as its handler answers it.
    "reply": lambda message: (200, {"message": client_message(message)}),  # the pipeline's message
    "transfer": lambda done: (200, {"ok": True, "to": done["to"]}),  # {"to": username}
    "referral": lambda referral: (201, {"referral": referral}),  # the referral's view
    "disclosure": lambda disclosure: (201, {"disclosure": disclosure}),  # the disclosure's view
    "documentation": lambda saved: (200, _documentation_answer(saved)),  # documentation.SaveResult
}


def _documentation_answer(saved: Any) -> dict[str, Any]:
    return {
        "ok": True,
        "state": saved.state,
        "created": saved.created,
        "redacted": saved.redacted,
        "documented_at": saved.record.documented_at.isoformat(),
    }


Handler = Callable[[web.Request, Staff], Awaitable[web.StreamResponse]]


def digest(method: str, path: str, said: Any) -> str:
    """What a key is bound to: the method, the path and what the JSON body says (not how it is
    spelt), so that the same action sent as a request and as a live socket frame (``live_socket``,
    whose reply a page may resend as a request) is the same action."""
    return _digest(method, path, json.dumps(said, sort_keys=True, separators=(",", ":")).encode())


def _digest(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(method.encode() + b"\0" + path.encode() + b"\0" + body).hexdigest()


async def _request_hash(request: web.Request) -> str:
    body = await request.read()  # aiohttp keeps it: the handler reads it again
    try:
        said = json.loads(body) if body else None
    except ValueError:  # not JSON: bound to its bytes
        return _digest(request.method, request.path, body)
    return digest(request.method, request.path, said)


def _decided(found: StaffActionKey, request_hash: str, action: str) -> web.Response | None:
    """What a key in the store answers by itself: a refusal when it was used for another request,
    its answer when it has one; None while its action is in progress."""
    if found.request_hash != request_hash or found.action != action:
        return problem(422, "idempotency_key_reused")
    if found.status is not None:
        return _replay(found)
    return None


def _replay(row: StaffActionKey) -> web.Response:
    return web.Response(
        status=row.status or 200,
        text=row.body or "{}",
        content_type="application/json",
        headers={"Idempotent-Replayed": "true"},
    )


def _holder() -> str:
    return os.urandom(16).hex()


def _insert_new(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    # Core (the table, not the class): no ORM bulk-insert machinery on every staff action.
    return pg_insert(KEYS) if dialect == "postgresql" else sqlite_insert(KEYS)


def _find(user_id: int, key: str) -> Any:
    return select(StaffActionKey).where(StaffActionKey.user_id == user_id, StaffActionKey.key == key)


async def claim(
    db: Database, staff: Staff, key: str, action: str, request_hash: str, conversation_id: str | None
) -> web.Response | ActionClaim:
    """The claim to act under, or the answer to give instead of acting."""
    holder = _holder()
    try:
        async with db.session() as session:
            now = utcnow()
            # One statement for the common case, a new key: the insert does nothing when the key
            # exists (a retry), and the key is then looked up.
            row_id = await session.scalar(
                _insert_new(session)
                .values(
                    user_id=staff.user.id,
                    key=key,
                    action=action,
                    request_hash=request_hash,
                    conversation_id=conversation_id,
                    created_at=now,
                    holder=holder,
                    lease_until=now + LEASE,
                )
                .on_conflict_do_nothing(index_elements=["user_id", "key"])
                .returning(KEYS.c.id)
            )
            if row_id is not None:
                await purge_old(session, now)
                return ActionClaim(row_id, holder, action, ANSWERS[action])
            found = (await session.execute(_find(staff.user.id, key))).scalar_one_or_none()
            if found is None:  # deleted since (the purge): as if another request held it
                return problem(409, "in_progress")
    except IntegrityError:
        # The insert met the key in a way ON CONFLICT does not cover (kept as a guard): look again.
        async with db.session() as session:
            found = (await session.execute(_find(staff.user.id, key))).scalar_one_or_none()
        if found is None:
            return problem(409, "in_progress")
    decided = _decided(found, request_hash, action)
    if decided is not None:
        return decided
    if found.lease_until is None or found.lease_until > utcnow():
        return problem(409, "in_progress")
    # The lease ran out and no answer was committed, so the action was not: the attempt that held
    # the key died (or outlived its lease, and can no longer record).  Take the key over and act.
    # The update waits for an attempt that is committing just now, and then finds its answer.
    async with db.session() as session:
        taken = await session.execute(
            update(StaffActionKey)
            .where(
                StaffActionKey.id == found.id,
                StaffActionKey.holder == found.holder,
                StaffActionKey.status.is_(None),
            )
            .values(holder=holder, lease_until=utcnow() + LEASE)
            .execution_options(synchronize_session=False)
        )
    if taken.rowcount == 1:  # type: ignore[attr-defined]
        return ActionClaim(found.id, holder, action, ANSWERS[action])
    async with db.session() as session:
        again = await session.get(StaffActionKey, found.id)
    if again is not None and again.status is not None:
        return _replay(again)
    return problem(409, "in_progress")


INLINE = frozenset({"reply", "documentation"})
"""Actions that claim their key in their own transaction (``action_keys.record_all``): no store
access before the action (a reply was two turns at the store, the claim and the reply's batch; the
documentation at each close a transaction of its own for the claim).  Such an action must do all
it does in the transaction that records it: a resend while it runs acts too, and rolls back when
its key turns out to be taken (``KeyTaken``; on PostgreSQL its insert waits for the first attempt's
commit), to be answered from the store."""


def _here(staff: Staff, key: str, action: str, request_hash: str, conversation_id: str | None) -> ActionClaim:
    row = KeyRow(staff.user.id, key, request_hash, conversation_id)
    return ActionClaim(0, _holder(), action, ANSWERS[action], here=row)


async def _answer_of(
    db: Database, staff: Staff, key: str, action: str, request_hash: str
) -> web.Response | None:
    """The committed answer under ``key`` (or the refusal of a key reused), None if there is none."""
    async with db.reader() as session:
        found = (await session.execute(_find(staff.user.id, key))).scalar_one_or_none()
    if found is None or found.status is None:
        return None
    return _decided(found, request_hash, action)


def idempotent(action: str, handler: Handler) -> Handler:
    """``handler`` acting at most once per ``Idempotency-Key`` of a staff user.

    The action must record its result in its transaction (``action_keys.record(session, action,
    result)``) and have its answer in :data:`ANSWERS`."""
    if action not in ANSWERS:
        raise ValueError(f"no answer for the staff action {action!r} (idempotency.ANSWERS)")

    async def wrapped(request: web.Request, staff: Staff) -> web.StreamResponse:
        key = request.headers.get(HEADER)
        if key is None:
            return await handler(request, staff)
        if not KEY_FORM.match(key):
            return problem(400, "invalid_idempotency_key")
        db = request.app[DB]
        request_hash = await _request_hash(request)
        conversation_id = request.match_info.get("conversation_id")
        if action in INLINE:
            token = CLAIM.set(_here(staff, key, action, request_hash, conversation_id))
            try:
                response = await handler(request, staff)
                if 400 <= response.status < 500:
                    # Refused (the conversation was closed since, say; the route's refusals are
                    # answers by here): a resend of an action that committed gets its answer.
                    return await _answer_of(db, staff, key, action, request_hash) or response
                return response
            except KeyTaken:
                pass  # an attempt with this key committed: its answer, through the claim below
            finally:
                CLAIM.reset(token)
        claimed = await claim(db, staff, key, action, request_hash, conversation_id)
        if isinstance(claimed, web.Response):
            return claimed
        token = CLAIM.set(claimed)
        try:
            response = await handler(request, staff)
        except ActionKeyLost:
            # A resend took the key over after the lease; this attempt rolled back.  The resend
            # answers: this one tells the script to ask again.
            return problem(409, "in_progress")
        except web.HTTPException as exc:
            if exc.status < 500:
                await _store(db, claimed, exc.status, exc.text or "{}")
            else:
                await _release(db, claimed)
            raise
        except BaseException:
            await _release(db, claimed)
            raise
        finally:
            CLAIM.reset(token)
        if isinstance(response, web.Response) and response.status < 500:
            await _answered(db, claimed, response.status, response.text or "{}")
        else:
            await _release(db, claimed)
        return response

    wrapped.__name__ = getattr(handler, "__name__", action)
    wrapped.__doc__ = handler.__doc__
    return wrapped


Answer = tuple[int, Any]
"""A status and a JSON body: an action's answer where there is no request to answer (a frame)."""


def _as_answer(response: web.Response) -> Answer:
    return response.status, json.loads(response.text or "{}")


async def once(
    db: Database,
    staff: Staff,
    key: str,
    action: str,
    request_hash: str,
    conversation_id: str | None,
    act: Callable[[], Awaitable[Answer]],
) -> Answer:
    """``act`` at most once per key, as :func:`idempotent` does for a request: for an action sent
    on the live socket.  ``act`` answers, or raises what the error middleware would answer (a
    refusal is answered here; a 5xx or an unexpected error releases the key and is raised)."""
    if action in INLINE:
        token = CLAIM.set(_here(staff, key, action, request_hash, conversation_id))
        try:
            return await act()
        except KeyTaken:
            pass
        except Exception as exc:
            refused = client_error(exc)
            if refused is None:
                raise
            answer = await _answer_of(db, staff, key, action, request_hash)
            return refused if answer is None else _as_answer(answer)
        finally:
            CLAIM.reset(token)
    claimed = await claim(db, staff, key, action, request_hash, conversation_id)
    if isinstance(claimed, web.Response):
        return _as_answer(claimed)
    token = CLAIM.set(claimed)
    try:
        status, body = await act()
    except ActionKeyLost:
        return 409, {"error": "in_progress"}
    except BaseException as exc:
        # As for a request: an error releases the key (a refusal is answered as the error
        # middleware would answer it), so that a resend acts once the cause is gone.
        await _release(db, claimed)
        refused = client_error(exc) if isinstance(exc, Exception) else None
        if refused is None:
            raise
        return refused
    finally:
        CLAIM.reset(token)
    if status < 500:
        await _answered(db, claimed, status, json.dumps(body))
    else:
        await _release(db, claimed)
    return status, body


async def _answered(db: Database, claim: ActionClaim, status: int, body: str) -> None:
    """The handler answered: store the answer, unless the action's own transaction wrote it (it
    returned, so that transaction committed; a second one to write it again was a commit per reply
    for nothing)."""
    if claim.recorded != status:
        await _store(db, claim, status, body)


async def _store(db: Database, claim: ActionClaim, status: int, body: str) -> None:
    """Store the handler's answer (the same as the one its action recorded, if it committed one)."""
    async with db.session() as session:
        await session.execute(
            update(StaffActionKey)
            .where(StaffActionKey.id == claim.row_id, StaffActionKey.holder == claim.holder)
            .values(status=status, body=body, lease_until=None)
            .execution_options(synchronize_session=False)
        )


async def _release(db: Database, claim: ActionClaim) -> None:
    """Let a resend act: only if this attempt still holds the key and its action did not commit."""
    try:
        async with db.session() as session:
            await session.execute(
                delete(StaffActionKey).where(
                    StaffActionKey.id == claim.row_id,
                    StaffActionKey.holder == claim.holder,
                    StaffActionKey.status.is_(None),
                )
            )
    except Exception:
        # The store is away: the claim stays "in progress" until its lease runs out; a resend
        # after it acts if the action did not commit, or gets its answer if it did.
        return
