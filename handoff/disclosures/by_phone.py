"""Passing a disclosure by phone: what to read out (audited) and the record of the call."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update

from gateway.envelope import utcnow
from gateway.errors import Conflict, InvalidInput
from gateway.store import repo
from gateway.store.db import Database
from gateway.store.models import StaffUser
from handoff.directory.catalog import Directory
from handoff.disclosures.models import Disclosure, DisclosureStatus
from handoff.disclosures.phone import (
    BY_PHONE,
    CLOCK_SLACK,
    MAX_NOTE_CHARS,
    MAX_REFERENCE_CHARS,
    PHONE_RE,
    package_lines,
    phone_numbers,
)
from handoff.disclosures.reading import DisclosureReading
from handoff.referrals.transport import package_digest

D = DisclosureStatus


class DisclosuresByPhone:
    """Read out, record the call (``Disclosures.by_phone``)."""

    def __init__(self, db: Database, directory: Directory, reading: DisclosureReading) -> None:
        self.db = db
        self.directory = directory
        self.reading = reading

    async def readout(self, disclosure_id: str, user: StaffUser) -> dict[str, Any]:
        """What to read out on the phone and the numbers to call (audited: the identity, when the
        ground requires it, is shown here to be passed on)."""
        async with self.db.session() as session:
            disc = await self.reading.load(session, disclosure_id)
            if disc.status not in BY_PHONE:
                raise Conflict("not_awaiting_phone")
            body, identity_channel = await self.reading.body(session, disc)
            await repo.audit(
                session,
                "disclosure.readout_opened",
                actor=user,
                conversation_id=disc.conversation_id,
                details={"disclosure_id": disc.id, "identity_shown": identity_channel is not None},
            )
            manual = (disc.delivery or {}).get("manual") or {}
            recipient = self.directory.entry(disc.recipient_id)
            numbers = manual.get("numbers") or phone_numbers(recipient, disc.immediate_danger)
        return {"id": disclosure_id, "text": "\n".join(package_lines(body)), "numbers": numbers}

    async def record(
        self,
        disclosure_id: str,
        user: StaffUser,
        *,
        number: str,
        police_reference: str = "",
        called_at: str = "",
        note: str = "",
    ) -> dict[str, Any]:
        """Record that the disclosure was passed by phone: it is then ``sent``, and audited."""
        number = " ".join(number.split())
        if not number:
            raise InvalidInput("number_required")
        if not PHONE_RE.fullmatch(number):
            raise InvalidInput("invalid_number")
        reference = " ".join(police_reference.split())
        if len(reference) > MAX_REFERENCE_CHARS:
            raise InvalidInput("reference_too_long")
        note = note.strip()
        if len(note) > MAX_NOTE_CHARS:
            raise InvalidInput("note_too_long")
        now = utcnow()
        when = now
        if called_at.strip():
            try:
                when = datetime.fromisoformat(called_at.strip().replace("Z", "+00:00"))
            except ValueError:
                raise InvalidInput("invalid_called_at") from None
            if when.tzinfo is None:
                raise InvalidInput("invalid_called_at")
            if when > now + CLOCK_SLACK:
                raise InvalidInput("called_at_in_future")
        async with self.db.session() as session:
            disc = await self.reading.load(session, disclosure_id)
            if when < (disc.approved_at or disc.created_at) - CLOCK_SLACK:
                raise InvalidInput("called_at_before_approval")
            changed = await session.execute(
                update(Disclosure)
                .where(Disclosure.id == disclosure_id, Disclosure.status.in_(sorted(BY_PHONE)))
                .values(
                    status=D.SENT.value,
                    sent_at=when,
                    phoned_at=when,
                    phoned_by=user.id,
                    phoned_number=number,
                    police_reference=reference or None,
                    phone_note=note or None,
                )
            )
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict("not_awaiting_phone")
            approver = await session.get(StaffUser, disc.approved_by) if disc.approved_by else None
            await repo.audit(
                session,
                "disclosure.sent",
                actor=user,
                conversation_id=disc.conversation_id,
                details={
                    "disclosure_id": disclosure_id,
                    "recipient": disc.recipient_id,
                    "method": "phone",
                    "number": number,
                    "police_reference": reference or None,
                    "called_at": when.isoformat(),
                    "recorded_by": user.username,
                    "note": note or None,
                    "legal_ground": disc.legal_ground,
                    "approved_by": (approver.display_name or approver.username) if approver else None,
                    "immediate_danger": disc.immediate_danger,
                    "identity_included": disc.identity_included,
                    "package": disc.package,
                    "package_sha256": package_digest(disc.package),
                    "idempotency_key": disc.idempotency_key,
                },
            )
            if disc.identity_included:
                conv = await repo.get_conversation(session, disc.conversation_id)
                await repo.audit(
                    session,
                    "disclosure.identity_passed",
                    actor=user,
                    conversation_id=disc.conversation_id,
                    details={
                        "disclosure_id": disclosure_id,
                        "channel": conv.channel,
                        "legal_ground": disc.legal_ground,
                        "method": "phone",
                    },
                )
            conv_id = disc.conversation_id
        await self.reading.tell_supervisors("disclosure_sent", conv_id, disclosure_id)
        return await self.reading.get(disclosure_id)
