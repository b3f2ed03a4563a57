"""Phone calls in the reports (handoff.records.reports, issue 20 item 6): counted per channel with
the others, by outcome and length, answer times and lengths as medians; small cells suppressed;
the evaluation's share of answered and of lost calls."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from gateway.store.db import Database
from gateway.store.models import Conversation
from handoff.phone.models import PhoneCall
from handoff.records.reports.building import build_evaluation, build_report

UTC = UTC
START, END = date(2026, 3, 2), date(2026, 3, 29)
W10 = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


def dim(report: dict[str, Any], key: str) -> dict[str, Any]:
    return {c["key"]: c["value"] for d in report["dimensions"] if d["key"] == key for c in d["cells"]}


async def calls(db: Database, outcome: str, n: int, *, minutes: int = 10, offset: int = 0) -> None:
    async with db.session() as session:
        for i in range(n):
            at = W10 + timedelta(hours=offset + i)
            answered = outcome == "answered"
            conv_id = f"{outcome[:4]}{offset + i:028d}"
            session.add(
                Conversation(
                    id=conv_id,
                    channel="phone",
                    pseudonym=f"p{i}",
                    state="closed",
                    priority=1,
                    created_at=at,
                    queued_at=at,
                    first_assigned_at=at + timedelta(seconds=30) if answered else None,
                    closed_at=at + timedelta(minutes=minutes),
                    last_message_at=at,
                    meta={},
                )
            )
            await session.flush()
            session.add(
                PhoneCall(
                    call_id=f"c-{conv_id}",
                    conversation_id=conv_id,
                    outcome=outcome,
                    ringing_at=at,
                    answered_at=at + timedelta(seconds=30) if answered else None,
                    ended_at=at + timedelta(minutes=minutes),
                    duration_seconds=minutes * 60 if answered else None,
                )
            )


async def test_calls_are_counted_with_the_other_channels_by_outcome_and_length(
    sqlite_store: Database,
) -> None:
    await calls(sqlite_store, "answered", 8, minutes=10)
    await calls(sqlite_store, "abandoned", 6, offset=20)
    await calls(sqlite_store, "missed", 2, offset=40)
    report = await build_report(sqlite_store, START, END)
    assert dim(report, "channel")["phone"] == 16
    outcomes = dim(report, "call_outcome")
    assert outcomes["answered"] == 8 and outcomes["abandoned"] == 6
    assert outcomes["missed"] == "<5"  # a small cell, suppressed like every other
    assert report["calls"]["total"] == 16
    assert dim(report, "call_duration")["5_15"] == 8
    assert report["calls"]["duration"]["median_minutes"] == 10.0
    assert report["calls"]["answer_time"]["median_minutes"] == 0.5
    evaluation = await build_evaluation(sqlite_store, now=datetime(2026, 3, 29, tzinfo=UTC))
    assert evaluation["evaluation"]["calls_answered_percent"] == 50.0
    assert evaluation["evaluation"]["calls_lost_percent"] is None  # from a suppressed cell: not computed


async def test_a_few_calls_show_nothing_that_could_single_anyone_out(sqlite_store: Database) -> None:
    await calls(sqlite_store, "answered", 3)
    report = await build_report(sqlite_store, START, END)
    assert report["calls"]["total"] == "<5"
    assert report["calls"]["duration"] == {"n": "<5", "median_minutes": None, "p90_minutes": None}
    assert all(v in ("<5", "..", 0) for v in dim(report, "call_outcome").values())
