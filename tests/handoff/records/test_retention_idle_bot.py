"""Retention gap: a conversation left with the bot is closed by the system, so the normal rules apply."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from gateway.config import load_settings
from gateway.envelope import Priority, utcnow
from gateway.errors import ConfigError
from gateway.store.db import Database
from handoff.records.retention import IDLE_BOT_REASON, RetentionPolicy, retention_config, run_retention
from tests.handoff.records.conftest import (
    AuditEvent,
    ContactRecord,
    Conversation,
    add_conversation,
    audit_actions,
    count,
)


async def bot_conversation(db: Database, idle: timedelta, priority: int = int(Priority.NORMAL)) -> str:
    """A person greeted the bot ``idle`` ago and never wrote again (never queued, never seen)."""
    async with db.session() as s:
        return await add_conversation(
            s,
            created_at=utcnow() - idle,
            closed=False,
            queued=False,
            state="bot",
            priority=priority,
            intent="greet",
            messages=("Hej",),
        )


async def test_idle_bot_conversations_are_closed_then_purged_by_the_normal_rules(store: Database) -> None:
    now = utcnow()
    idle = await bot_conversation(store, timedelta(days=8))
    fresh = await bot_conversation(store, timedelta(days=5))
    high_unseen = await bot_conversation(store, timedelta(days=30), priority=int(Priority.HIGH))
    critical_unseen = await bot_conversation(store, timedelta(days=30), priority=int(Priority.CRITICAL))
    low = await bot_conversation(store, timedelta(days=9), priority=int(Priority.LOW))
    async with store.session() as s:
        queued = await add_conversation(
            s, created_at=now - timedelta(days=30), closed=False, wait=None, state="queued"
        )
    policy = RetentionPolicy()

    dry = await run_retention(store, policy, now, dry_run=True)
    assert dry.idle_bot_closed == 2
    async with store.session() as s:
        assert await count(s, Conversation, Conversation.state == "bot") == 5, "a dry run changes nothing"

    real = await run_retention(store, policy, now)
    assert real.idle_bot_closed == 2
    async with store.session() as s:
        states = {
            cid: (await s.get(Conversation, cid))
            for cid in (idle, fresh, high_unseen, critical_unseen, low, queued)
        }
        for cid in (idle, low):
            conv = states[cid]
            assert conv is not None and conv.state == "closed" and conv.closed_at is not None
            assert conv.meta["closed_by"] == "system" and conv.meta["close_reason"] == IDLE_BOT_REASON
        for cid in (fresh, high_unseen, critical_unseen):
            conv = states[cid]
            assert conv is not None and conv.state == "bot" and conv.closed_at is None
        queued_conv = states[queued]
        assert queued_conv is not None and queued_conv.state == "queued", "the queue is not touched"
        closes = await audit_actions(s, "conversation.closed")
        assert sorted(e.conversation_id or "" for e in closes) == sorted([idle, low])
        assert all(e.actor == "system" and e.details["reason"] == IDLE_BOT_REASON for e in closes)
        purge = (await audit_actions(s, "retention.purge"))[0]
        assert purge.details["idle_bot_closed"] == 2
        # closed just now: the contact record waits for contact_records_hours like any other
        assert await count(s, ContactRecord, ContactRecord.conversation_id == idle) == 1

    # A day later the normal rule deletes the contact records of the closed ones, and only those.
    later = await run_retention(store, policy, now + timedelta(days=1, minutes=1))
    assert later.idle_bot_closed == 0 and later.contact_records == 2
    async with store.session() as s:
        contacts = set((await s.execute(select(ContactRecord.conversation_id))).scalars().all())
        assert contacts == {fresh, high_unseen, critical_unseen, queued}
        assert await count(s, AuditEvent, AuditEvent.action == "retention.purge") == 2


async def test_a_high_conversation_a_counsellor_has_seen_may_be_closed(sqlite_store: Database) -> None:
    now = utcnow()
    cid = await bot_conversation(sqlite_store, timedelta(days=10), priority=int(Priority.HIGH))
    async with sqlite_store.session() as s:
        conv = await s.get(Conversation, cid)
        assert conv is not None
        conv.first_assigned_at = now - timedelta(days=9)
    report = await run_retention(sqlite_store, RetentionPolicy(), now)
    assert report.idle_bot_closed == 1


def test_idle_bot_days_is_configurable() -> None:
    assert retention_config(None)["idle_bot_days"] == 7.0
    policy = RetentionPolicy.from_config({"idle_bot_days": 2})
    assert policy.idle_bot == timedelta(days=2)
    with pytest.raises(ConfigError, match=r"retention\.idle_bot_days"):
        RetentionPolicy.from_config({"idle_bot_days": 0})
    settings = load_settings(environ={}, overrides={"retention.idle_bot_days": 3})
    assert settings.section("retention")["idle_bot_days"] == 3.0
