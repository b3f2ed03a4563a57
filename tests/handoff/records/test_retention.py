"""The purge deletes exactly what the rules say and nothing else, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from gateway.envelope import utcnow
from gateway.errors import ConfigError
from gateway.lease import InProcessLease
from gateway.store import repo
from gateway.store.db import Database
from handoff.records.retention import RetentionPolicy, run_retention
from handoff.records.retention_scheduler import RetentionScheduler
from tests.handoff.records.conftest import (
    AuditEvent,
    ContactRecord,
    Conversation,
    DocumentationRecord,
    Message,
    StaffSession,
    add_conversation,
    add_user,
    audit_actions,
    count,
)

PNR = "19811218-9876"


@dataclass
class World:
    now: datetime
    recent: str  # closed 2 hours ago: everything kept
    days_old: str  # closed 2 days ago: contact record gone, transcript kept
    month_old: str  # closed 40 days ago, documented: contact and transcript gone, record kept
    open_old: str  # created 60 days ago, still open: untouched


async def world(db: Database) -> World:
    now = utcnow()
    async with db.session() as s:
        user = await add_user(s, "anna")
        recent = await add_conversation(s, assigned_to=user.id, closed_at=now - timedelta(hours=2))
        days_old = await add_conversation(s, assigned_to=user.id, closed_at=now - timedelta(days=2))
        month_old = await add_conversation(
            s,
            assigned_to=user.id,
            created_at=now - timedelta(days=41),
            closed_at=now - timedelta(days=40),
            messages=(f"Mitt personnummer är {PNR}.", "Tack.", "Hej då."),
            state="documented",
        )
        s.add(DocumentationRecord(conversation_id=month_old, fields={"summary": "x"}, summary="x"))
        open_old = await add_conversation(
            s, assigned_to=user.id, created_at=now - timedelta(days=60), closed=False
        )
        s.add(AuditEvent(at=now - timedelta(days=800), actor="system", action="old.event", details={}))
        s.add(AuditEvent(at=now - timedelta(days=10), actor="system", action="young.event", details={}))
        s.add(
            StaffSession(
                token_hash="a" * 64, user_id=user.id, csrf_token="c", expires_at=now - timedelta(minutes=1)
            )
        )
        s.add(
            StaffSession(
                token_hash="b" * 64, user_id=user.id, csrf_token="c", expires_at=now + timedelta(hours=1)
            )
        )
    return World(now, recent, days_old, month_old, open_old)


async def snapshot(db: Database) -> dict[str, object]:
    async with db.session() as s:
        convs = (await s.execute(select(Conversation.id, Conversation.pseudonym))).all()
        return {
            "contacts": sorted((await s.execute(select(ContactRecord.conversation_id))).scalars().all()),
            "messages": sorted((await s.execute(select(Message.id, Message.text))).all()),
            "pseudonyms": sorted(convs),
            "audit": sorted((await s.execute(select(AuditEvent.action))).scalars().all()),
            "sessions": sorted((await s.execute(select(StaffSession.token_hash))).scalars().all()),
            "records": await count(s, DocumentationRecord),
        }


async def test_purge_deletes_exactly_what_the_rules_say(store: Database) -> None:
    w = await world(store)
    before = await snapshot(store)
    policy = RetentionPolicy()  # 24 h, 30 days delete, 730 days

    dry = await run_retention(store, policy, w.now, dry_run=True)
    assert await snapshot(store) == before, "a dry run changes nothing"

    real = await run_retention(store, policy, w.now)
    assert dry.counts() == real.counts()
    assert real.counts() == {
        "idle_bot_closed": 0,
        "contact_records": 2,
        "transcripts": 1,
        "messages_deleted": 3,
        "messages_anonymised": 0,
        "audit_events": 1,
        "staff_sessions": 1,
    }
    async with store.session() as s:
        contacts = set((await s.execute(select(ContactRecord.conversation_id))).scalars().all())
        assert contacts == {w.recent, w.open_old}
        assert await count(s, Message, Message.conversation_id == w.month_old) == 0
        for kept in (w.recent, w.days_old, w.open_old):
            assert await count(s, Message, Message.conversation_id == kept) == 2
        month = await s.get(Conversation, w.month_old)
        assert month is not None and month.pseudonym == "" and month.state == "documented"
        for kept in (w.recent, w.days_old, w.open_old):
            conv = await s.get(Conversation, kept)
            assert conv is not None and conv.pseudonym.startswith("ps-")
        assert await s.get(DocumentationRecord, w.month_old) is not None
        actions = set((await s.execute(select(AuditEvent.action))).scalars().all())
        assert "old.event" not in actions and "young.event" in actions
        assert (await s.execute(select(StaffSession.token_hash))).scalars().all() == ["b" * 64]
        purges = await audit_actions(s, "retention.purge")
        assert len(purges) == 1
        assert purges[0].details["contact_records"] == 2 and purges[0].details["messages_deleted"] == 3
        assert w.month_old not in str(purges[0].details)

    again = await run_retention(store, policy, w.now, dry_run=True)
    assert again.total == 0, "a second purge finds nothing left to do"


async def test_anonymise_mode_keeps_redacted_transcripts(sqlite_store: Database) -> None:
    w = await world(sqlite_store)
    policy = RetentionPolicy(transcripts_mode="anonymise")
    report = await run_retention(sqlite_store, policy, w.now)
    assert (report.transcripts, report.messages_anonymised, report.messages_deleted) == (1, 3, 0)
    async with sqlite_store.session() as s:
        rows = (
            (
                await s.execute(
                    select(Message).where(Message.conversation_id == w.month_old).order_by(Message.seq)
                )
            )
            .scalars()
            .all()
        )
        assert [m.text for m in rows] == ["Mitt personnummer är [PERSONNUMMER].", "Tack.", "Hej då."]
        assert all(m.external_id is None and m.meta == {"anonymised": True} for m in rows)
        assert all(m.triage == {"intent": {"name": "concern_relative"}, "priority": "normal"} for m in rows)
        young = (await s.execute(select(Message).where(Message.conversation_id == w.recent))).scalars().all()
        assert all(m.external_id and m.meta == {"k": "v"} for m in young)
    assert (await run_retention(sqlite_store, policy, w.now, dry_run=True)).total == 0


async def test_scheduled_purge_runs_and_audits_only_when_something_was_purged(sqlite_store: Database) -> None:
    w = await world(sqlite_store)
    scheduler = RetentionScheduler(
        sqlite_store, RetentionPolicy(), InProcessLease("retention"), 3600, clock=lambda: w.now
    )
    first = await scheduler.run_once()
    second = await scheduler.run_once()
    await scheduler.close()
    assert first is not None and first.contact_records == 2
    assert second is not None and second.total == 0
    async with sqlite_store.session() as s:
        purges = await audit_actions(s, "retention.purge")
    assert [p.details["trigger"] for p in purges] == ["scheduled"]


async def test_erased_conversation_is_not_purged_twice(sqlite_store: Database) -> None:
    w = await world(sqlite_store)
    async with sqlite_store.session() as s:
        await repo.audit(s, "conversation.erased", conversation_id=w.recent)
    report = await run_retention(sqlite_store, RetentionPolicy(), w.now + timedelta(days=31), dry_run=True)
    # after 31 more days every closed conversation is due; the open one never is
    assert report.contact_records == 3 and report.transcripts == 3


def test_policy_from_configuration() -> None:
    policy = RetentionPolicy.from_config({"contact_records_hours": 2, "transcripts_mode": "anonymise"})
    assert policy.contact_records == timedelta(hours=2) and policy.transcripts == timedelta(days=30)
    with pytest.raises(ConfigError, match=r"retention\.transcripts_mode"):
        RetentionPolicy.from_config({"transcripts_mode": "shred"})
    with pytest.raises(ConfigError, match=r"retention\.forever"):
        RetentionPolicy.from_config({"forever": True})
