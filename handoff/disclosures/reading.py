"""Reading disclosures (:class:`handoff.reading.Records`): what the console sees of them, those a
supervisor has to act on, the package's text with the identity when the ground requires it, and
the live events for supervisors."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.broker.base import Broker
from gateway.crypto import ContactCipher
from gateway.events import TOPIC_QUEUE
from gateway.store import repo
from gateway.store.db import Database
from gateway.store.models import StaffUser
from handoff.disclosures.models import Disclosure, DisclosureStatus
from handoff.disclosures.phone import BY_PHONE
from handoff.reading import Records, iso, publish_quietly

D = DisclosureStatus


def disclosure_view(disc: Disclosure) -> dict[str, Any]:
    """What the console shows of a disclosure."""
    return {
        "id": disc.id,
        "conversation_id": disc.conversation_id,
        "recipient_id": disc.recipient_id,
        "status": disc.status,
        "legal_ground": disc.legal_ground,
        "immediate_danger": disc.immediate_danger,
        "identity_included": disc.identity_included,
        "certainty": disc.certainty,
        "source_seqs": list(disc.source_seqs or []),
        "package": disc.package,
        "author_id": disc.author_id,
        "approved_by": disc.approved_by,
        "approved_at": iso(disc.approved_at),
        "rejected_by": disc.rejected_by,
        "rejection_reason": disc.rejection_reason,
        "review_required": disc.review_required,
        "reviewed_by": disc.reviewed_by,
        "reviewed_at": iso(disc.reviewed_at),
        "delivery": disc.delivery or {},
        "idempotency_key": disc.idempotency_key,
        "created_at": iso(disc.created_at),
        "sent_at": iso(disc.sent_at),
        "manual": (disc.delivery or {}).get("manual") if disc.status in BY_PHONE else None,
        "phoned_at": iso(disc.phoned_at),
        "phoned_by": disc.phoned_by,
        "phoned_number": disc.phoned_number,
        "police_reference": disc.police_reference,
        "phone_note": disc.phone_note,
    }


class DisclosureReading(Records[Disclosure]):
    """Disclosures as the console (``get``, ``of_conversation``: :class:`Records`) and the
    supervisors see them."""

    def __init__(self, db: Database, broker: Broker, cipher: ContactCipher) -> None:
        super().__init__(db, Disclosure, disclosure_view, "disclosure")
        self.broker = broker
        self.cipher = cipher

    async def needing_supervisor(self) -> list[dict[str, Any]]:
        """Disclosures waiting for approval, immediate ones waiting for their review, and those to
        be passed by phone (no electronic method, or the electronic delivery failed)."""
        return await self.listed(
            (Disclosure.status == D.PENDING_APPROVAL.value)
            | (Disclosure.status.in_(sorted(BY_PHONE)))
            | ((Disclosure.review_required.is_(True)) & (Disclosure.reviewed_at.is_(None))),
            order_by=Disclosure.created_at,
        )

    async def body(self, session: AsyncSession, disc: Disclosure) -> tuple[dict[str, Any], str | None]:
        """What is passed: the package, the approver, and the identity when the ground requires it
        (read now from the encrypted contact record, never stored); and the identity's channel."""
        body: dict[str, Any] = dict(disc.package)
        identity_channel = None
        if disc.identity_included:
            conv = await repo.get_conversation(session, disc.conversation_id)
            address = await repo.get_contact(session, self.cipher, disc.conversation_id)
            identity_channel = conv.channel
            body["identity"] = {"channel": conv.channel, "address": address}
        approver = await session.get(StaffUser, disc.approved_by) if disc.approved_by else None
        body["approved_by"] = approver.display_name or approver.username if approver else None
        return body, identity_channel

    async def tell_supervisors(self, kind: str, conversation_id: str, disclosure_id: str) -> None:
        """The supervisors' live event (best effort: their page also looks every few seconds)."""
        payload = {
            "kind": kind,
            "conversation_id": conversation_id,
            "disclosure_id": disclosure_id,
            "critical": False,
        }
        await publish_quietly(self.broker, TOPIC_QUEUE, payload, "disclosure")
