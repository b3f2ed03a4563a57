"""The Core peeks of :mod:`gateway.store.rows` (a signal's look at its conversation, without an ORM
session), on SQLite and PostgreSQL: they find what the ORM would, values typed as the model's."""

from __future__ import annotations

from datetime import datetime, timedelta

from gateway.envelope import utcnow
from gateway.store import rows
from gateway.store.db import Database
from gateway.store.models import Conversation


def _conv(cid: str, state: str, created: datetime, pseudonym: str = "p1") -> Conversation:
    return Conversation(
        id=cid * 32,
        channel="webchat",
        pseudonym=pseudonym,
        state=state,
        priority=3,
        intent="urgent_threat",
        language="sv",
        created_at=created,
        last_message_at=created,
        message_count=1,
        assigned_to=None,
        unreachable=False,
        meta={"risk": {"type": "attack"}},
    )


async def test_a_signal_finds_the_persons_open_conversation_in_core(db: Database) -> None:
    now = utcnow()
    async with db.session() as session:
        session.add(_conv("a", "closed", now))
        session.add(_conv("b", "assigned", now - timedelta(minutes=2)))
        session.add(_conv("c", "queued", now - timedelta(minutes=1)))
        session.add(_conv("d", "queued", now, pseudonym="someone else"))

    async with db.connection() as conn:
        hinted = await rows.peek_open(conn, "webchat", "p1", "b" * 32)
        latest = await rows.peek_open(conn, "webchat", "p1", "a" * 32)  # closed: the latest open one
        unhinted = await rows.peek_open(conn, "webchat", "p1")
        not_theirs = await rows.peek_open(conn, "webchat", "p1", "d" * 32)
        nobody = await rows.peek_open(conn, "webchat", "p2")
        by_id = await rows.peek(conn, "a" * 32)
        unknown = await rows.peek(conn, "e" * 32)

    assert hinted is not None and hinted.id == "b" * 32 and hinted.state == "assigned"
    assert latest is not None and latest.id == "c" * 32
    assert unhinted is not None and unhinted.id == "c" * 32
    assert not_theirs is not None and not_theirs.id == "c" * 32
    assert nobody is None and unknown is None
    assert by_id is not None and by_id.state == "closed"
    assert by_id.meta == {"risk": {"type": "attack"}}  # JSON decoded
    assert by_id.created_at.tzinfo is not None  # UTC, as the model reads it
