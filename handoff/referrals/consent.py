"""The person's consent to a referral: the question spelling out the package, their one-word answer
in their channel, the counsellor's record of it, or why it could not be asked."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from gateway import catalogues
from gateway.broker.base import Event
from gateway.crypto import ContactCipher
from gateway.envelope import Direction, SenderKind, utcnow
from gateway.errors import Conflict, InvalidInput
from gateway.outgoing import OutgoingMessages, Written
from gateway.store import repo
from gateway.store.db import Database
from gateway.store.models import StaffUser
from handoff.referrals.delivery import ReferralDelivery
from handoff.referrals.models import Referral, ReferralStatus
from handoff.referrals.options import (
    MIN_REASON_CHARS,
)
from handoff.referrals.reading import ReferralReading
from handoff.referrals.strings import consent_words, label, thanks
from handoff.referrals.transport import package_digest
from nlu.answers import parse_yes_no

R = ReferralStatus


def parse_consent(text: str) -> bool | None:
    """True for JA/YES, False for NEJ/NO (in any language the line answers in), None for anything
    else: only a one-word answer counts."""
    return parse_yes_no(text)


class ReferralConsent:
    """Ask, record the answer (or why it was not asked), then send (``Referrals.consent``).

    The question and the thanks go to the person through the pipeline's writer of outgoing
    messages (:mod:`gateway.outgoing`), in the transaction that changes the referral."""

    def __init__(
        self,
        db: Database,
        cipher: ContactCipher,
        outgoing: OutgoingMessages,
        reading: ReferralReading,
        delivery: ReferralDelivery,
    ) -> None:
        self.db = db
        self.cipher = cipher
        self.outgoing = outgoing
        self.reading = reading
        self.delivery = delivery

    def question_text(self, ref: Referral) -> str:
        """The question to the person, spelling out exactly what will be shared."""
        p = ref.package
        lang = catalogues.pick("person", ref.language)
        contact = self.cipher.decrypt(ref.contact_ciphertext) if ref.contact_ciphertext else None
        names = p["recipient"]["name"]  # the recipient's register has Swedish and English names
        name = names.get(lang) or names.get("en") or names["sv"]
        muni = p["municipality"]["name"] if p.get("municipality") else None
        words = consent_words(lang)
        lines = [
            words["intro"].format(recipient=name),
            words["topic"].format(label("topic", ref.topic, lang)),
            words["municipality"].format(muni or words["no_municipality"]),
            words["contact_type"].format(label("contact_type", ref.contact_type, lang)),
            words["urgency"].format(label("urgency", ref.urgency, lang)),
            words["summary"].format(ref.summary),
            words["contact"].format(contact) if contact else words["no_contact"],
            words["ask"],
        ]
        return "\n".join(lines)

    async def request(self, referral_id: str, user: StaffUser) -> dict[str, Any]:
        """Ask the person in their channel; only one question may be open per conversation."""
        async with self.db.session() as session:
            ref = await self.reading.load(session, referral_id, for_update=True)
            if ref.status != R.PROPOSED.value:
                raise Conflict("not_proposed")
            open_question = (
                await session.execute(
                    select(Referral.id).where(
                        Referral.conversation_id == ref.conversation_id,
                        Referral.status == R.CONSENT_REQUESTED.value,
                    )
                )
            ).first()
            if open_question is not None:
                raise Conflict("consent_question_open")
            conv = await repo.get_conversation(session, ref.conversation_id)
            if conv.channel == "phone":
                raise Conflict("ask_on_the_phone")  # no channel to ask in: the counsellor records it
            if conv.unreachable:
                raise Conflict("person_unreachable")
            question = await self.outgoing.write(
                session, conv.id, self.question_text(ref), meta={"referral_id": ref.id}
            )
            now = utcnow()
            ref.status = R.CONSENT_REQUESTED.value
            ref.consent_requested_at = now
            ref.consent_request_seq = question.seq
            ref.updated_at = now
            await repo.audit(
                session,
                "referral.consent_requested",
                actor=user,
                conversation_id=ref.conversation_id,
                details={
                    "referral_id": ref.id,
                    "message_seq": ref.consent_request_seq,
                    "package_sha256": package_digest(ref.package),
                },
            )
            data = self.reading.view(ref)
        self.outgoing.committed()
        await self.reading.live(question.summary, referral_id, R.CONSENT_REQUESTED.value)
        return data

    async def record(
        self,
        referral_id: str,
        consent: bool,
        *,
        user: StaffUser | None,
        answer_seq: int | None = None,
    ) -> dict[str, Any]:
        """Record the person's answer (``user`` None: they answered in the channel) and send on yes."""
        via = "counsellor" if user is not None else "person"
        allowed = (
            (R.PROPOSED.value, R.CONSENT_REQUESTED.value)
            if user is not None
            else (R.CONSENT_REQUESTED.value,)
        )
        status = R.CONSENTED.value if consent else R.REFUSED.value
        now = utcnow()
        thanks_message: Written | None = None
        async with self.db.session() as session:
            ref = await self.reading.load(session, referral_id)
            changed = await session.execute(
                update(Referral)
                .where(Referral.id == referral_id, Referral.status.in_(allowed))
                .values(
                    status=status,
                    consent_via=via,
                    consent_at=now,
                    consent_answer_seq=answer_seq,
                    updated_at=now,
                )
            )
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict("consent_already_recorded")
            details: dict[str, Any] = {"referral_id": referral_id, "via": via, "message_seq": answer_seq}
            if user is not None:
                conv = await repo.get_conversation(session, ref.conversation_id)
                if conv.channel == "phone":
                    details["on_the_phone"] = True  # "the caller agreed on the phone"
            await repo.audit(
                session,
                "referral.consented" if consent else "referral.refused",
                actor=user,
                conversation_id=ref.conversation_id,
                details=details,
            )
            if via == "person":
                conv = await repo.get_conversation(session, ref.conversation_id)
                thanks_message = await self.outgoing.write(
                    session, conv.id, thanks(consent, conv.language or ""), meta={"referral_id": referral_id}
                )
        if thanks_message is not None:
            self.outgoing.committed()
        if consent:
            return await self.delivery.send(referral_id, user)
        return await self.reading.get(referral_id)

    async def record_not_asked(self, referral_id: str, user: StaffUser, reason: str) -> dict[str, Any]:
        """Record why consent could not be asked (mandatory reason), then send."""
        reason = reason.strip()
        if len(reason) < MIN_REASON_CHARS:
            raise InvalidInput("reason_required")
        now = utcnow()
        async with self.db.session() as session:
            ref = await self.reading.load(session, referral_id)
            changed = await session.execute(
                update(Referral)
                .where(
                    Referral.id == referral_id,
                    Referral.status.in_((R.PROPOSED.value, R.CONSENT_REQUESTED.value)),
                )
                .values(
                    status=R.CONSENT_NOT_ASKED.value,
                    consent_via="not_asked",
                    consent_reason=reason[:2000],
                    consent_at=now,
                    updated_at=now,
                )
            )
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                raise Conflict("consent_already_recorded")
            await repo.audit(
                session,
                "referral.consent_not_asked",
                actor=user,
                conversation_id=ref.conversation_id,
                details={"referral_id": referral_id, "reason": reason[:2000]},
            )
        return await self.delivery.send(referral_id, user)

    @staticmethod
    def may_answer(event: Event) -> bool:
        """Whether a conversation event can be a consent answer: a person's message of one word
        of consent or refusal.  The consent group acknowledges every other event unhandled."""
        payload = event.payload
        msg = payload.get("message")
        if payload.get("kind") != "message" or not isinstance(msg, dict):
            return False
        if msg.get("direction") != Direction.IN.value or msg.get("sender_kind") != SenderKind.PERSON.value:
            return False
        return parse_consent(str(msg.get("text", ""))) is not None

    async def on_conversation_event(self, event: Event) -> None:
        """A person's one-word answer to an open consent question is their consent (or refusal)."""
        if not self.may_answer(event):
            return
        payload = event.payload
        msg = payload["message"]
        answer = parse_consent(str(msg.get("text", "")))
        if answer is None:
            return
        seq = int(msg.get("seq") or 0)
        async with self.db.session() as session:
            rid = (
                await session.execute(
                    select(Referral.id).where(
                        Referral.conversation_id == str(payload.get("conversation_id", "")),
                        Referral.status == R.CONSENT_REQUESTED.value,
                        Referral.consent_request_seq < seq,
                    )
                )
            ).scalar_one_or_none()
        if rid is None:
            return
        try:
            await self.record(rid, answer, user=None, answer_seq=seq)
        except Conflict:
            pass  # answered already (another process, or the counsellor recorded it)
