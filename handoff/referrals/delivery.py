"""Sending a referral (with consent or a recorded reason), delivering it (e-mail, webhook), the
recipient's follow-up and the reminders of unacknowledged referrals."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from gateway import catalogues
from gateway.crypto import ContactCipher
from gateway.envelope import utcnow
from gateway.errors import Conflict, InvalidInput, NotFound
from gateway.events import TOPIC_QUEUE
from gateway.outbox import Outbox
from gateway.store import repo
from gateway.store.db import Database
from gateway.store.models import StaffUser
from gateway.store.repo import conversation_summary
from handoff.directory.catalog import Directory
from handoff.records.redaction import redact
from handoff.referrals.models import Referral, ReferralStatus
from handoff.referrals.options import (
    DELIVERED_STATES,
    FOLLOW_UP,
    TOPIC_DELIVER,
    HandoffOptions,
)
from handoff.referrals.reading import ReferralReading
from handoff.referrals.strings import label
from handoff.referrals.transport import package_digest, post_webhook, send_mail
from handoff.referrals.units import usable_methods

log = logging.getLogger(__name__)
R = ReferralStatus


def _both(key: str) -> str:
    """Words of the referral e-mail (``referral_mail.<key>`` in the console catalogue): Swedish,
    then English, as recipients may read either."""
    return " / ".join(catalogues.text("console", lang, f"referral_mail.{key}") for lang in ("sv", "en"))


class ReferralDelivery:
    """Send, deliver, follow up, remind (``Referrals.delivery``)."""

    def __init__(
        self,
        db: Database,
        cipher: ContactCipher,
        options: HandoffOptions,
        directory: Directory,
        outbox: Outbox,
        reading: ReferralReading,
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.options = options
        self.directory = directory
        """The application's live directory (:func:`handoff.directory.live.directory_service`)."""
        self.outbox = outbox
        """Where events are written with the change they describe (the process's relay sends them)."""
        self.reading = reading

    # ------------------------------------------------------------------ send and deliver
    async def send(self, referral_id: str, user: StaffUser | None) -> dict[str, Any]:
        """Mark sent (only with recorded consent or a recorded reason) and queue the deliveries."""
        now = utcnow()
        async with self.db.session() as session:
            ref = await self.reading.load(session, referral_id)
            changed = await session.execute(
                update(Referral)
                .where(
                    Referral.id == referral_id,
                    Referral.status.in_((R.CONSENTED.value, R.CONSENT_NOT_ASKED.value)),
                )
                .values(status=R.SENT.value, sent_at=now, updated_at=now)
            )
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict("no_consent")
            # The full entry, active or not: consent was given (or why it could not be asked was
            # recorded) to share with this recipient, and an admin deactivating it since stops new
            # handoffs to it, not this one (the directory keeps inactive entries for earlier
            # handoffs).  So it is delivered as agreed, and the audit below says it was inactive.
            recipient = self.directory.entry(ref.recipient_id)
            methods = usable_methods(recipient, self.directory) if recipient else []
            delivery: dict[str, Any] = {}
            for method in methods:
                delivery[method] = {"delivered": method == "portal", "attempts": 0, "at": now.isoformat()}
            ref.delivery = delivery
            await repo.audit(
                session,
                "referral.sent",
                actor=user,
                conversation_id=ref.conversation_id,
                details={
                    "referral_id": referral_id,
                    "recipient": ref.recipient_id,
                    "methods": methods,
                    "recipient_active": recipient is not None and recipient.active,
                    "package": ref.package,
                    "package_sha256": package_digest(ref.package),
                    "consent_via": ref.consent_via,
                },
            )
            conv = await repo.get_conversation(session, ref.conversation_id)
            summary = conversation_summary(conv)
            await self.outbox.add(
                session,
                TOPIC_DELIVER,
                {"kind": "referral", "id": referral_id},
                event_id=f"deliver-referral-{referral_id}",
            )
        self.outbox.wake()
        await self.reading.live(summary, referral_id, R.SENT.value)
        return await self.reading.get(referral_id)

    async def deliver(self, referral_id: str) -> None:
        """Make the e-mail and webhook deliveries not yet made (the worker of ``handoff.deliver``)."""
        async with self.db.session() as session:
            ref = await session.get(Referral, referral_id)
            if ref is None:
                return
            if ref.status not in DELIVERED_STATES:
                # Never reached with the conditional UPDATE in send(); kept as a second lock.
                await repo.audit(
                    session,
                    "referral.delivery_refused",
                    conversation_id=ref.conversation_id,
                    details={"referral_id": ref.id, "status": ref.status},
                )
                return
            package = dict(ref.package)
            contact = self.cipher.decrypt(ref.contact_ciphertext) if ref.contact_ciphertext else None
            delivery = dict(ref.delivery or {})
            conv_id = ref.conversation_id
            key = ref.idempotency_key
        # The full entry, active or not (see send()): a recipient deactivated after consent still
        # gets what the person agreed to share.
        recipient = self.directory.entry(package["recipient"]["id"])
        if recipient is None:  # not in the directory at all (an admin's edit that no longer loads)
            async with self.db.session() as session:
                await repo.audit(
                    session,
                    "referral.delivery_failed",
                    conversation_id=conv_id,
                    details={
                        "referral_id": referral_id,
                        "recipient": package["recipient"]["id"],
                        "error": "recipient_not_in_directory",
                        "idempotency_key": key,
                    },
                )
            return
        results: dict[str, dict[str, Any]] = {}
        for method in recipient.handoff:
            state = delivery.get(method.method) or {}
            if state.get("delivered") or method.method == "portal":
                continue
            if method.method == "email" and method.address:
                results["email"] = await self._mail_referral(method.address, package, state)
            elif method.method == "webhook" and method.url:
                body = {**package, "contact_details": contact} if contact else package
                results["webhook"] = await post_webhook(self.options, recipient.id, method.url, body, key)
        if not results:
            return
        async with self.db.session() as session:
            ref = await session.get(Referral, referral_id)
            if ref is None:
                return
            merged = dict(ref.delivery or {})
            for method_name, result in results.items():
                before = int((merged.get(method_name) or {}).get("attempts") or 0)
                merged[method_name] = {**result, "attempts": before + int(result.get("attempts") or 0)}
                await repo.audit(
                    session,
                    "referral.delivered" if result["delivered"] else "referral.delivery_failed",
                    conversation_id=conv_id,
                    details={
                        "referral_id": referral_id,
                        "method": method_name,
                        "attempts": result.get("attempts"),
                        "status": result.get("status"),
                        "error": result.get("error"),
                        "idempotency_key": key,
                    },
                )
            ref.delivery = merged
            ref.updated_at = utcnow()

    async def _mail_referral(
        self, address: str, package: Mapping[str, Any], state: Mapping[str, Any]
    ) -> dict[str, Any]:
        reference = str(package["reference"])
        muni = package.get("municipality") or {}
        link = f"{self.options.portal_url.rstrip('/')}/console/portal" if self.options.portal_url else ""
        body = "\n".join(
            [
                _both("title"),
                "",
                f"{_both('reference')}: {reference}",
                f"{_both('topic')}: {package['topic_label']['sv']} / {package['topic_label']['en']}",
                f"{_both('municipality')}: {muni.get('name') or '-'}",
                f"{_both('contact_type')}: {label('contact_type', str(package['contact_type']), 'sv')}"
                f" / {label('contact_type', str(package['contact_type']), 'en')}",
                f"{_both('urgency')}: {label('urgency', str(package['urgency']), 'sv')}"
                f" / {label('urgency', str(package['urgency']), 'en')}",
                "",
                f"{_both('summary')}:",
                str(package["summary"]),
                "",
                _both("contact_given") if package.get("contact_details_included") else _both("no_contact"),
                *([f"Portal: {link}"] if link else []),
            ]
        )
        subject = f"{_both('subject')} {reference[:8]}: {package['topic_label']['sv']}"
        try:
            await send_mail(self.options, address, subject, body, reference)
        except Exception as exc:
            log.warning("referral e-mail failed (%s)", type(exc).__name__)
            return {
                "delivered": False,
                "attempts": 1,
                "status": None,
                "error": type(exc).__name__,
                "at": utcnow().isoformat(),
            }
        return {"delivered": True, "attempts": 1, "status": 250, "error": None, "at": utcnow().isoformat()}

    # ------------------------------------------------------------------ follow-up
    async def report(
        self,
        referral_id: str,
        status: str,
        *,
        user: StaffUser | None,
        via: str,
        note: str = "",
        units: frozenset[str] | None = None,
    ) -> dict[str, Any]:
        """A recipient's follow-up: received, contact_made, closed or not_ours.

        ``units`` (portal users) limits the referrals that may be reported on; a referral outside
        them is reported as not found.
        """
        if status not in FOLLOW_UP:
            raise InvalidInput("unknown_status")
        now = utcnow()
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if status == R.CONTACT_MADE.value:
            values["contact_made_at"] = now
        if status in (R.CLOSED.value, R.NOT_OURS.value):
            values["closed_at"] = now
        if note.strip():
            values["follow_up_note"] = redact(note.strip()[:2000]).text
        async with self.db.session() as session:
            ref = await self.reading.load(session, referral_id)
            if units is not None and ref.portal_unit not in units:
                raise NotFound("referral not found")
            if ref.status == status:
                return self.reading.view(ref)  # a repeated report (e.g. a retried callback) changes nothing
            stmt = update(Referral).where(Referral.id == referral_id, Referral.status.in_(FOLLOW_UP[status]))
            changed = await session.execute(stmt.values(**values))
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict("invalid_transition")
            await session.execute(
                update(Referral)
                .where(Referral.id == referral_id, Referral.acknowledged_at.is_(None))
                .values(acknowledged_at=now)
            )
            await repo.audit(
                session,
                f"referral.{status}",
                actor=user,
                conversation_id=ref.conversation_id,
                details={"referral_id": referral_id, "via": via, "recipient": ref.recipient_id},
            )
            await session.refresh(ref)
            data = self.reading.view(ref)
            conv = await repo.get_conversation(session, ref.conversation_id)
            summary = conversation_summary(conv)
        await self.reading.live(summary, referral_id, status)
        return data

    # ------------------------------------------------------------------ reminders
    async def due_reminders(self, now: datetime) -> list[Referral]:
        """Sent referrals nobody acknowledged within ``reminder_after`` (and not reminded since)."""
        limit = now - self.options.reminder_after
        async with self.db.session() as session:
            rows = await session.execute(
                select(Referral)
                .where(
                    Referral.status == R.SENT.value,
                    Referral.acknowledged_at.is_(None),
                    Referral.sent_at <= limit,
                    (Referral.reminded_at.is_(None)) | (Referral.reminded_at <= limit),
                )
                .order_by(Referral.sent_at)
            )
            return list(rows.scalars().all())

    async def run_reminders(self, now: datetime) -> list[str]:
        """Raise a reminder for every due referral (once per process fleet); their ids."""
        limit = now - self.options.reminder_after
        reminded: list[str] = []
        for ref in await self.due_reminders(now):
            async with self.db.session() as session:
                changed = await session.execute(
                    update(Referral)
                    .where(
                        Referral.id == ref.id,
                        Referral.status == R.SENT.value,
                        Referral.acknowledged_at.is_(None),
                        (Referral.reminded_at.is_(None)) | (Referral.reminded_at <= limit),
                    )
                    .values(reminded_at=now)
                )
                if changed.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                waited = (now - ref.sent_at).total_seconds() if ref.sent_at else None
                await repo.audit(
                    session,
                    "referral.reminder",
                    conversation_id=ref.conversation_id,
                    details={
                        "referral_id": ref.id,
                        "recipient": ref.recipient_id,
                        "unacknowledged_seconds": waited,
                    },
                )
                await self.outbox.add(
                    session,
                    TOPIC_QUEUE,
                    {
                        "kind": "referral_reminder",
                        "conversation_id": ref.conversation_id,
                        "referral_id": ref.id,
                        "recipient": ref.recipient_id,
                        "critical": False,
                    },
                    conversation_id=ref.conversation_id,
                )
            reminded.append(ref.id)
        if reminded:
            self.outbox.wake()
        return reminded
