"""The store: migrations, and what is (not) kept, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from gateway.crypto import ContactCipher
from gateway.errors import StoreError
from gateway.store.db import Database
from gateway.store.models import all_metadata


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
