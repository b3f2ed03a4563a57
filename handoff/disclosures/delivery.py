"""Delivering an approved disclosure (e-mail, signed webhook), or leaving it to be passed by phone."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.envelope import utcnow
from gateway.outbox import Outbox
from gateway.store import repo
from gateway.store.db import Database
from handoff.directory.catalog import Directory
from handoff.directory.entries import Recipient
from handoff.disclosures.models import Disclosure, DisclosureStatus
from handoff.disclosures.phone import (
    mail_subject,
    package_lines,
    phone_numbers,
)
from handoff.disclosures.reading import DisclosureReading
from handoff.referrals.options import TOPIC_DELIVER, HandoffOptions
from handoff.referrals.transport import package_digest, post_webhook, send_mail

log = logging.getLogger(__name__)
D = DisclosureStatus


class DisclosureDelivery:
    """Deliver, or await a call (``Disclosures.delivery``)."""

    def __init__(
        self,
        db: Database,
        options: HandoffOptions,
        directory: Directory,
        refresh_directory: Callable[[], Awaitable[None]] | None,
        outbox: Outbox,
        reading: DisclosureReading,
    ) -> None:
        self.db = db
        self.options = options
        self.directory = directory
        """The application's live directory (:func:`handoff.directory.live.directory_service`)."""
        self.refresh_directory = refresh_directory
        """Takes in directory edits before a delivery (:meth:`DirectoryService.refresh_quietly`)."""
        self.outbox = outbox
        self.reading = reading

    async def enqueue(self, session: AsyncSession, disclosure_id: str) -> None:
        """In the transaction of the approval: the delivery's event (the caller wakes the outbox)."""
        await self.outbox.add(
            session,
            TOPIC_DELIVER,
            {"kind": "disclosure", "id": disclosure_id},
            event_id=f"deliver-disclosure-{disclosure_id}",
        )

    async def deliver(self, disclosure_id: str) -> None:
        """Send an approved disclosure by every configured method (the worker of ``handoff.deliver``);
        without an e-mail address or webhook for the recipient it awaits delivery by phone."""
        if self.refresh_directory is not None:
            await self.refresh_directory()
        async with self.db.session() as session:
            disc = await session.get(Disclosure, disclosure_id)
            if disc is None:
                return
            if disc.status != D.APPROVED.value:
                await repo.audit(
                    session,
                    "disclosure.delivery_refused",
                    conversation_id=disc.conversation_id,
                    details={"disclosure_id": disc.id, "status": disc.status},
                )
                return
            package: dict[str, Any] = dict(disc.package)
            body, identity_channel = await self.reading.body(session, disc)
            conv_id = disc.conversation_id
            key = disc.idempotency_key
            recipient_id = disc.recipient_id
            ground = disc.legal_ground
            immediate = disc.immediate_danger
        recipient = self.directory.entry(recipient_id)
        methods = recipient.electronic_methods if recipient is not None else ()
        if not methods:
            await self._await_manual(disclosure_id, recipient, "no_method_configured")
            return
        results: dict[str, dict[str, Any]] = {}
        for method in methods:
            if method.method == "webhook":
                results["webhook"] = await post_webhook(self.options, recipient_id, method.url, body, key)
            elif method.method == "email":
                results["email"] = await self._mail(method.address, body)
        delivered = any(r["delivered"] for r in results.values())
        now = utcnow()
        async with self.db.session() as session:
            disc = await session.get(Disclosure, disclosure_id)
            if disc is None:
                return
            delivery: dict[str, Any] = dict(results)
            if not delivered:
                delivery["manual"] = self._manual(recipient, immediate, "delivery_failed", now)
            disc.delivery = delivery
            disc.status = D.SENT.value if delivered else D.DELIVERY_FAILED.value
            if delivered:
                disc.sent_at = now
            details = {
                "disclosure_id": disclosure_id,
                "recipient": recipient_id,
                "legal_ground": ground,
                "approved_by": body["approved_by"],
                "immediate_danger": immediate,
                "identity_included": identity_channel is not None,
                "package": package,
                "package_sha256": package_digest(package),
                "methods": {
                    k: {"delivered": v["delivered"], "attempts": v.get("attempts")}
                    for k, v in results.items()
                },
                "idempotency_key": key,
            }
            await repo.audit(
                session,
                "disclosure.sent" if delivered else "disclosure.delivery_failed",
                conversation_id=conv_id,
                details=details,
            )
            if delivered and identity_channel is not None:
                await repo.audit(
                    session,
                    "disclosure.identity_passed",
                    conversation_id=conv_id,
                    details={
                        "disclosure_id": disclosure_id,
                        "channel": identity_channel,
                        "legal_ground": ground,
                    },
                )
        if not delivered:
            await self.reading.tell_supervisors("disclosure_delivery_failed", conv_id, disclosure_id)

    @staticmethod
    def _manual(recipient: Recipient | None, immediate: bool, reason: str, now: datetime) -> dict[str, Any]:
        return {"reason": reason, "numbers": phone_numbers(recipient, immediate), "at": now.isoformat()}

    async def _await_manual(self, disclosure_id: str, recipient: Recipient | None, reason: str) -> None:
        """No electronic way to the recipient: the disclosure waits for someone to phone it in."""
        now = utcnow()
        async with self.db.session() as session:
            disc = await session.get(Disclosure, disclosure_id)
            if disc is None:
                return
            manual = self._manual(recipient, disc.immediate_danger, reason, now)
            changed = await session.execute(
                update(Disclosure)
                .where(Disclosure.id == disclosure_id, Disclosure.status == D.APPROVED.value)
                .values(status=D.AWAITING_MANUAL.value, delivery={"manual": manual})
            )
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                return
            conv_id = disc.conversation_id
            await repo.audit(
                session,
                "disclosure.awaiting_manual",
                conversation_id=conv_id,
                details={
                    "disclosure_id": disclosure_id,
                    "recipient": disc.recipient_id,
                    "reason": reason,
                    "numbers": [n["number"] for n in manual["numbers"]],
                    "immediate_danger": disc.immediate_danger,
                    "package_sha256": package_digest(disc.package),
                },
            )
        await self.reading.tell_supervisors("disclosure_manual", conv_id, disclosure_id)

    async def _mail(self, address: str, body: Mapping[str, Any]) -> dict[str, Any]:
        subject = mail_subject(str(body["reference"]))
        try:
            await send_mail(
                self.options, address, subject, "\n".join(package_lines(body)), str(body["reference"])
            )
        except Exception as exc:
            log.warning("disclosure e-mail failed (%s)", type(exc).__name__)
            return {
                "delivered": False,
                "attempts": 1,
                "error": type(exc).__name__,
                "at": utcnow().isoformat(),
            }
        return {"delivered": True, "attempts": 1, "error": None, "at": utcnow().isoformat()}
