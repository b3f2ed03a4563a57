"""The session cache's rules, on both stores: any write to a staff row in this process makes what
was remembered unusable (ORM flushes and bulk statements alike, committed or not), a write to other
tables does not, and each use gets its own objects.  The console's use of it:
tests/handoff/console/test_session_cache.py."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import update

from gateway import session_cache
from gateway.auth import LoginPolicy, create_user, login, session_user
from gateway.session_cache import SessionCache
from gateway.store import repo
from gateway.store.db import Database
from gateway.store.models import StaffSession, StaffUser


async def _remembered(db: Database, cache: SessionCache) -> str:
    async with db.session() as s:
        await create_user(s, "anna", "correct horse battery", "counsellor")
    async with db.session() as s:
        token = (await login(s, "anna", "correct horse battery", LoginPolicy())).token
    assert token is not None
    seen = session_cache.generation()
    async with db.reader() as s:
        found = await session_user(s, token, touch=False)
    assert found is not None
    user, row = found
    cache.put(row.token_hash, user, row, seen_generation=seen)
    assert cache.get(row.token_hash) is not None
    return row.token_hash


async def test_a_bulk_update_of_a_user_forgets_every_session(db: Database) -> None:
    cache = SessionCache(60)
    token_hash = await _remembered(db, cache)
    async with db.session() as s:
        await s.execute(update(StaffUser).where(StaffUser.username == "anna").values(role="supervisor"))
    assert cache.get(token_hash) is None


async def test_an_orm_change_of_a_session_row_forgets_it(db: Database) -> None:
    cache = SessionCache(60)
    token_hash = await _remembered(db, cache)
    async with db.session() as s:
        row = await s.get(StaffSession, token_hash)
        assert row is not None
        await s.delete(row)
    assert cache.get(token_hash) is None


async def test_a_rolled_back_change_forgets_too_and_other_tables_do_not(db: Database) -> None:
    cache = SessionCache(60)
    token_hash = await _remembered(db, cache)
    async with db.session() as s:
        await repo.audit(s, "nothing.to.do.with.staff")
    assert cache.get(token_hash) is not None
    with pytest.raises(RuntimeError):
        async with db.session() as s:
            await s.execute(update(StaffUser).values(active=False))
            raise RuntimeError("rolled back")
    assert cache.get(token_hash) is None


async def test_a_read_that_raced_a_change_is_not_remembered(db: Database) -> None:
    cache = SessionCache(60)
    token_hash = await _remembered(db, cache)
    cache = SessionCache(60)  # nothing remembered yet
    seen = session_cache.generation()
    async with db.reader() as s:
        found = await session_user(s, "no such token", touch=False)
        assert found is None
        row = await s.get(StaffSession, token_hash)
        user = await s.get(StaffUser, row.user_id if row else 0)
    assert row is not None and user is not None
    async with db.session() as s:  # a change lands while that read's answer is on its way
        await s.execute(update(StaffUser).values(language="en"))
    cache.put(token_hash, user, row, seen_generation=seen)
    assert cache.get(token_hash) is None


async def test_entries_end_with_their_time_and_copies_are_new_objects(db: Database) -> None:
    cache = SessionCache(0.2)
    token_hash = await _remembered(db, cache)
    first, second = cache.get(token_hash), cache.get(token_hash)
    assert first is not None and second is not None
    assert first[0] is not second[0] and first[1] is not second[1]
    assert first[0].username == "anna" and first[1].token_hash == token_hash
    await asyncio.sleep(0.25)
    assert cache.get(token_hash) is None


async def test_nothing_is_remembered_when_turned_off(db: Database) -> None:
    cache = SessionCache(0)
    async with db.session() as s:
        await create_user(s, "anna", "correct horse battery", "counsellor")
    async with db.session() as s:
        token = (await login(s, "anna", "correct horse battery", LoginPolicy())).token
    async with db.reader() as s:
        found = await session_user(s, token or "", touch=False)
    assert found is not None
    cache.put(found[1].token_hash, *found, seen_generation=session_cache.generation())
    assert cache.get(found[1].token_hash) is None
