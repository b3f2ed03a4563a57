"""A store with the documentation table, and helpers that lay down conversations at chosen times."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.app import all_metadata
from gateway.envelope import utcnow
from gateway.store.db import Database
from gateway.store.models import (
    AuditEvent,
    ContactRecord,
    Conversation,
    Message,
    StaffSession,
    StaffUser,
)
from handoff.records.models import DocumentationRecord

PASSWORD = "correct horse battery"


async def create_tables(db: Database, *, migrations: bool = False) -> None:
    """Every table of the metadata (this package's model module is imported above); with
    ``migrations`` the core tables by the Alembic migrations first, as the CLI expects."""
    if migrations:
        await db.upgrade()
    async with db.engine.begin() as conn:
        await conn.run_sync(all_metadata().create_all)


@pytest.fixture
async def store(db_url: str) -> AsyncIterator[Database]:
    db = Database(db_url)
    await create_tables(db)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
async def sqlite_store(sqlite_url: str) -> AsyncIterator[Database]:
    db = Database(sqlite_url)
    await create_tables(db)
    try:
        yield db
    finally:
        await db.close()


async def add_user(session: AsyncSession, name: str, role: str = "counsellor", **kw: Any) -> StaffUser:
    """A staff user without the cost of argon2 (for store-level tests that never log in)."""
    user = StaffUser(username=name, display_name=name, password_hash="x", role=role, **kw)
    session.add(user)
    await session.flush()
    return user


async def add_conversation(
    session: AsyncSession,
    *,
    created_at: datetime | None = None,
    channel: str = "webchat",
    priority: int = 1,
    intent: str | None = "concern_relative",
    wait: timedelta | None = timedelta(minutes=2),
    held: timedelta | None = timedelta(minutes=20),
    closed_at: datetime | None = None,
    closed: bool = True,
    assigned_to: int | None = None,
    state: str | None = None,
    messages: tuple[str, ...] = ("Hej, jag är orolig för min son.", "Vi pratar om det."),
    contact: bool = True,
    queued: bool = True,
) -> str:
    """A conversation created at ``created_at``, queued at once, taken after ``wait``, closed
    ``held`` later (or at ``closed_at``), with messages and a contact record."""
    created = created_at or utcnow() - timedelta(hours=1)
    conv_id = uuid.uuid4().hex
    queued_at = created if queued else None
    first = queued_at + wait if (queued_at is not None and wait is not None) else None
    if closed and closed_at is None:
        closed_at = (first or created) + (held or timedelta(minutes=5))
    if not closed:
        closed_at = None
    conv = Conversation(
        id=conv_id,
        channel=channel,
        pseudonym=f"ps-{conv_id[:12]}",
        state=state or ("closed" if closed else ("assigned" if first else "queued")),
        priority=priority,
        intent=intent,
        language="sv",
        created_at=created,
        queued_at=queued_at,
        assigned_to=assigned_to if first else None,
        assigned_at=first,
        first_assigned_at=first,
        closed_at=closed_at,
        last_message_at=created,
        message_count=len(messages),
        resume_code_hash="hash" if channel == "webchat" else None,
        meta={},
    )
    session.add(conv)
    await session.flush()
    for seq, text in enumerate(messages, start=1):
        session.add(
            Message(
                id=uuid.uuid4().hex,
                conversation_id=conv_id,
                seq=seq,
                direction="in" if seq % 2 else "out",
                sender_kind="person" if seq % 2 else "counsellor",
                channel=channel,
                external_id=f"ext-{uuid.uuid4().hex[:10]}",
                text=text,
                attachments=[],
                triage={"intent": {"name": intent}, "priority": "normal", "entities": [{"value": "x"}]},
                meta={"k": "v"},
                created_at=created,
            )
        )
    if contact:
        session.add(
            ContactRecord(conversation_id=conv_id, channel=channel, ciphertext=b"secret", created_at=created)
        )
    await session.flush()
    return conv_id


async def count(session: AsyncSession, model: Any, *where: Any) -> int:
    return int((await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def audit_actions(session: AsyncSession, action: str) -> list[AuditEvent]:
    rows = await session.execute(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
    )
    return list(rows.scalars().all())


__all__ = [
    "PASSWORD",
    "AuditEvent",
    "ContactRecord",
    "Conversation",
    "DocumentationRecord",
    "Message",
    "StaffSession",
    "add_conversation",
    "add_user",
    "audit_actions",
    "count",
    "create_tables",
]
