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

import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.broker.base import Broker
from gateway.crypto import ContactCipher
from gateway.envelope import utcnow
from gateway.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from gateway.outbox import Outbox, outbox_for
from gateway.store import action_keys, repo
from gateway.store.db import Database
from gateway.store.models import Message, Role, StaffUser
from handoff.directory.catalog import Directory
from handoff.directory.entries import DISCLOSURE_RECIPIENTS, Recipient
from handoff.directory.loading import default_directory
from handoff.disclosures.models import Disclosure, DisclosureStatus
from handoff.records.redaction import redact
from handoff.referrals.service import (
    TOPIC_DELIVER,
    TOPIC_QUEUE,
    HandoffOptions,
    package_digest,
    post_webhook,
    send_mail,
)

log = logging.getLogger(__name__)
D = DisclosureStatus

RECIPIENTS: tuple[str, ...] = DISCLOSURE_RECIPIENTS
CERTAINTIES: dict[str, tuple[str, str]] = {
    "confirmed": ("bekräftad", "confirmed"),
    "probable": ("trolig", "probable"),
    "possible": ("möjlig", "possible"),
    "unverified": ("obekräftad", "unverified"),
}
SUPERVISOR_ROLES = frozenset({Role.SUPERVISOR.value, Role.ADMIN.value})
MAX_FIELD_CHARS = 4000
EMERGENCY_NUMBER = "112"
POLICE_NUMBER = "114 14"
"""The police's number for what is not an emergency."""
BY_PHONE = frozenset({D.AWAITING_MANUAL.value, D.DELIVERY_FAILED.value})
"""The statuses from which someone may record that they passed a disclosure by phone."""
PHONE_RE = re.compile(r"[0-9+][0-9 ()\-]{1,38}")
MAX_REFERENCE_CHARS = 100
MAX_NOTE_CHARS = 2000
CLOCK_SLACK = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class LegalGround:
    id: str
    sv: str
    en: str
    requires_identity: bool


LEGAL_GROUNDS: dict[str, LegalGround] = {
    g.id: g
    for g in (
        LegalGround(
            "danger_to_life",
            "Akut fara för någons liv eller hälsa: uppgifterna, och personens identitet, behövs för att avvärja faran.",
            "Imminent danger to someone's life or health: the information, and the person's identity, "
            "are needed to avert the danger.",
            requires_identity=True,
        ),
        LegalGround(
            "avert_serious_crime",
            "Förestående eller pågående allvarligt brott som kan förhindras (jfr 23 kap. 6 § brottsbalken).",
            "An imminent or ongoing serious crime that can be prevented (cf. ch. 23 s. 6 of the Penal Code).",
            requires_identity=False,
        ),
        LegalGround(
            "suspected_serious_crime",
            "Misstanke om begånget allvarligt brott (jfr 10 kap. 23 § offentlighets- och sekretesslagen).",
            "Suspicion of a serious crime that was committed (cf. ch. 10 s. 23 of the Public Access to "
            "Information and Secrecy Act).",
            requires_identity=False,
        ),
        LegalGround(
            "national_security",
            "Brott som rör terrorism eller rikets säkerhet.",
            "A crime concerning terrorism or national security.",
            requires_identity=False,
        ),
    )
}
"""The grounds of the guidelines (wording to be confirmed by the guideline owners)."""


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def phone_numbers(recipient: Recipient | None, immediate_danger: bool) -> list[dict[str, Any]]:
    """The numbers to call to pass a disclosure by phone, the first one first, each with why."""
    numbers: list[dict[str, Any]] = []

    def add(number: str, sv: str, en: str) -> None:
        if number and all(n["number"] != number for n in numbers):
            numbers.append({"number": number, "label": {"sv": sv, "en": en}})

    emergency = (recipient.emergency_phone if recipient else "") or EMERGENCY_NUMBER
    if immediate_danger:
        add(emergency, "Akut fara: ring 112 först", "Immediate danger: call 112 first")
    if recipient is not None and recipient.phone:
        add(recipient.phone, recipient.name_sv, recipient.name_en)
    else:
        add(
            POLICE_NUMBER,
            "Polisen (mottagaren har inget nummer i katalogen: be Polisen föra uppgifterna vidare)",
            "The police (the recipient has no number in the directory: ask the police to pass it on)",
        )
    if not immediate_danger:
        add(emergency, "Om det blir akut", "If it becomes urgent")
    return numbers


def package_lines(body: Mapping[str, Any]) -> list[str]:
    """A disclosure as text (Swedish / English): the e-mail's body, and what is read out on the phone."""
    ground = body["legal_ground"]
    certainty = CERTAINTIES.get(str(body["certainty"]), (str(body["certainty"]),) * 2)
    lines = [
        "Uppgifter om brott från stödlinjen / Crime information from the support line",
        "",
        f"Referens / Reference: {body['reference']}",
        f"Akut fara / Immediate danger: {'JA / YES' if body['immediate_danger'] else 'nej / no'}",
        f"Grund / Ground: {ground['sv']} / {ground['en']}",
        f"Godkänd av / Approved by: {body.get('approved_by') or '- (akut fara, granskas i efterhand / immediate danger, reviewed afterwards)'}",
        "",
        f"Vad / What: {body['what']}",
        f"När / When: {body['when'] or '-'}",
        f"Var / Where: {body['where'] or '-'}",
        f"Säkerhet / Certainty: {certainty[0]} / {certainty[1]}",
        "",
        "Källa i samtalet / Source in the conversation:",
        *(f"  [{s['seq']}] {s['text']}" for s in body["sources"]),
    ]
    identity = body.get("identity")
    if identity:
        lines += ["", f"Identitet / Identity ({identity['channel']}): {identity['address'] or '-'}"]
    return lines


class Disclosures:
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
        if not seqs:
            raise InvalidInput("source_required")
        recipient = self.directory.recipient(recipient_id)
        assert recipient is not None
        did = uuid.uuid4().hex
        now = utcnow()
        async with self.db.session() as session:
            conv = await repo.get_conversation(session, conversation_id)
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
            ]
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
            data = self.view(disc)
            await action_keys.record(session, "disclosure", data)  # the answer commits with it
            outbox = self.outbox
            await outbox.add(
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
                await self._enqueue(session, did)
        outbox.wake()
        return data

    # ------------------------------------------------------------------ four eyes
    async def _supervisor_check(self, disclosure_id: str, user: StaffUser, action: str) -> None:
        """Four eyes: a supervisor (or admin) who is not the author; a refusal is audited, then raised."""
        async with self.db.session() as session:
            disc = await self._get(session, disclosure_id)
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
            disc = await self._get(session, disclosure_id)
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
            await self._enqueue(session, disclosure_id)
        self.outbox.wake()
        return await self.get(disclosure_id)

    async def reject(self, disclosure_id: str, supervisor: StaffUser, reason: str) -> dict[str, Any]:
        reason = reason.strip()
        if not reason:
            raise InvalidInput("reason_required")
        await self._supervisor_check(disclosure_id, supervisor, "rejection")
        async with self.db.session() as session:
            disc = await self._get(session, disclosure_id)
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
        return await self.get(disclosure_id)

    async def review(self, disclosure_id: str, supervisor: StaffUser, note: str) -> dict[str, Any]:
        """A supervisor's review, afterwards, of a disclosure sent at once for immediate danger."""
        await self._supervisor_check(disclosure_id, supervisor, "review")
        now = utcnow()
        async with self.db.session() as session:
            disc = await self._get(session, disclosure_id)
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
        return await self.get(disclosure_id)

    # ------------------------------------------------------------------ delivery
    async def _enqueue(self, session: AsyncSession, disclosure_id: str) -> None:
        """In the transaction of the approval: the delivery's event (the caller wakes the outbox)."""
        await self.outbox.add(
            session,
            TOPIC_DELIVER,
            {"kind": "disclosure", "id": disclosure_id},
            event_id=f"deliver-disclosure-{disclosure_id}",
        )

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
            body, identity_channel = await self._body(session, disc)
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
            await self._tell_supervisors("disclosure_delivery_failed", conv_id, disclosure_id)

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
        await self._tell_supervisors("disclosure_manual", conv_id, disclosure_id)

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

    async def readout(self, disclosure_id: str, user: StaffUser) -> dict[str, Any]:
        """What to read out on the phone and the numbers to call (audited: the identity, when the
        ground requires it, is shown here to be passed on)."""
        async with self.db.session() as session:
            disc = await self._get(session, disclosure_id)
            if disc.status not in BY_PHONE:
                raise Conflict("not_awaiting_phone")
            body, identity_channel = await self._body(session, disc)
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

    async def record_phone(
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
            disc = await self._get(session, disclosure_id)
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
        await self._tell_supervisors("disclosure_sent", conv_id, disclosure_id)
        return await self.get(disclosure_id)

    async def _mail(self, address: str, body: Mapping[str, Any]) -> dict[str, Any]:
        subject = f"Uppgifter om brott / Crime information {str(body['reference'])[:8]}"
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


__all__ = [
    "BY_PHONE",
    "CERTAINTIES",
    "LEGAL_GROUNDS",
    "RECIPIENTS",
    "Disclosures",
    "LegalGround",
    "package_lines",
    "phone_numbers",
]
