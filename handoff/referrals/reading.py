"""The base of :class:`handoff.referrals.service.Referrals`: its dependencies, reading referrals,
what the console and the portal see of them, and the live event of a change."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.broker.base import Broker
from gateway.crypto import ContactCipher
from gateway.errors import NotFound
from gateway.events import TOPIC_CONVERSATION
from gateway.outbox import Outbox, outbox_for
from gateway.store.db import Database
from handoff.directory.catalog import Directory
from handoff.directory.loading import default_directory
from handoff.referrals.models import Referral
from handoff.referrals.options import (
    DELIVERED_STATES,
    HandoffOptions,
)

log = logging.getLogger(__name__)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class ReferralsBase:
    """Referrals over the store and the broker: the dependencies and the reading."""

    def __init__(
        self,
        db: Database,
        broker: Broker,
        cipher: ContactCipher,
        options: HandoffOptions,
        directory: Directory | None = None,
    ) -> None:
        self.db = db
        self.broker = broker
        self.cipher = cipher
        self.options = options
        self.directory = directory if directory is not None else default_directory()
        """The application's live directory (:func:`handoff.directory.web.directory_service`)."""

    @property
    def outbox(self) -> Outbox:
        """Where events are written with the change they describe (the process's relay sends them)."""
        return outbox_for(self.db, self.broker)

    # ------------------------------------------------------------------ reading
    async def _get(self, session: AsyncSession, referral_id: str, *, for_update: bool = False) -> Referral:
        stmt = select(Referral).where(Referral.id == referral_id)
        if for_update:
            stmt = stmt.with_for_update()
        ref = (await session.execute(stmt)).scalar_one_or_none()
        if ref is None:
            raise NotFound("referral not found")
        return ref

    async def get(self, referral_id: str) -> dict[str, Any]:
        async with self.db.session() as session:
            return self.view(await self._get(session, referral_id))

    async def conversation_of(self, referral_id: str) -> str:
        async with self.db.session() as session:
            return (await self._get(session, referral_id)).conversation_id

    async def of_conversation(self, conversation_id: str) -> list[dict[str, Any]]:
        async with self.db.session() as session:
            rows = await session.execute(
                select(Referral)
                .where(Referral.conversation_id == conversation_id)
                .order_by(Referral.created_at)
            )
            return [self.view(r) for r in rows.scalars().all()]

    async def for_units(self, units: frozenset[str]) -> list[dict[str, Any]]:
        """The referrals a portal user sees: sent ones of their units, newest first."""
        if not units:
            return []
        async with self.db.session() as session:
            rows = await session.execute(
                select(Referral)
                .where(Referral.portal_unit.in_(sorted(units)), Referral.status.in_(sorted(DELIVERED_STATES)))
                .order_by(Referral.sent_at.desc())
            )
            return [self.portal_view(r) for r in rows.scalars().all()]

    async def for_unit(self, referral_id: str, units: frozenset[str]) -> dict[str, Any]:
        async with self.db.session() as session:
            ref = await self._get(session, referral_id)
            if ref.portal_unit not in units or ref.status not in DELIVERED_STATES:
                raise NotFound("referral not found")
            return self.portal_view(ref)

    def view(self, ref: Referral) -> dict[str, Any]:
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
            "created_at": _iso(ref.created_at),
            "consent_requested_at": _iso(ref.consent_requested_at),
            "consent_at": _iso(ref.consent_at),
            "sent_at": _iso(ref.sent_at),
            "acknowledged_at": _iso(ref.acknowledged_at),
            "contact_made_at": _iso(ref.contact_made_at),
            "closed_at": _iso(ref.closed_at),
            "reminded_at": _iso(ref.reminded_at),
            "time_to_ack_seconds": ack,
            "follow_up_note": ref.follow_up_note,
        }

    def portal_view(self, ref: Referral) -> dict[str, Any]:
        """What the recipient sees: the package, the status, and contact details if given for contact."""
        return {
            "id": ref.id,
            "package": ref.package,
            "contact_details": self.cipher.decrypt(ref.contact_ciphertext)
            if ref.contact_ciphertext
            else None,
            "status": ref.status,
            "sent_at": _iso(ref.sent_at),
            "acknowledged_at": _iso(ref.acknowledged_at),
            "contact_made_at": _iso(ref.contact_made_at),
            "closed_at": _iso(ref.closed_at),
            "follow_up_note": ref.follow_up_note,
        }

    async def _live(self, summary: dict[str, Any], referral_id: str, status: str) -> None:
        try:
            await self.broker.publish(
                TOPIC_CONVERSATION,
                {
                    "kind": "referral",
                    "conversation_id": summary["id"],
                    "conversation": summary,
                    "referral_id": referral_id,
                    "status": status,
                },
            )
        except Exception as exc:
            log.warning("could not publish a referral event (%s)", type(exc).__name__)
