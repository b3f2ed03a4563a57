"""Reading referrals (:class:`handoff.reading.Records`): what the console and the portal see of
them, the portal's lists, and the live event of a change."""

from __future__ import annotations

from typing import Any

from gateway.broker.base import Broker
from gateway.crypto import ContactCipher
from gateway.errors import NotFound
from gateway.events import TOPIC_CONVERSATION
from gateway.store.db import Database
from handoff.reading import Records, iso, publish_quietly
from handoff.referrals.models import Referral
from handoff.referrals.options import DELIVERED_STATES


def referral_view(ref: Referral) -> dict[str, Any]:
    """What the console shows (no contact details)."""
    ack = (
        (ref.acknowledged_at - ref.sent_at).total_seconds()
        if ref.acknowledged_at is not None and ref.sent_at is not None
        else None
    )
    return {
        "id": ref.id,
        "conversation_id": ref.conversation_id,
        "recipient_id": ref.recipient_id,
        "municipality_code": ref.municipality_code,
        "topic": ref.topic,
        "contact_type": ref.contact_type,
        "urgency": ref.urgency,
        "status": ref.status,
        "consent_via": ref.consent_via,
        "consent_reason": ref.consent_reason,
        "package": ref.package,
        "delivery": ref.delivery or {},
        "idempotency_key": ref.idempotency_key,
        "created_at": iso(ref.created_at),
        "consent_requested_at": iso(ref.consent_requested_at),
        "consent_at": iso(ref.consent_at),
        "sent_at": iso(ref.sent_at),
        "acknowledged_at": iso(ref.acknowledged_at),
        "contact_made_at": iso(ref.contact_made_at),
        "closed_at": iso(ref.closed_at),
        "reminded_at": iso(ref.reminded_at),
        "time_to_ack_seconds": ack,
        "follow_up_note": ref.follow_up_note,
    }


class ReferralReading(Records[Referral]):
    """Referrals as the console (``get``, ``of_conversation``: :class:`Records`) and the portal see them."""

    def __init__(self, db: Database, broker: Broker, cipher: ContactCipher) -> None:
        super().__init__(db, Referral, referral_view, "referral")
        self.broker = broker
        self.cipher = cipher

    def portal_view(self, ref: Referral) -> dict[str, Any]:
        """What the recipient sees: the package, the status, and contact details if given for contact."""
        return {
            "id": ref.id,
            "package": ref.package,
            "contact_details": self.cipher.decrypt(ref.contact_ciphertext)
            if ref.contact_ciphertext
            else None,
            "status": ref.status,
            "sent_at": iso(ref.sent_at),
            "acknowledged_at": iso(ref.acknowledged_at),
            "contact_made_at": iso(ref.contact_made_at),
            "closed_at": iso(ref.closed_at),
            "follow_up_note": ref.follow_up_note,
        }

    async def for_units(self, units: frozenset[str]) -> list[dict[str, Any]]:
        """The referrals a portal user sees: sent ones of their units, newest first."""
        if not units:
            return []
        return await self.listed(
            Referral.portal_unit.in_(sorted(units)),
            Referral.status.in_(sorted(DELIVERED_STATES)),
            order_by=Referral.sent_at.desc(),
            view=self.portal_view,
        )

    async def for_unit(self, referral_id: str, units: frozenset[str]) -> dict[str, Any]:
        async with self.db.session() as session:
            ref = await self.load(session, referral_id)
            if ref.portal_unit not in units or ref.status not in DELIVERED_STATES:
                raise NotFound("referral not found")
            return self.portal_view(ref)

    async def live(self, summary: dict[str, Any], referral_id: str, status: str) -> None:
        """The console's live event of a referral's change (best effort)."""
        payload = {
            "kind": "referral",
            "conversation_id": summary["id"],
            "conversation": summary,
            "referral_id": referral_id,
            "status": status,
        }
        await publish_quietly(self.broker, TOPIC_CONVERSATION, payload, "referral")
