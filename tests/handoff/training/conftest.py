"""A running gateway (SQLite and PostgreSQL) whose simulated people answer at once
(``training.delay_scale`` 0), and a look at everything real: every table but the training ones,
and every event on the broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.app import all_metadata
from gateway.appkeys import BROKER, CONSUMER
from gateway.broker.base import Event
from gateway.events import TOPIC_CONVERSATION, TOPIC_QUEUE, notify_topic, outbound_topic
from gateway.store.models import OutboxEvent
from handoff.directory.service import TOPIC_DIRECTORY
from handoff.records.reports.periods import local_date
from handoff.records.reports.service import build_evaluation, build_report, resolve_area
from handoff.referrals.options import TOPIC_DELIVER
from handoff.triage_admin.state import TOPIC_NLU
from tests.handoff.console.conftest import Console, start_console, stop_console
from tests.harness import Running

CHANNELS = ("webchat", "telegram", "email", "xmpp", "sms", "memory")
TOPICS = (
    TOPIC_CONVERSATION,
    TOPIC_QUEUE,
    TOPIC_DELIVER,
    TOPIC_DIRECTORY,
    TOPIC_NLU,
    *(outbound_topic(c) for c in CHANNELS),
    *(notify_topic(c) for c in CHANNELS),
)
"""Every topic of the broker: conversations, egress and notifications to every channel, the
queue's fan-out (alerts, reminders, the live feed), deliveries to municipalities and the police
(e-mail, webhooks), the directory, the triage models."""
VOLATILE = {("staff_sessions", "last_seen_at"), ("staff_presence", "last_active_at")}
"""Columns every signed-in request touches (when a member of staff was last seen): not traces of
training, so left out of the comparison."""


@pytest.fixture
async def console(db_url: str, tmp_path: Path) -> AsyncIterator[Console]:
    c = await start_console(db_url, tmp_path, **{"training.delay_scale": 0.0})
    try:
        yield c
    finally:
        await stop_console(c)


async def real_rows(console: Running, *, drained: bool = False) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table that is not training's, as text, sorted.  ``drained``: first wait
    until the outbox has published what real work before it wrote (a sign-in's status), so that a
    row on its way out then is not counted as a change later (the EventLog sees what goes out)."""
    if drained:
        await outbox_drained(console)
    found: dict[str, list[tuple[Any, ...]]] = {}
    async with console.db.session() as session:
        for table in all_metadata().sorted_tables:
            if table.name.startswith("training_"):
                continue
            columns = [c for c in table.columns if (table.name, c.name) not in VOLATILE]
            rows = (await session.execute(select(*columns))).all()
            found[table.name] = sorted(tuple(str(v) for v in row) for row in rows)
    return found


async def outbox_drained(console: Running, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with console.db.session() as session:
            if not (await session.execute(select(func.count()).select_from(OutboxEvent))).scalar_one():
                return
        assert asyncio.get_running_loop().time() < deadline, "the outbox did not drain"
        await asyncio.sleep(0.05)


async def reports(console: Running, now: datetime) -> list[dict[str, Any]]:
    """The period report of the days around ``now``, the situational picture of Stockholm (where
    the training session is documented) and the pilot evaluation, as at ``now``."""
    today = local_date(now)
    days = (today - timedelta(days=1), today + timedelta(days=1))
    return [
        await build_report(console.db, *days, now=now),
        await build_report(console.db, *days, area=resolve_area("0180"), now=now),
        await build_evaluation(console.db, now=now),
    ]


class EventLog:
    """Every event published on the real topics while it listens."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.subs: list[Any] = []

    async def start(self, console: Running) -> None:
        broker = console.app[BROKER]
        for topic in TOPICS:

            async def record(event: Event) -> None:
                self.events.append(event)

            self.subs.append(
                await broker.subscribe(
                    topic, f"training-watch-{topic}", record, consumer=console.app[CONSUMER]
                )
            )

    async def stop(self) -> None:
        for sub in self.subs:
            await sub.cancel()
