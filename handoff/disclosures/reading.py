"""The base of :class:`handoff.disclosures.service.Disclosures`: its dependencies, reading
disclosures, the package's text with the identity when the ground requires it, and the events
for supervisors."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.broker.base import Broker
from gateway.crypto import ContactCipher
from gateway.errors import NotFound
from gateway.events import TOPIC_QUEUE
from gateway.outbox import Outbox, outbox_for
from gateway.store import repo
from gateway.store.db import Database
from gateway.store.models import StaffUser
from handoff.directory.catalog import Directory
from handoff.directory.loading import default_directory
from handoff.disclosures.models import Disclosure, DisclosureStatus
from handoff.disclosures.phone import BY_PHONE
from handoff.referrals.options import HandoffOptions

log = logging.getLogger(__name__)
D = DisclosureStatus


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


class DisclosuresBase:
    """Disclosures over the store and the broker: the dependencies and the reading."""

    def __init__(
        self,
        db: Database,
        broker: Broker,
        cipher: ContactCipher,
        options: HandoffOptions,
        directory: Directory | None = None,
        refresh_directory: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.db = db
        self.broker = broker
        self.cipher = cipher
        self.options = options
        self.directory = directory if directory is not None else default_directory()
        """The application's live directory (:func:`handoff.directory.web.directory_service`)."""
        self.refresh_directory = refresh_directory
        """Takes in directory edits before a delivery (:meth:`DirectoryService.refresh_quietly`)."""

    @property
    def outbox(self) -> Outbox:
        """Where events are written with the change they describe (the process's relay sends them)."""
        return outbox_for(self.db, self.broker)

    async def _body(self, session: AsyncSession, disc: Disclosure) -> tuple[dict[str, Any], str | None]:
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

    async def _tell_supervisors(self, kind: str, conversation_id: str, disclosure_id: str) -> None:
        try:
            await self.broker.publish(
                TOPIC_QUEUE,
                {
                    "kind": kind,
                    "conversation_id": conversation_id,
                    "disclosure_id": disclosure_id,
                    "critical": False,
                },
            )
        except Exception as exc:  # the supervisor page also looks every few seconds
            log.warning("could not publish a disclosure event (%s)", type(exc).__name__)

    # ------------------------------------------------------------------ reading
    async def _get(self, session: AsyncSession, disclosure_id: str) -> Disclosure:
        disc = await session.get(Disclosure, disclosure_id)
        if disc is None:
            raise NotFound("disclosure not found")
        return disc

    async def get(self, disclosure_id: str) -> dict[str, Any]:
        async with self.db.session() as session:
            return self.view(await self._get(session, disclosure_id))

    async def conversation_of(self, disclosure_id: str) -> str:
        async with self.db.session() as session:
            return (await self._get(session, disclosure_id)).conversation_id

    async def of_conversation(self, conversation_id: str) -> list[dict[str, Any]]:
        async with self.db.session() as session:
            rows = await session.execute(
                select(Disclosure)
                .where(Disclosure.conversation_id == conversation_id)
                .order_by(Disclosure.created_at)
            )
            return [self.view(d) for d in rows.scalars().all()]

    async def needing_supervisor(self) -> list[dict[str, Any]]:
        """Disclosures waiting for approval, immediate ones waiting for their review, and those to
        be passed by phone (no electronic method, or the electronic delivery failed)."""
        async with self.db.session() as session:
            rows = await session.execute(
                select(Disclosure)
                .where(
                    (Disclosure.status == D.PENDING_APPROVAL.value)
                    | (Disclosure.status.in_(sorted(BY_PHONE)))
                    | ((Disclosure.review_required.is_(True)) & (Disclosure.reviewed_at.is_(None)))
                )
                .order_by(Disclosure.created_at)
            )
            return [self.view(d) for d in rows.scalars().all()]

    @staticmethod
    def view(disc: Disclosure) -> dict[str, Any]:
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
            "approved_at": _iso(disc.approved_at),
            "rejected_by": disc.rejected_by,
            "rejection_reason": disc.rejection_reason,
            "review_required": disc.review_required,
            "reviewed_by": disc.reviewed_by,
            "reviewed_at": _iso(disc.reviewed_at),
            "delivery": disc.delivery or {},
            "idempotency_key": disc.idempotency_key,
            "created_at": _iso(disc.created_at),
            "sent_at": _iso(disc.sent_at),
            "manual": (disc.delivery or {}).get("manual") if disc.status in BY_PHONE else None,
            "phoned_at": _iso(disc.phoned_at),
            "phoned_by": disc.phoned_by,
            "phoned_number": disc.phoned_number,
            "police_reference": disc.police_reference,
            "phone_note": disc.phone_note,
        }
