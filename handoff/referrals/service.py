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
import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import aiosmtplib
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.broker.base import Broker, Event
from gateway.crypto import ContactCipher
from gateway.envelope import ConversationId, Direction, Envelope, SenderKind, new_message_id, utcnow
from gateway.errors import Conflict, InvalidInput, NotFound
from gateway.outbox import Outbox, insert_rows, outbox_for
from gateway.store import action_keys, repo
from gateway.store.db import Database
from gateway.store.models import Conversation, StaffUser
from gateway.store.repo import conversation_summary, message_dict
from handoff.directory.catalog import Directory
from handoff.directory.entries import CONTACT_TYPES, TOPICS, Recipient
from handoff.directory.loading import default_directory
from handoff.records.redaction import redact
from handoff.referrals import webhook
from handoff.referrals.models import Referral, ReferralStatus
from handoff.referrals.routing import Proposal, propose
from nlu.answers import parse_yes_no

log = logging.getLogger(__name__)
R = ReferralStatus

TOPIC_CONVERSATION = "conversation"
TOPIC_QUEUE = "queue"
TOPIC_DELIVER = "handoff.deliver"
DELIVER_GROUP = "handoff"
CONSENT_GROUP = "handoff-consent"

URGENCIES: tuple[str, ...] = ("normal", "urgent")
FOLLOW_UP: dict[str, frozenset[str]] = {
    R.RECEIVED.value: frozenset({R.SENT.value}),
    R.CONTACT_MADE.value: frozenset({R.SENT.value, R.RECEIVED.value}),
    R.CLOSED.value: frozenset({R.SENT.value, R.RECEIVED.value, R.CONTACT_MADE.value}),
    R.NOT_OURS.value: frozenset({R.SENT.value, R.RECEIVED.value}),
}
"""Follow-up statuses a recipient may report, and the statuses each may follow."""
DELIVERED_STATES = frozenset(
    {R.SENT.value, R.RECEIVED.value, R.CONTACT_MADE.value, R.CLOSED.value, R.NOT_OURS.value}
)
MIN_REASON_CHARS = 10
MAX_SUMMARY_CHARS = 1000
MAX_CONTACT_CHARS = 200

TOPIC_LABELS: dict[str, tuple[str, str]] = {
    "crime": ("brott", "a crime"),
    "imminent_danger": ("akut fara", "imminent danger"),
    "child_at_risk": ("barn som far illa", "a child at risk"),
    "radicalisation_concern": ("oro för radikalisering", "concern about radicalisation"),
    "exit": ("avhopp", "leaving a movement"),
    "self_harm": ("självskada eller självmordstankar", "self-harm or suicidal thoughts"),
    "travel_conflict": ("resa till konfliktområde", "travel to a conflict zone"),
    "violence_close_relationship": ("våld i nära relation", "violence in a close relationship"),
    "professional_advice": ("råd till yrkesverksamma", "advice for professionals"),
    "trauma": ("trauma", "trauma"),
}
CONTACT_TYPE_LABELS: dict[str, tuple[str, str]] = {
    "relative": ("anhörig", "relative"),
    "professional": ("yrkesverksam", "professional"),
    "person_leaving": ("person som vill lämna", "person leaving"),
    "other": ("annan", "other"),
}
URGENCY_LABELS: dict[str, tuple[str, str]] = {
    "normal": ("normal", "normal"),
    "urgent": ("brådskande", "urgent"),
}


def label(table: Mapping[str, tuple[str, str]], key: str, language: str) -> str:
    sv, en = table.get(key, (key, key))
    return en if language == "en" else sv


def parse_consent(text: str) -> bool | None:
    """True for JA/YES, False for NEJ/NO (in any language the line answers in), None for anything
    else: only a one-word answer counts."""
    return parse_yes_no(text)


# --------------------------------------------------------------------------------------------
# options


@dataclass(frozen=True)
class HandoffOptions:
    """Settings of the handoff services (the ``handoff`` configuration section)."""

    reminder_after: timedelta = timedelta(hours=24)
    reminder_check_seconds: float = 300.0
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password: str = ""
    mail_from: str = "no-reply@localhost"
    portal_url: str = ""
    webhook_secrets: Mapping[str, str] = field(default_factory=dict)
    webhook_attempts: int = 5
    webhook_backoff: float = 2.0
    webhook_max_backoff: float = 300.0
    webhook_timeout: float = 10.0
    callback_tolerance: float = webhook.DEFAULT_TOLERANCE

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> HandoffOptions:
        """Options from a configuration mapping; missing keys keep their defaults."""
        base = cls()
        known: dict[str, Callable[[Any], dict[str, Any]]] = {
            "reminder_hours": lambda v: {"reminder_after": timedelta(hours=float(v))},
            "reminder_check_seconds": lambda v: {"reminder_check_seconds": float(v)},
            "smtp_host": lambda v: {"smtp_host": str(v)},
            "smtp_port": lambda v: {"smtp_port": int(v)},
            "smtp_starttls": lambda v: {"smtp_starttls": bool(v)},
            "smtp_username": lambda v: {"smtp_username": str(v)},
            "smtp_password": lambda v: {"smtp_password": str(v)},
            "mail_from": lambda v: {"mail_from": str(v)},
            "portal_url": lambda v: {"portal_url": str(v)},
            "webhook_secrets": lambda v: {"webhook_secrets": {str(k): str(s) for k, s in dict(v).items()}},
            "webhook_attempts": lambda v: {"webhook_attempts": int(v)},
            "webhook_backoff": lambda v: {"webhook_backoff": float(v)},
            "webhook_max_backoff": lambda v: {"webhook_max_backoff": float(v)},
        }
        values: dict[str, Any] = {}
        for key, value in section.items():
            if key in known and value is not None:
                values.update(known[key](value))
        return base.replace(**values) if values else base

    def replace(self, **changes: Any) -> HandoffOptions:
        import dataclasses

        return dataclasses.replace(self, **changes)


# --------------------------------------------------------------------------------------------
# messages to the person and live events


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A system message stored in a transaction, to be published once it committed."""

    channel: str
    summary: dict[str, Any]
    message: dict[str, Any]


async def add_system_message(
    session: AsyncSession, conv: Conversation, text: str, meta: Mapping[str, Any] | None = None
) -> Outgoing:
    """Store a system message to the person (delivery pending), like ``Pipeline.reply`` does."""
    env = Envelope(
        message_id=new_message_id(),
        direction=Direction.OUT,
        channel=conv.channel,
        sender=conv.pseudonym,  # type: ignore[arg-type]
        text=text,
        conversation_id=ConversationId(conv.id),
        sender_kind=SenderKind.SYSTEM,
        received_at=utcnow(),
        meta=dict(meta or {}),
    )
    msg = await repo.add_message(session, env, conv, delivery="pending")
    await session.flush()
    return Outgoing(conv.channel, conversation_summary(conv), message_dict(msg))


async def stage_outgoing(session: AsyncSession, outbox: Outbox, out: Outgoing) -> None:
    """In the transaction that stored the message: the events that show it in the console and
    hand it to the channel's egress (gateway.outbox; the caller wakes the outbox after the commit)."""
    conv_id = str(out.summary["id"])
    payload = {
        "kind": "message",
        "conversation_id": conv_id,
        "conversation": out.summary,
        "message": out.message,
    }
    await insert_rows(
        session,
        [
            outbox.row(TOPIC_CONVERSATION, payload, conversation_id=conv_id),
            outbox.row(f"outbound.{out.channel}", {"message_id": out.message["id"]}, conversation_id=conv_id),
        ],
    )


async def send_system_message(
    db: Database, broker: Broker, conversation_id: str, text: str
) -> dict[str, Any]:
    """Send a system message to the person of a conversation in their own channel."""
    outbox = outbox_for(db, broker)
    async with db.session() as session:
        conv = await repo.get_conversation(session, conversation_id)
        out = await add_system_message(session, conv, text)
        await stage_outgoing(session, outbox, out)
    outbox.wake()
    return out.message


# --------------------------------------------------------------------------------------------
# e-mail and webhook


async def send_mail(options: HandoffOptions, to: str, subject: str, body: str, reference: str) -> None:
    """Send one plain-text e-mail with aiosmtplib (raises on failure)."""
    if not options.smtp_host:
        raise InvalidInput("no SMTP server configured (handoff.smtp_host)")
    msg = EmailMessage()
    msg["From"] = options.mail_from
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain=options.mail_from.rpartition("@")[2] or "localhost")
    msg["X-Helpline-Reference"] = reference
    msg.set_content(body)
    await aiosmtplib.send(
        msg,
        hostname=options.smtp_host,
        port=options.smtp_port,
        start_tls=options.smtp_starttls,
        username=options.smtp_username or None,
        password=options.smtp_password or None,
        timeout=30,
    )


async def post_webhook(
    options: HandoffOptions, recipient_id: str, url: str, payload: Mapping[str, Any], key: str
) -> dict[str, Any]:
    """Deliver a signed webhook with retries; the outcome as a delivery record."""
    secret = options.webhook_secrets.get(recipient_id)
    if not secret:
        return {
            "delivered": False,
            "attempts": 0,
            "status": None,
            "error": "no_secret",
            "at": utcnow().isoformat(),
        }
    result = await webhook.deliver(
        url,
        secret,
        payload,
        key,
        attempts=options.webhook_attempts,
        backoff=options.webhook_backoff,
        max_backoff=options.webhook_max_backoff,
        timeout=options.webhook_timeout,
    )
    error = None if result.delivered else (f"HTTP {result.status}" if result.status else "no_answer")
    return {
        "delivered": result.delivered,
        "attempts": result.attempts,
        "status": result.status,
        "error": error,
        "at": utcnow().isoformat(),
    }


def package_digest(package: Mapping[str, Any]) -> str:
    return hashlib.sha256(webhook.encode_payload(package)).hexdigest()


# --------------------------------------------------------------------------------------------
# the service


def portal_unit_of(recipient: Recipient, directory: Directory) -> str | None:
    """Whose municipal portal shows referrals to ``recipient`` (None: no municipal portal)."""
    if not any(m.method == "portal" for m in recipient.handoff):
        return None
    if recipient.municipality_code:
        return recipient.municipality_code
    if any(k.id == recipient.id for k in directory.kunskapshus):
        return recipient.id
    return None


def user_units(code: str | None, directory: Directory) -> frozenset[str]:
    """The portal units a municipality user's ``municipality_code`` gives access to.

    An SCB code (``"1480"``) gives that municipality's social services; a Kunskapshus id
    (``"kunskapshus-goteborg"``) or ``"KH"`` + the host's SCB code (``"KH1480"``, which fits the
    8 characters of ``staff_users.municipality_code``) gives that Kunskapshus.
    """
    if not code:
        return frozenset()
    code = code.strip()
    for k in directory.kunskapshus:
        if code in (k.id, f"KH{k.host}"):
            return frozenset({k.id})
    if directory.municipality(code) is not None:
        return frozenset({code})
    return frozenset()


def usable_methods(recipient: Recipient, directory: Directory) -> list[str]:
    methods: list[str] = []
    for m in recipient.handoff:
        if m.method == "portal" and portal_unit_of(recipient, directory) is not None:
            methods.append("portal")
        elif m.method == "email" and m.address:
            methods.append("email")
        elif m.method == "webhook" and m.url:
            methods.append("webhook")
    return methods


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


class Referrals:
    """Referrals over the store and the broker (one per application)."""

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
                    "sv": label(TOPIC_LABELS, topic, "sv"),
                    "en": label(TOPIC_LABELS, topic, "en"),
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
            data = self.view(ref)
            await action_keys.record(session, "referral", data)  # the answer commits with the referral
            summary_conv = conversation_summary(conv)
        await self._live(summary_conv, rid, R.PROPOSED.value)
        return data

    # ------------------------------------------------------------------ consent
    def consent_text(self, ref: Referral) -> str:
        """The question to the person, spelling out exactly what will be shared."""
        p = ref.package
        lang = "en" if ref.language == "en" else "sv"
        contact = self.cipher.decrypt(ref.contact_ciphertext) if ref.contact_ciphertext else None
        name = p["recipient"]["name"][lang]
        muni = p["municipality"]["name"] if p.get("municipality") else None
        if lang == "en":
            lines = [
                f"Your counsellor suggests that we pass your case on to {name}. This is exactly what would be sent:",
                f"- Topic: {label(TOPIC_LABELS, ref.topic, 'en')}",
                f"- Municipality: {muni or 'not given'}",
                f"- You are: {label(CONTACT_TYPE_LABELS, ref.contact_type, 'en')}",
                f"- Urgency: {label(URGENCY_LABELS, ref.urgency, 'en')}",
                f"- Summary: {ref.summary}",
                f"- Contact details: {contact}"
                if contact
                else "- Contact details: none (they cannot contact you)",
                "Nothing else is sent. Answer YES if you want us to send it, or NO if you do not. "
                "Your answer does not change the support you get here.",
            ]
        else:
            lines = [
                f"Din samtalsstödjare föreslår att vi lämnar över ditt ärende till {name}. "
                "Det här är exakt vad som skulle skickas:",
                f"- Ämne: {label(TOPIC_LABELS, ref.topic, 'sv')}",
                f"- Kommun: {muni or 'ingen angiven'}",
                f"- Du är: {label(CONTACT_TYPE_LABELS, ref.contact_type, 'sv')}",
                f"- Brådska: {label(URGENCY_LABELS, ref.urgency, 'sv')}",
                f"- Sammanfattning: {ref.summary}",
                f"- Kontaktuppgifter: {contact}"
                if contact
                else "- Kontaktuppgifter: inga (mottagaren kan inte kontakta dig)",
                "Inget annat skickas. Svara JA om du vill att vi skickar det, eller NEJ om du inte vill. "
                "Ditt svar påverkar inte stödet du får här.",
            ]
        return "\n".join(lines)

    async def request_consent(self, referral_id: str, user: StaffUser) -> dict[str, Any]:
        """Ask the person in their channel; only one question may be open per conversation."""
        async with self.db.session() as session:
            ref = await self._get(session, referral_id, for_update=True)
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
            if conv.unreachable:
                raise Conflict("person_unreachable")
            out = await add_system_message(session, conv, self.consent_text(ref), {"referral_id": ref.id})
            now = utcnow()
            ref.status = R.CONSENT_REQUESTED.value
            ref.consent_requested_at = now
            ref.consent_request_seq = int(out.message["seq"])
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
            data = self.view(ref)
            await stage_outgoing(session, self.outbox, out)
        self.outbox.wake()
        await self._live(out.summary, referral_id, R.CONSENT_REQUESTED.value)
        return data

    async def record_consent(
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
        out: Outgoing | None = None
        async with self.db.session() as session:
            ref = await self._get(session, referral_id)
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
            await repo.audit(
                session,
                "referral.consented" if consent else "referral.refused",
                actor=user,
                conversation_id=ref.conversation_id,
                details={"referral_id": referral_id, "via": via, "message_seq": answer_seq},
            )
            if via == "person":
                conv = await repo.get_conversation(session, ref.conversation_id)
                lang = "en" if conv.language == "en" else "sv"
                text = {
                    (True, "sv"): "Tack. Vi skickar uppgifterna som vi visade dig, och inget annat.",
                    (True, "en"): "Thank you. We will send the details we showed you, and nothing else.",
                    (False, "sv"): "Tack. Vi skickar ingenting. Du kan fortsätta skriva till oss här.",
                    (False, "en"): "Thank you. We will not send anything. You can go on writing to us here.",
                }[(consent, lang)]
                out = await add_system_message(session, conv, text, {"referral_id": referral_id})
                await stage_outgoing(session, self.outbox, out)
        if out is not None:
            self.outbox.wake()
        if consent:
            return await self.send(referral_id, user)
        return await self.get(referral_id)

    async def record_not_asked(self, referral_id: str, user: StaffUser, reason: str) -> dict[str, Any]:
        """Record why consent could not be asked (mandatory reason), then send."""
        reason = reason.strip()
        if len(reason) < MIN_REASON_CHARS:
            raise InvalidInput("reason_required")
        now = utcnow()
        async with self.db.session() as session:
            ref = await self._get(session, referral_id)
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
        return await self.send(referral_id, user)

    @staticmethod
    def may_answer_consent(event: Event) -> bool:
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
        if not self.may_answer_consent(event):
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
            await self.record_consent(rid, answer, user=None, answer_seq=seq)
        except Conflict:
            pass  # answered already (another process, or the counsellor recorded it)

    # ------------------------------------------------------------------ send and deliver
    async def send(self, referral_id: str, user: StaffUser | None) -> dict[str, Any]:
        """Mark sent (only with recorded consent or a recorded reason) and queue the deliveries."""
        now = utcnow()
        async with self.db.session() as session:
            ref = await self._get(session, referral_id)
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
        await self._live(summary, referral_id, R.SENT.value)
        return await self.get(referral_id)

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
                "Ny hänvisning från stödlinjen / New referral from the support line",
                "",
                f"Referens / Reference: {reference}",
                f"Ämne / Topic: {package['topic_label']['sv']} / {package['topic_label']['en']}",
                f"Kommun / Municipality: {muni.get('name') or '-'}",
                f"Kontakttyp / Contact type: {label(CONTACT_TYPE_LABELS, str(package['contact_type']), 'sv')}"
                f" / {label(CONTACT_TYPE_LABELS, str(package['contact_type']), 'en')}",
                f"Brådska / Urgency: {label(URGENCY_LABELS, str(package['urgency']), 'sv')}"
                f" / {label(URGENCY_LABELS, str(package['urgency']), 'en')}",
                "",
                "Sammanfattning / Summary:",
                str(package["summary"]),
                "",
                (
                    "Personen har lämnat kontaktuppgifter; de skickas aldrig med e-post. "
                    "/ The person gave contact details; they are never sent by e-mail."
                )
                if package.get("contact_details_included")
                else "Inga kontaktuppgifter. / No contact details.",
                *([f"Portal: {link}"] if link else []),
            ]
        )
        subject = f"Hänvisning / Referral {reference[:8]}: {package['topic_label']['sv']}"
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
            ref = await self._get(session, referral_id)
            if units is not None and ref.portal_unit not in units:
                raise NotFound("referral not found")
            if ref.status == status:
                return self.view(ref)  # a repeated report (e.g. a retried callback) changes nothing
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
            data = self.view(ref)
            conv = await repo.get_conversation(session, ref.conversation_id)
            summary = conversation_summary(conv)
        await self._live(summary, referral_id, status)
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
    "HandoffOptions",
    "Referrals",
    "add_system_message",
    "parse_consent",
    "send_mail",
    "send_system_message",
    "stage_outgoing",
    "user_units",
]
