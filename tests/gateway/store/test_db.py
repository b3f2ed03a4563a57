"""The store: migrations, and what is (not) kept, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from gateway.app import all_metadata
from gateway.crypto import ContactCipher
from gateway.envelope import utcnow
from gateway.errors import StoreError
from gateway.store.db import Database
from gateway.store.models import Conversation
from tests.harness import loop_gaps


async def test_migrations_create_exactly_the_tables_the_models_declare(db_url: str) -> None:
    db = Database(db_url)
    try:
        await db.upgrade()
        await db.upgrade()  # idempotent

        def diff(conn: Any) -> list[Any]:
            ctx = MigrationContext.configure(conn, opts={"compare_type": False})
            return [
                d
                for d in compare_metadata(ctx, all_metadata())
                if d[0] != "remove_table" or d[1].name != "alembic_version"
            ]

        async with db.engine.connect() as conn:
            assert await conn.run_sync(diff) == []
            columns = await conn.run_sync(
                lambda c: {
                    t: [col["name"] for col in inspect(c).get_columns(t)]
                    for t in inspect(c).get_table_names()
                }
            )
    finally:
        await db.close()
    # Privacy by design: no column for IP addresses or user agents anywhere.
    for table, cols in columns.items():
        for col in cols:
            assert "ip" not in col.split("_") and "agent" not in col, (table, col)


def test_contact_records_need_the_right_key() -> None:
    cipher = ContactCipher(b"k" * 32)
    token = cipher.encrypt("+46701234567")
    assert b"4670" not in token
    assert cipher.decrypt(token) == "+46701234567"
    try:
        ContactCipher(b"o" * 32).decrypt(token)
    except StoreError as exc:
        assert "cannot be decrypted" in str(exc)
    else:
        raise AssertionError("a wrong key decrypted the contact record")


async def test_sqlite_waits_off_the_event_loop_while_another_process_holds_the_write_lock(
    tmp_path: Path,
) -> None:
    # Calls run on the event loop while the file is free; when another process (a command-line
    # purge, say) holds the lock, the write waits for it in a thread and the loop keeps serving.
    import sqlite3
    import threading
    import time

    from gateway.store.models import Conversation

    url = f"sqlite+aiosqlite:///{tmp_path / 'lock.db'}"
    db = Database(url)
    await db.upgrade()
    async with db.session() as session:  # the gateway is running (and has put the file in WAL mode)
        await session.execute(text("SELECT 1"))
    other = sqlite3.connect(tmp_path / "lock.db", check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.6, other.commit)
    release.start()
    started = time.monotonic()
    try:
        async with loop_gaps(0.01) as gaps, db.session() as session:
            session.add(
                Conversation(
                    id="c-lock",
                    channel="memory",
                    pseudonym="p",
                    state="bot",
                    priority=1,
                    created_at=utcnow(),
                    last_message_at=utcnow(),
                    message_count=0,
                    meta={},
                )
            )
        waited = time.monotonic() - started
    finally:
        release.join()
        other.close()
    async with db.session() as session:
        assert await session.get(Conversation, "c-lock") is not None
    await db.close()
    assert waited >= 0.5  # it really waited for the other writer
    assert max(gaps) < 0.2  # and the event loop was never blocked for long meanwhile


async def test_a_lost_postgresql_connection_fails_one_attempt_retryably_and_the_next_works(
    pg_url: str,
) -> None:
    # No pre-ping before each transaction: a pooled connection the server dropped (a restart, a
    # failover) fails the transaction that finds it with the retryable StoreUnavailable, and every
    # pooled connection older than that is replaced, so the next attempt succeeds.
    import asyncpg

    from gateway.errors import StoreUnavailable

    db = Database(pg_url)
    await db.upgrade()

    async def hold_three() -> None:  # three connections into the pool
        async def one() -> None:
            async with db.session() as session:
                await session.execute(text("SELECT pg_sleep(0.05)"))

        await asyncio.gather(one(), one(), one())

    await hold_three()
    name = pg_url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(
        pg_url.replace("postgresql+asyncpg://", "postgresql://", 1).rsplit("/", 1)[0] + "/postgres"
    )
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1", name
        )
    finally:
        await admin.close()
    assert killed >= 3
    failures = 0
    for _ in range(4):
        try:
            async with db.session() as session:
                assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
        except StoreUnavailable:
            failures += 1
    assert failures <= 1
    await hold_three()  # the whole pool works again
    await db.close()


async def test_json_columns_keep_every_language_and_number_keys_as_the_standard_encoder_did(
    db_url: str,
) -> None:
    db = Database(db_url)
    try:
        await db.upgrade()
        meta = {"sv": "Är du där?", "ar": "هل أنت هناك؟", 7: [1.5, None, True], "nested": {"ti": "ሰላም"}}
        async with db.session() as session:
            session.add(
                Conversation(
                    id="c-json", channel="webchat", pseudonym="p", state="new", priority=1, meta=meta
                )
            )
        async with db.session() as session:
            stored = await session.get(Conversation, "c-json")
            assert stored is not None
            # What json.dumps made of a key that is not a string: its text.
            assert stored.meta == {**{k: v for k, v in meta.items() if k != 7}, "7": [1.5, None, True]}
    finally:
        await db.close()
