"""Counsellor hours count only time that has passed: a conversation still open is held up to now
(or the period's end, if that came first), never through the future days of the period."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from gateway.store.db import Database
from handoff.records.reports.service import build_evaluation, build_report
from tests.handoff.records.conftest import Conversation, add_user

NOW = datetime(2025, 3, 12, 10, tzinfo=UTC)  # a Wednesday; the month runs to the 31st


async def open_conversation(db: Database, held_since: datetime) -> None:
    async with db.session() as s:
        user = await add_user(s, "anna")
        s.add(
            Conversation(
                id=uuid.uuid4().hex,
                channel="webchat",
                pseudonym="",
                state="assigned",
                priority=1,
                intent="concern_relative",
                created_at=held_since,
                queued_at=held_since,
                assigned_to=user.id,
                assigned_at=held_since,
                first_assigned_at=held_since,
                last_message_at=held_since,
                meta={},
            )
        )


async def test_an_open_conversation_counts_until_now_not_the_end_of_the_month(store: Database) -> None:
    await open_conversation(store, NOW - timedelta(minutes=15))
    report = await build_report(store, date(2025, 3, 1), date(2025, 3, 31), now=NOW)
    # 15 minutes of work, not the 19 days left of March (about 470 hours)
    assert report["counsellors"]["counsellor_hours"] == pytest.approx(0.25, abs=0.05)


async def test_a_past_period_still_ends_at_its_own_end(store: Database) -> None:
    await open_conversation(store, datetime(2025, 3, 2, 22, tzinfo=UTC))  # 23:00 Stockholm, 2 March
    report = await build_report(store, date(2025, 3, 1), date(2025, 3, 2), now=NOW)
    assert report["counsellors"]["counsellor_hours"] == pytest.approx(1.0, abs=0.05)


async def test_the_evaluation_counts_no_future_time(store: Database) -> None:
    await open_conversation(store, NOW - timedelta(hours=2))
    report = await build_evaluation(store, now=NOW)
    assert report["counsellors"]["counsellor_hours"] == pytest.approx(2.0, abs=0.05)
