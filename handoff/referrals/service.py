"""Referrals: consented handoffs of a conversation to a municipality or an organisation.

The way of one referral::

    proposed ──> consent_requested ──> consented ──┐
        │                 └──────────> refused     ├──> sent ──> received ──> contact_made ──> closed
        └──> consent_not_asked (with a reason) ────┘       └──────┴──> not_ours

* The counsellor proposes (``routing.propose`` lists the recipients in order) and creates the
  referral: the summary is redacted before it is stored, and the *package* (exactly what will be
  shared) is fixed at that moment.
* The person is asked in their own channel, with the package spelled out; their answer (JA/NEJ,
  YES/NO) is recorded as consent.  The counsellor may instead record the answer they got, or why
  consent could not be asked (a reason is mandatory).  Nothing is sent in any other status: the
  status change to ``sent`` is a conditional UPDATE from ``consented``/``consent_not_asked`` only,
  and the delivery worker checks the status again before every delivery.
* Delivery: the portal of the recipient's municipality or Kunskapshus (the row itself), an e-mail
  notification and a signed webhook, per the recipient's handoff methods in the directory.  Contact
  details the person chose to give for follow-up go to the portal and the webhook, never by e-mail.
* The recipient reports follow-up through the portal API or a signed callback; an unacknowledged
  referral raises a reminder (audit ``referral.reminder`` and a ``queue`` event) after
  ``reminder_after``.

Logs never carry message text, summaries or contact details.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import datetime
from typing import Any

from gateway.broker.base import Broker
from gateway.crypto import ContactCipher
from gateway.envelope import utcnow
from gateway.errors import InvalidInput
from gateway.outgoing import OutgoingMessages
from gateway.store import action_keys, repo
from gateway.store.db import Database
from gateway.store.models import StaffUser
from gateway.store.repo import conversation_summary
from handoff.directory.catalog import Directory
from handoff.directory.entries import CONTACT_TYPES, TOPICS
from handoff.directory.loading import default_directory
from handoff.records.redaction import redact
from handoff.referrals.consent import ReferralConsent
from handoff.referrals.delivery import ReferralDelivery
from handoff.referrals.models import Referral, ReferralStatus
from handoff.referrals.options import (
    MAX_CONTACT_CHARS,
    MAX_SUMMARY_CHARS,
    URGENCIES,
    HandoffOptions,
)
from handoff.referrals.reading import ReferralReading
from handoff.referrals.routing import Proposal, propose
from handoff.referrals.strings import label
from handoff.referrals.units import portal_unit_of, usable_methods

log = logging.getLogger(__name__)
R = ReferralStatus


class Referrals:
    """Referrals over the store and the broker (one per application): propose and create here;
    the other concerns are the objects it holds, each in its module: ``reading``
    (:mod:`.reading`), ``consent`` (:mod:`.consent`), ``delivery`` (sending, delivery, follow-up
    and reminders: :mod:`.delivery`)."""

    def __init__(
        self,
        db: Database,
        broker: Broker,
        cipher: ContactCipher,
        options: HandoffOptions,
        outgoing: OutgoingMessages,
        directory: Directory | None = None,
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.options = options
        self.directory = directory if directory is not None else default_directory()
        """The application's live directory (:func:`handoff.directory.live.directory_service`)."""
        self.reading = ReferralReading(db, broker, cipher)
        self.delivery = ReferralDelivery(db, cipher, options, self.directory, outgoing.outbox, self.reading)
        self.consent = ReferralConsent(db, cipher, outgoing, self.reading, self.delivery)

    # ------------------------------------------------------------------ proposals
    def proposals(
        self, municipality_code: str | None, topic: str, contact_type: str, *, now: datetime | None = None
    ) -> list[Proposal]:
        return propose(municipality_code, topic, contact_type, now=now, directory=self.directory)

    # ------------------------------------------------------------------ create
    async def create(
        self,
        conversation_id: str,
        user: StaffUser,
        *,
        recipient_id: str,
        topic: str,
        contact_type: str,
        municipality_code: str | None,
        summary: str,
        urgency: str = "normal",
        contact_details: str | None = None,
    ) -> dict[str, Any]:
        d = self.directory
        recipient = d.recipient(recipient_id)
        if recipient is None:
            raise InvalidInput("unknown_recipient")
        if topic not in TOPICS:
            raise InvalidInput("unknown_topic")
        if contact_type not in CONTACT_TYPES:
            raise InvalidInput("unknown_contact_type")
        if urgency not in URGENCIES:
            raise InvalidInput("unknown_urgency")
        municipality = None
        if municipality_code:
            municipality = d.municipality(municipality_code)
            if municipality is None:
                raise InvalidInput("unknown_municipality")
        if not usable_methods(recipient, d):
            raise InvalidInput("recipient_takes_no_handoffs")
        summary = summary.strip()
        if not summary or len(summary) > MAX_SUMMARY_CHARS:
            raise InvalidInput("summary_required")
        contact = (contact_details or "").strip() or None
        if contact is not None and len(contact) > MAX_CONTACT_CHARS:
            raise InvalidInput("contact_details_too_long")
        redacted = redact(summary).text
        house = d.kunskapshus_for(municipality.code) if municipality else None
        rid = uuid.uuid4().hex
        now = utcnow()
        async with self.db.session() as session:
            conv = await repo.get_conversation(session, conversation_id)
            package: dict[str, Any] = {
                "type": "referral",
                "reference": rid,
                "recipient": {"id": recipient.id, "name": {"sv": recipient.name_sv, "en": recipient.name_en}},
                "topic": topic,
                "topic_label": {
                    "sv": label("topic", topic, "sv"),
                    "en": label("topic", topic, "en"),
                },
                "municipality": (
                    {"code": municipality.code, "name": municipality.name} if municipality else None
                ),
                "kunskapshus": house.id if house else None,
                "contact_type": contact_type,
                "urgency": urgency,
                "language": conv.language,
                "summary": redacted,
                "contact_details_included": contact is not None,
                "created_at": now.isoformat(),
            }
            ref = Referral(
                id=rid,
                conversation_id=conv.id,
                recipient_id=recipient.id,
                portal_unit=portal_unit_of(recipient, d),
                municipality_code=municipality.code if municipality else None,
                topic=topic,
                contact_type=contact_type,
                urgency=urgency,
                language=conv.language,
                summary=redacted,
                contact_ciphertext=self.cipher.encrypt(contact) if contact else None,
                package=package,
                status=R.PROPOSED.value,
                idempotency_key=f"referral-{rid}",
                delivery={},
                proposed_by=user.id,
                created_at=now,
                updated_at=now,
            )
            session.add(ref)
            await repo.audit(
                session,
                "referral.proposed",
                actor=user,
                conversation_id=conv.id,
                details={
                    "referral_id": rid,
                    "recipient": recipient.id,
                    "topic": topic,
                    "municipality": ref.municipality_code,
                    "urgency": urgency,
                    "contact_details_included": contact is not None,
                    "redactions": sorted(redact(summary).kinds()),
                },
            )
            await session.flush()
            data = self.reading.view(ref)
            await action_keys.record(session, "referral", data)  # the answer commits with the referral
            summary_conv = conversation_summary(conv)
        await self.reading.live(summary_conv, rid, R.PROPOSED.value)
        return data


def callback_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of a signed callback, or InvalidInput."""
    try:
        body = json.loads(raw)
    except ValueError:
        raise InvalidInput("invalid_json") from None
    if not isinstance(body, dict):
        raise InvalidInput("invalid_json")
    return body


async def run_periodically(interval: float, work: Any, what: str) -> None:
    """Call ``await work()`` every ``interval`` seconds until cancelled; failures are logged by type."""
    while True:
        await asyncio.sleep(interval)
        try:
            await work()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s failed (%s)", what, type(exc).__name__)


__all__ = [
    "Referrals",
    "callback_body",
    "run_periodically",
]
