"""SQLAlchemy models of the core tables.

Other packages (``handoff``) declare their own tables on the same :data:`Base` in their own
modules; the composition root's :func:`gateway.app.all_metadata` imports them so that Alembic
sees every table.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from gateway.conversation import ConversationState as ConversationState  # the state column's values
from gateway.envelope import utcnow

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        from datetime import UTC

        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        from datetime import UTC

        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Role(enum.StrEnum):
    COUNSELLOR = "counsellor"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    MUNICIPALITY = "municipality"
    TRAINEE = "trainee"
    """Practises with simulated people (handoff.training) and sees nothing real."""


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    pseudonym: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(16), default=ConversationState.BOT.value, index=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    intent: Mapped[str | None] = mapped_column(String(40))
    """The intent of the message that gave the conversation its priority."""
    language: Mapped[str] = mapped_column(String(8), default="sv")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assigned_to: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), index=True)
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    unreachable: Mapped[bool] = mapped_column(Boolean, default=False)
    """The person can no longer be reached on the channel (blocked the bot, bounced)."""
    resume_code_hash: Mapped[str | None] = mapped_column(String(128))
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_conversations_queue", "state", "priority", "queued_at"),)


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer)
    """Position in the conversation, from 1: the resume cursor of web chat."""
    direction: Mapped[str] = mapped_column(String(4))
    sender_kind: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(255))
    text: Mapped[str] = mapped_column(Text)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    triage: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivery: Mapped[str | None] = mapped_column(String(16))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sending_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """While ``delivery`` is ``sending``: when the sender's claim lapses (``gateway.sending``)."""

    __table_args__ = (
        UniqueConstraint("conversation_id", "seq", name="uq_messages_conversation_seq"),
        UniqueConstraint("channel", "external_id", name="uq_messages_channel_external"),
    )


class ContactRecord(Base):
    """The raw address needed to answer, encrypted; kept apart and deleted under retention."""

    __tablename__ = "contact_records"

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(32))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    municipality_code: Mapped[str | None] = mapped_column(String(64))
    """For the municipality role: the SCB code (or Kunskapshus id) whose referrals the user sees."""
    language: Mapped[str] = mapped_column(String(8), default="sv")
    """The language of the staff member's own pages (the console), sv or en."""
    spoken_languages: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["sv", "en"])
    """The languages the holder speaks with a person (``handoff.shift.languages``): conversations in
    them are offered to this member first ("Nästa samtal", new conversations, reminders)."""
    capacity: Mapped[int] = mapped_column(Integer, default=3)
    extension: Mapped[str | None] = mapped_column(String(16), unique=True)
    """The staff member's phone extension: a call answered there opens on their console (handoff.phone)."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    on_duty_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    """The TOTP secret, encrypted (``gateway.twofactor``); set but not enabled while enrolling."""
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the second factor was confirmed; None: no second factor (yet)."""
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    """The time step of the last code accepted: a code of that step or an earlier one is refused."""


class StaffSession(Base):
    """Server-side login sessions; the cookie holds only the token, the table its hash."""

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    pending: Mapped[str | None] = mapped_column(String(16))
    """None: signed in.  ``code``: the password was right, the second factor is awaited;
    ``enrol``: the password was right, the user must enrol a second factor first.  A pending
    session opens no page but the second step of the login."""
    browser: Mapped[str] = mapped_column(String(64), default="")
    """The browser in two words ("Firefox, Linux") for the user's list of sessions: never the
    User-Agent header itself (which can single a person out) and never an address."""


class StaffRecoveryCode(Base):
    """One-time recovery codes of a user's second factor, argon2-hashed; ``used_at`` once used."""

    __tablename__ = "staff_recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    """Staff user id; None for the system itself."""
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    conversation_id: Mapped[str | None] = mapped_column(String(32), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DeadLetter(Base):
    """A message the gateway could not store, kept so that its channel can move past it.

    The raw payload (the envelope and the address) is encrypted with the contact key; channel,
    reason and time are in clear for the admins' view (``gateway.deadletter``)."""

    __tablename__ = "dead_letters"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    payload: Mapped[bytes] = mapped_column(LargeBinary)


class ProcessedEvent(Base):
    """Idempotency ledger of broker consumers: an event id handled once per consumer group."""

    __tablename__ = "processed_events"

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboxEvent(Base):
    """An event written in the transaction of the change it describes, waiting for the relay
    (:mod:`gateway.outbox`) to publish it on the broker; deleted once the broker has it."""

    __tablename__ = "outbox_events"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    event_id: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    conversation_id: Mapped[str | None] = mapped_column(String(32), index=True)
    """For erasure: a pending event of an erased conversation goes with it."""
    origin: Mapped[str] = mapped_column(String(80))
    """The process that wrote it; its relay publishes it at once, others after a grace period."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KeyFingerprint(Base):
    """A keyed fingerprint of each secret key (never the key), written at the first start: a process
    whose key differs refuses to start (``gateway.keys``).  ``previous``: fingerprints of keys
    replaced by ``helpline keys rotate``."""

    __tablename__ = "key_fingerprints"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    previous: Mapped[list[str]] = mapped_column(JSON, default=list)
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StaffActionKey(Base):
    """The answer to a staff action that creates something, under the client's idempotency key:
    a resend with the same key gets this answer instead of acting twice (``handoff.console.idempotency``).
    Scoped to the staff user; deleted with the conversation (erasure) and after a day."""

    __tablename__ = "staff_action_keys"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_staff_action_keys_user_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    request_hash: Mapped[str] = mapped_column(String(64))
    conversation_id: Mapped[str | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[int | None] = mapped_column(Integer)
    """None while the first request is still being answered.  Set in the action's own transaction
    when it creates something (``gateway.store.action_keys``), so an action never commits without it."""
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    holder: Mapped[str | None] = mapped_column(String(32))
    """The attempt that holds the key while it is in progress; a takeover after the lease changes it."""
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """While in progress: until when a resend is told ``in_progress``; after it, a resend takes the
    key over and acts (the first attempt, if still alive, can no longer record and rolls back).
    None on keys claimed before leases existed: those stay in progress until they are removed."""
