"""Dead letters: incoming messages the gateway cannot store, kept so that no channel blocks on them.

A message the store refuses for good (PostgreSQL's ``DataError``: a value it cannot keep, text it
cannot encode) or the pipeline refuses for a reason redelivery cannot change (longer than the
limit) would otherwise come back for ever: Telegram redelivers the update (and polling blocks every
later one), the web chat resends.  :meth:`DeadLetters.keep` writes it to ``dead_letters`` instead:
channel, reason and time in clear, the raw payload (envelope and address) encrypted with the
contact cipher.  Ingress then raises :class:`DeadLettered` (an :class:`~gateway.errors.InvalidInput`),
which every adapter treats as "handled, refused for good".  Admins list them in the console
(``GET /console/api/dead-letters``) and ``/healthz`` counts them.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import func, select

from gateway.crypto import ContactCipher
from gateway.envelope import Envelope, random_id
from gateway.errors import DeadLettered, InvalidInput
from gateway.store.db import Database
from gateway.store.models import DeadLetter

log = logging.getLogger(__name__)


__all__ = ["DeadLettered", "DeadLetters", "Unstorable", "count", "recent", "store_refusal"]


class Unstorable(InvalidInput):
    """Ingress refuses the message for a reason redelivery cannot change: dead-letter it."""


def store_refusal(exc: BaseException) -> str | None:
    """A short reason when ``exc`` is the store refusing a value for good, else None."""
    from sqlalchemy.exc import DataError, DBAPIError, StatementError

    if isinstance(exc, DataError):
        return f"store refused: {type(exc.orig).__name__}"
    if isinstance(exc, DBAPIError) and not exc.connection_invalidated:
        # SQLSTATE class 22 is "data exception" (value too long, bad encoding, out of range),
        # which asyncpg's batched statements report as a plain DBAPIError.
        state = str(getattr(exc.orig, "sqlstate", None) or "")
        if state.startswith("22"):
            return f"store refused: sqlstate {state}"
    if isinstance(exc, StatementError) and isinstance(exc.orig, UnicodeError):
        return f"store refused: {type(exc.orig).__name__}"
    if isinstance(exc, UnicodeError):
        return f"store refused: {type(exc).__name__}"
    return None


class DeadLetters:
    def __init__(self, db: Database, cipher: ContactCipher) -> None:
        self.db = db
        self.cipher = cipher

    async def keep(self, envelope: Envelope, address: str, reason: str) -> str:
        """Store the message as a dead letter; raises (retryable) if even that fails."""
        raw = json.dumps({"envelope": envelope.to_dict(), "address": address}, ensure_ascii=True)
        letter = DeadLetter(
            id=random_id(),
            channel=envelope.channel[:32],
            reason=reason[:120],
            payload=self.cipher.encrypt(raw),
        )
        async with self.db.session() as session:
            session.add(letter)
        log.warning("dead letter %s kept for channel %s: %s", letter.id, letter.channel, letter.reason)
        return letter.id

    def open(self, payload: bytes) -> dict[str, Any]:
        """The raw payload of a dead letter (for an operator with the contact key)."""
        data: dict[str, Any] = json.loads(self.cipher.decrypt(payload))
        return data


async def count(db: Database) -> int:
    async with db.session() as session:
        return int((await session.execute(select(func.count()).select_from(DeadLetter))).scalar_one())


async def recent(db: Database, limit: int = 200) -> list[dict[str, Any]]:
    """The latest dead letters without their payload: id, channel, reason, time."""
    async with db.session() as session:
        found = await session.execute(select(DeadLetter).order_by(DeadLetter.at.desc()).limit(limit))
        return [
            {"id": d.id, "channel": d.channel, "reason": d.reason, "at": d.at.isoformat()}
            for d in found.scalars()
        ]
