"""Retention: nothing identifying is kept longer than the rules allow.

Each kind of data has its own period, counted from the conversation's close (``closed_at``):

=====================  ======================================================  ================
kind                   what happens                                            default
=====================  ======================================================  ================
contact records        the encrypted raw address is deleted                    24 hours
transcripts            the messages are deleted (``transcripts_mode: delete``)  30 days
                       or anonymised (``anonymise``: the text is redacted,
                       attachments, triage details, metadata and channel
                       message ids are dropped); in both modes the
                       conversation's pseudonym and resume code are cleared
                       and counsellors' debrief notes about it deleted
documentation records  kept (they are anonymous by construction)               kept
audit events           deleted when older than their own period (by ``at``)    730 days
staff sessions         deleted once expired                                    at expiry
=====================  ======================================================  ================

Conversations that are still open are never touched, with one exception: a conversation that never
left the bot (state ``bot``: a person who greeted the bot and went away) and had no message for
``idle_bot_days`` (default 7) is closed by the system first (audited as ``conversation.closed``,
actor ``system``, reason ``idle_bot``), so that the rules above apply to it from then on instead of
its contact record being kept forever.  A high or critical conversation that no counsellor has seen
is never closed this way.  :func:`run_retention` does it (or, with
``dry_run``, only counts what it would do); every real run that purged something, and every run by
hand, writes an audit event ``retention.purge`` with the counts (never ids or text).
:class:`handoff.records.retention_scheduler.RetentionScheduler` runs it in the background of the gateway, once per interval across the
fleet (a lease in Redis; always granted in the embedded single-process default).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.conversation import move
from gateway.envelope import Priority
from gateway.errors import ConfigError
from gateway.store import repo
from gateway.store.db import Database
from gateway.store.models import (
    AuditEvent,
    ContactRecord,
    Conversation,
    ConversationState,
    Message,
    StaffSession,
)
from handoff.history.models import DebriefNote
from handoff.phone.models import PhoneCallEvent
from handoff.records.redaction import redact

log = logging.getLogger(__name__)

TRANSCRIPT_MODES = ("delete", "anonymise")
IDLE_BOT_REASON = "idle_bot"

# The ``retention`` configuration section: key -> (type, default).
CONFIG_SCHEMA: dict[str, tuple[type, Any]] = {
    "enabled": (bool, True),
    "interval_minutes": (float, 60.0),
    "contact_records_hours": (float, 24.0),
    "transcripts_days": (float, 30.0),
    "transcripts_mode": (str, "delete"),
    "audit_days": (float, 730.0),
    "idle_bot_days": (float, 7.0),
    "broker_events_hours": (float, 24.0),
}


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    contact_records: timedelta = timedelta(hours=24)
    transcripts: timedelta = timedelta(days=30)
    transcripts_mode: str = "delete"
    audit: timedelta = timedelta(days=730)
    idle_bot: timedelta = timedelta(days=7)
    """A conversation still with the bot and without a message for this long is closed."""
    broker_events: timedelta = timedelta(hours=24)
    """Events (with message text) kept in the broker's streams (handoff.records.event_retention)."""

    def __post_init__(self) -> None:
        if self.transcripts_mode not in TRANSCRIPT_MODES:
            raise ConfigError("retention.transcripts_mode", f"must be one of {', '.join(TRANSCRIPT_MODES)}")
        for key, value in (
            ("retention.contact_records_hours", self.contact_records),
            ("retention.transcripts_days", self.transcripts),
            ("retention.audit_days", self.audit),
        ):
            if value < timedelta(0):
                raise ConfigError(key, "must not be negative")
        # Zero would close conversations a person is in the middle of.
        if self.idle_bot <= timedelta(0):
            raise ConfigError("retention.idle_bot_days", "must be positive")

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> RetentionPolicy:
        cfg = retention_config(section)
        return cls(
            contact_records=timedelta(hours=float(cfg["contact_records_hours"])),
            transcripts=timedelta(days=float(cfg["transcripts_days"])),
            transcripts_mode=str(cfg["transcripts_mode"]),
            audit=timedelta(days=float(cfg["audit_days"])),
            idle_bot=timedelta(days=float(cfg["idle_bot_days"])),
            broker_events=timedelta(hours=float(cfg["broker_events_hours"])),
        )


def retention_config(section: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``retention`` section with defaults filled in (until gateway.config validates it)."""
    section = section or {}
    out: dict[str, Any] = {}
    for key in section:
        if key not in CONFIG_SCHEMA:
            raise ConfigError(f"retention.{key}", "unknown key")
    for key, (typ, default) in CONFIG_SCHEMA.items():
        value = section.get(key, default)
        if value is None:
            value = default
        if typ is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, typ) or (typ is float and isinstance(value, bool)):
            raise ConfigError(f"retention.{key}", f"must be {typ.__name__}, got {type(value).__name__}")
        out[key] = value
    return out


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """What a purge did (or, dry, would do): counts per kind, never ids."""

    at: datetime
    dry_run: bool
    transcripts_mode: str
    idle_bot_closed: int = 0
    """Conversations left with the bot that the system closed (``idle_bot_days``)."""
    contact_records: int = 0
    transcripts: int = 0
    """Conversations whose transcript was deleted or anonymised."""
    messages_deleted: int = 0
    messages_anonymised: int = 0
    audit_events: int = 0
    staff_sessions: int = 0

    @property
    def total(self) -> int:
        return (
            self.idle_bot_closed
            + self.contact_records
            + self.transcripts
            + self.messages_deleted
            + self.messages_anonymised
            + self.audit_events
            + self.staff_sessions
        )

    def counts(self) -> dict[str, int]:
        data = asdict(self)
        return {k: int(v) for k, v in data.items() if isinstance(v, int) and not isinstance(v, bool)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "dry_run": self.dry_run,
            "transcripts_mode": self.transcripts_mode,
            **self.counts(),
        }

    def lines(self) -> list[str]:
        """Human-readable, Swedish first, English second; counts only."""
        what = "provkörning, inget ändrat / dry run, nothing changed" if self.dry_run else "utförd / done"
        return [
            f"Gallring / Retention purge {self.at.isoformat(timespec='seconds')}: {what}",
            f"  avslutade efter inaktivitet hos boten / closed after idling with the bot: {self.idle_bot_closed}",
            f"  kontaktuppgifter / contact records: {self.contact_records}",
            f"  samtalsloggar / transcripts ({self.transcripts_mode}): {self.transcripts}",
            f"    meddelanden raderade / messages deleted: {self.messages_deleted}",
            f"    meddelanden avidentifierade / messages anonymised: {self.messages_anonymised}",
            f"  granskningshändelser / audit events: {self.audit_events}",
            f"  inloggningssessioner / staff sessions: {self.staff_sessions}",
            "  dokumentation / documentation records: behålls / kept",
        ]


async def _count(session: AsyncSession, stmt: Any) -> int:
    return int((await session.execute(stmt)).scalar_one())


def idle_bot_filter(policy: RetentionPolicy, now: datetime) -> Any:
    """Conversations the system closes: still with the bot, no message for ``policy.idle_bot``, and
    not a high or critical one that no counsellor has seen."""
    return (
        (Conversation.state == ConversationState.BOT.value)
        & (Conversation.last_message_at <= now - policy.idle_bot)
        & ((Conversation.priority < int(Priority.HIGH)) | Conversation.first_assigned_at.is_not(None))
    )


async def close_idle_bot(session: AsyncSession, policy: RetentionPolicy, now: datetime, dry_run: bool) -> int:
    """Close (or, dry, count) the conversations of :func:`idle_bot_filter`; each close is audited."""
    where = idle_bot_filter(policy, now)
    if dry_run:
        return await _count(session, select(func.count()).select_from(Conversation).where(where))
    # Rows a person is writing to right now are locked by their ingress: skip them this time.
    rows = await session.execute(select(Conversation).where(where).with_for_update(skip_locked=True))
    closed = 0
    for conv in rows.scalars().all():
        move(conv, ConversationState.CLOSED)
        conv.closed_at = now
        conv.meta = {**(conv.meta or {}), "closed_by": "system", "close_reason": IDLE_BOT_REASON}
        await repo.audit(
            session,
            "conversation.closed",
            conversation_id=conv.id,
            details={"reason": IDLE_BOT_REASON, "idle_days": policy.idle_bot.total_seconds() / 86400},
        )
        closed += 1
    if closed:
        await session.flush()
    return closed


async def purge(session: AsyncSession, policy: RetentionPolicy, now: datetime, dry_run: bool) -> PurgeReport:
    """Apply (or count) the rules in one transaction."""
    n_idle = await close_idle_bot(session, policy, now, dry_run)
    closed_before_contacts = now - policy.contact_records
    closed_before_transcripts = now - policy.transcripts

    contact_convs = select(Conversation.id).where(
        Conversation.closed_at.is_not(None), Conversation.closed_at <= closed_before_contacts
    )
    n_contacts = await _count(
        session,
        select(func.count())
        .select_from(ContactRecord)
        .where(ContactRecord.conversation_id.in_(contact_convs)),
    )

    old_convs = select(Conversation.id).where(
        Conversation.closed_at.is_not(None), Conversation.closed_at <= closed_before_transcripts
    )
    msg_filter = Message.conversation_id.in_(old_convs)
    to_anonymise: list[Message] = []
    if policy.transcripts_mode == "delete":
        n_messages = await _count(session, select(func.count()).select_from(Message).where(msg_filter))
        has_messages = Conversation.id.in_(select(Message.conversation_id).where(msg_filter))
        due = (Conversation.pseudonym != "") | Conversation.resume_code_hash.is_not(None) | has_messages
    else:
        # A transcript not yet anonymised still has its pseudonym (both go in the same transaction).
        n_messages = 0
        pending = select(Conversation.id).where(Conversation.id.in_(old_convs), Conversation.pseudonym != "")
        rows = (await session.execute(select(Message).where(Message.conversation_id.in_(pending)))).scalars()
        to_anonymise = [m for m in rows.all() if not (m.meta or {}).get("anonymised")]
        due = (Conversation.pseudonym != "") | Conversation.resume_code_hash.is_not(None)
    due_convs = select(Conversation.id).where(Conversation.id.in_(old_convs), due)
    n_transcripts = await _count(session, select(func.count()).select_from(due_convs.subquery()))

    audit_before = now - policy.audit
    n_audit = await _count(
        session, select(func.count()).select_from(AuditEvent).where(AuditEvent.at <= audit_before)
    )
    n_sessions = await _count(
        session, select(func.count()).select_from(StaffSession).where(StaffSession.expires_at <= now)
    )

    report = PurgeReport(
        at=now,
        dry_run=dry_run,
        transcripts_mode=policy.transcripts_mode,
        idle_bot_closed=n_idle,
        contact_records=n_contacts,
        transcripts=n_transcripts,
        messages_deleted=n_messages,
        messages_anonymised=len(to_anonymise),
        audit_events=n_audit,
        staff_sessions=n_sessions,
    )
    if dry_run:
        return report

    await session.execute(
        delete(ContactRecord)
        .where(ContactRecord.conversation_id.in_(contact_convs))
        .execution_options(synchronize_session=False)
    )
    if policy.transcripts_mode == "delete":
        await session.execute(delete(Message).where(msg_filter).execution_options(synchronize_session=False))
    else:
        for message in to_anonymise:
            message.text = redact(message.text).text
            message.attachments = []
            message.external_id = None
            triage = message.triage or {}
            message.triage = {k: triage[k] for k in ("intent", "priority") if k in triage} if triage else None
            message.meta = {"anonymised": True}
    # A counsellor's debrief note about a conversation goes with its transcript.
    await session.execute(
        delete(DebriefNote)
        .where(DebriefNote.conversation_id.in_(old_convs))
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Conversation)
        .where(Conversation.id.in_(old_convs))
        .where((Conversation.pseudonym != "") | Conversation.resume_code_hash.is_not(None))
        .values(pseudonym="", resume_code_hash=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(AuditEvent).where(AuditEvent.at <= audit_before).execution_options(synchronize_session=False)
    )
    await session.execute(
        delete(StaffSession)
        .where(StaffSession.expires_at <= now)
        .execution_options(synchronize_session=False)
    )
    # The phone system's ledger of events seen (handoff.phone): kept as long as transcripts (a
    # replay older than the signature window is refused anyway).
    await session.execute(
        delete(PhoneCallEvent)
        .where(PhoneCallEvent.received_at <= closed_before_transcripts)
        .execution_options(synchronize_session=False)
    )
    return report


async def run_retention(
    db: Database,
    policy: RetentionPolicy,
    now: datetime,
    dry_run: bool = False,
    *,
    trigger: str = "manual",
) -> PurgeReport:
    """Run the purge; a real run is audited (``retention.purge``, counts only) when it purged
    something or was started by hand."""
    async with db.session() as session:
        report = await purge(session, policy, now, dry_run)
        if not dry_run and (report.total > 0 or trigger == "manual"):
            await repo.audit(
                session,
                "retention.purge",
                details={"trigger": trigger, "transcripts_mode": policy.transcripts_mode, **report.counts()},
            )
    log.info(
        "retention %s: %s",
        "dry run" if dry_run else "purge",
        " ".join(f"{k}={v}" for k, v in report.counts().items()),
    )
    return report


__all__ = [
    "CONFIG_SCHEMA",
    "IDLE_BOT_REASON",
    "PurgeReport",
    "RetentionPolicy",
    "close_idle_bot",
    "idle_bot_filter",
    "retention_config",
    "run_retention",
]
