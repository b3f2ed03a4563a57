"""Crime information to the Police or the Security Service, under four eyes.

A counsellor fills a structured form (what, when, where, how certain, the source messages of the
conversation), chooses the recipient and the legal ground.  A supervisor who is not the author
approves before anything is sent.  When someone is in immediate danger the counsellor flags it and
the information goes at once; it is then queued for a supervisor's review afterwards.

The person's identity (the decrypted contact record) is passed only when the legal ground requires
it, read at the moment of sending and never stored in the disclosure; the audit records that it
was passed, never the identity itself.  Every step is audited: what was passed (the package), to
whom, on what ground, who approved.

Delivery is by e-mail or signed webhook, per the recipient's handoff methods in the directory
(the deployment sets them with ``handoff.recipient_methods``, or an admin in the directory page).
A disclosure is delivered only from the status ``approved`` (set by a four-eyes approval or by the
immediate-danger flag); the status changes are conditional UPDATEs, so two supervisors cannot both
approve, and a rejected disclosure can never be sent.

The police take no webhooks from us unless an operator arranged one: when the recipient has no
e-mail address or webhook, an approved disclosure goes to ``awaiting_manual`` (never silently
failing).  The console shows the numbers to call (112 in immediate danger, 114 14 otherwise) and
the package to read out; whoever calls records the call (when, to which number, the police's
reference), which makes the disclosure ``sent`` and is audited like an electronic delivery.  A
failed electronic delivery (``delivery_failed``) may be passed by phone the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.broker.base import Broker
from gateway.crypto import ContactCipher
from gateway.envelope import utcnow
from gateway.errors import Conflict, InvalidInput, PermissionDenied
from gateway.events import TOPIC_QUEUE
from gateway.outbox import outbox_for
from gateway.store import action_keys, repo
from gateway.store.db import Database
from gateway.store.models import Message, StaffUser
from handoff.directory.catalog import Directory
from handoff.directory.entries import DISCLOSURE_RECIPIENTS
from handoff.directory.loading import default_directory
from handoff.disclosures.by_phone import DisclosuresByPhone
from handoff.disclosures.delivery import DisclosureDelivery
from handoff.disclosures.models import Disclosure, DisclosureStatus
from handoff.disclosures.reading import DisclosureReading
from handoff.disclosures.strings import CERTAINTIES, LEGAL_GROUNDS, PHONE_SOURCE_TEXT
from handoff.records.redaction import redact
from handoff.referrals.options import HandoffOptions
from handoff.web.roles import SUPERVISOR_ROLES

D = DisclosureStatus

RECIPIENTS: tuple[str, ...] = DISCLOSURE_RECIPIENTS
MAX_FIELD_CHARS = 4000


PHONE_SOURCE: dict[str, Any] = {
    "seq": 0,
    "from": "phone_call",
    "text": PHONE_SOURCE_TEXT,
}
"""The source of crime information from a call: no message, the counsellor's account above."""


class Disclosures:
    """Disclosures (one per application): create and the four eyes here; the other concerns are
    the objects it holds, each in its module: ``reading`` (:mod:`.reading`), ``delivery``
    (:mod:`.delivery`), ``by_phone`` (:mod:`.by_phone`)."""

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
        self.directory = directory if directory is not None else default_directory()
        """The application's live directory (:func:`handoff.directory.live.directory_service`)."""
        self.outbox = outbox_for(db, broker)
        """Where events are written with the change they describe (the process's relay sends them)."""
        self.reading = DisclosureReading(db, broker, cipher)
        self.delivery = DisclosureDelivery(
            db, options, self.directory, refresh_directory, self.outbox, self.reading
        )
        self.by_phone = DisclosuresByPhone(db, self.directory, self.reading)

    # ------------------------------------------------------------------ create
    async def create(
        self,
        conversation_id: str,
        author: StaffUser,
        *,
        recipient_id: str,
        what: str,
        when: str,
        where: str,
        certainty: str,
        source_seqs: Sequence[int],
        legal_ground: str,
        immediate_danger: bool = False,
    ) -> dict[str, Any]:
        if recipient_id not in RECIPIENTS or self.directory.recipient(recipient_id) is None:
            raise InvalidInput("unknown_recipient")
        what, when, where = what.strip(), when.strip(), where.strip()
        if not what or max(len(what), len(when), len(where)) > MAX_FIELD_CHARS:
            raise InvalidInput("what_required")
        if certainty not in CERTAINTIES:
            raise InvalidInput("unknown_certainty")
        ground = LEGAL_GROUNDS.get(legal_ground)
        if ground is None:
            raise InvalidInput("unknown_legal_ground")
        seqs = sorted({int(s) for s in source_seqs})
        recipient = self.directory.recipient(recipient_id)
        assert recipient is not None
        did = uuid.uuid4().hex
        now = utcnow()
        async with self.db.session() as session:
            conv = await repo.get_conversation(session, conversation_id)
            # A call (handoff.phone) has no messages to cite: the counsellor's account is the source.
            if not seqs and conv.channel != "phone":
                raise InvalidInput("source_required")
            rows = (
                (
                    await session.execute(
                        select(Message)
                        .where(Message.conversation_id == conv.id, Message.seq.in_(seqs))
                        .order_by(Message.seq)
                    )
                )
                .scalars()
                .all()
            )
            if len(rows) != len(seqs):
                raise InvalidInput("unknown_source_message")
            sources = [
                {
                    "seq": m.seq,
                    "at": m.created_at.isoformat(),
                    "from": m.sender_kind,
                    # The person's own words, redacted: their identity goes only with a ground that needs it.
                    "text": redact(m.text).text,
                }
                for m in rows
            ] or [PHONE_SOURCE | {"at": conv.created_at.isoformat()}]
            package: dict[str, Any] = {
                "type": "disclosure",
                "reference": did,
                "recipient": {"id": recipient.id, "name": {"sv": recipient.name_sv, "en": recipient.name_en}},
                "what": what,
                "when": when,
                "where": where,
                "certainty": certainty,
                "legal_ground": {"id": ground.id, "sv": ground.sv, "en": ground.en},
                "immediate_danger": immediate_danger,
                "sources": sources,
                "identity_included": ground.requires_identity,
                "created_at": now.isoformat(),
            }
            disc = Disclosure(
                id=did,
                conversation_id=conv.id,
                recipient_id=recipient.id,
                what=what,
                when_text=when,
                where_text=where,
                certainty=certainty,
                source_seqs=seqs,
                legal_ground=ground.id,
                immediate_danger=immediate_danger,
                identity_included=ground.requires_identity,
                package=package,
                status=D.APPROVED.value if immediate_danger else D.PENDING_APPROVAL.value,
                author_id=author.id,
                review_required=immediate_danger,
                idempotency_key=f"disclosure-{did}",
                delivery={},
                created_at=now,
            )
            session.add(disc)
            await repo.audit(
                session,
                "disclosure.created",
                actor=author,
                conversation_id=conv.id,
                details={
                    "disclosure_id": did,
                    "recipient": recipient.id,
                    "legal_ground": ground.id,
                    "certainty": certainty,
                    "source_seqs": seqs,
                    "immediate_danger": immediate_danger,
                    "identity_required": ground.requires_identity,
                },
            )
            if immediate_danger:
                await repo.audit(
                    session,
                    "disclosure.immediate",
                    actor=author,
                    conversation_id=conv.id,
                    details={"disclosure_id": did, "review_required": True},
                )
            await session.flush()
            data = self.reading.view(disc)
            await action_keys.record(session, "disclosure", data)  # the answer commits with it
            await self.outbox.add(
                session,
                TOPIC_QUEUE,
                {
                    "kind": "disclosure_review" if immediate_danger else "disclosure_pending",
                    "conversation_id": conversation_id,
                    "disclosure_id": did,
                    "critical": False,
                },
                conversation_id=conversation_id,
            )
            if immediate_danger:
                await self.delivery.enqueue(session, did)
        self.outbox.wake()
        return data

    # ------------------------------------------------------------------ four eyes
    async def _supervisor_check(self, disclosure_id: str, user: StaffUser, action: str) -> None:
        """Four eyes: a supervisor (or admin) who is not the author; a refusal is audited, then raised."""
        async with self.db.session() as session:
            disc = await self.reading.load(session, disclosure_id)
            problem = await self._refusal(session, disc, user, action)
        if problem is not None:
            raise PermissionDenied(problem)

    async def _refusal(
        self, session: AsyncSession, disc: Disclosure, user: StaffUser, action: str
    ) -> str | None:
        problem = None
        if user.role not in SUPERVISOR_ROLES:
            problem = "supervisor_required"
        elif user.id == disc.author_id:
            problem = "four_eyes"
        if problem is not None:
            await repo.audit(
                session,
                f"disclosure.{action}_refused",
                actor=user,
                conversation_id=disc.conversation_id,
                details={"disclosure_id": disc.id, "reason": problem},
            )
        return problem

    async def approve(self, disclosure_id: str, approver: StaffUser) -> dict[str, Any]:
        await self._supervisor_check(disclosure_id, approver, "approval")
        now = utcnow()
        async with self.db.session() as session:
            disc = await self.reading.load(session, disclosure_id)
            changed = await session.execute(
                update(Disclosure)
                .where(Disclosure.id == disclosure_id, Disclosure.status == D.PENDING_APPROVAL.value)
                .values(status=D.APPROVED.value, approved_by=approver.id, approved_at=now)
            )
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict("not_pending")
            await repo.audit(
                session,
                "disclosure.approved",
                actor=approver,
                conversation_id=disc.conversation_id,
                details={"disclosure_id": disclosure_id, "author_id": disc.author_id},
            )
            await self.delivery.enqueue(session, disclosure_id)
        self.outbox.wake()
        return await self.reading.get(disclosure_id)

    async def reject(self, disclosure_id: str, supervisor: StaffUser, reason: str) -> dict[str, Any]:
        reason = reason.strip()
        if not reason:
            raise InvalidInput("reason_required")
        await self._supervisor_check(disclosure_id, supervisor, "rejection")
        async with self.db.session() as session:
            disc = await self.reading.load(session, disclosure_id)
            changed = await session.execute(
                update(Disclosure)
                .where(Disclosure.id == disclosure_id, Disclosure.status == D.PENDING_APPROVAL.value)
                .values(status=D.REJECTED.value, rejected_by=supervisor.id, rejection_reason=reason[:2000])
            )
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict("not_pending")
            await repo.audit(
                session,
                "disclosure.rejected",
                actor=supervisor,
                conversation_id=disc.conversation_id,
                details={"disclosure_id": disclosure_id, "reason": reason[:2000]},
            )
        return await self.reading.get(disclosure_id)

    async def review(self, disclosure_id: str, supervisor: StaffUser, note: str) -> dict[str, Any]:
        """A supervisor's review, afterwards, of a disclosure sent at once for immediate danger."""
        await self._supervisor_check(disclosure_id, supervisor, "review")
        now = utcnow()
        async with self.db.session() as session:
            disc = await self.reading.load(session, disclosure_id)
            changed = await session.execute(
                update(Disclosure)
                .where(
                    Disclosure.id == disclosure_id,
                    Disclosure.review_required.is_(True),
                    Disclosure.reviewed_at.is_(None),
                )
                .values(reviewed_by=supervisor.id, reviewed_at=now, review_note=note.strip()[:2000])
            )
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict("no_review_due")
            await repo.audit(
                session,
                "disclosure.reviewed",
                actor=supervisor,
                conversation_id=disc.conversation_id,
                details={"disclosure_id": disclosure_id},
            )
        return await self.reading.get(disclosure_id)


__all__ = [
    "MAX_FIELD_CHARS",
    "RECIPIENTS",
    "Disclosures",
]
