from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from gateway.auth import LoginPolicy, create_user, login, logout, session_user
from gateway.errors import Conflict, InvalidInput
from gateway.store.db import Database
from gateway.store.models import AuditEvent, StaffSession, StaffUser


async def test_passwords_are_stored_as_argon2_hashes(db: Database) -> None:
    async with db.session() as s:
        await create_user(s, "anna", "correct horse battery", "counsellor")
    async with db.session() as s:
        user = (await s.execute(select(StaffUser))).scalar_one()
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse" not in user.password_hash


async def test_short_passwords_unknown_roles_and_duplicates_are_refused(db: Database) -> None:
    async with db.session() as s:
        with pytest.raises(InvalidInput, match="at least 12"):
            await create_user(s, "a", "short", "counsellor")
        with pytest.raises(InvalidInput, match="unknown role"):
            await create_user(s, "a", "long enough pw", "wizard")
        with pytest.raises(InvalidInput, match="municipality"):
            await create_user(s, "m", "long enough pw", "municipality")
        await create_user(s, "b", "long enough pw", "admin")
        with pytest.raises(Conflict):
            await create_user(s, "b", "long enough pw", "admin")


async def test_login_session_and_logout(db: Database) -> None:
    policy = LoginPolicy()
    async with db.session() as s:
        await create_user(s, "anna", "correct horse battery", "counsellor")
    async with db.session() as s:
        result = await login(s, "anna", "correct horse battery", policy)
    assert result.user is not None and result.token and result.csrf
    async with db.session() as s:
        found = await session_user(s, result.token)
        assert found is not None and found[0].username == "anna" and found[1].csrf_token == result.csrf
        await logout(s, result.token)
    async with db.session() as s:
        assert await session_user(s, result.token) is None


async def test_a_supervisors_password_alone_opens_no_session(db: Database) -> None:
    """A supervisor must enrol a second factor: the right password gives a pending session that
    is no session (issue 17, item 11)."""
    async with db.session() as s:
        await create_user(s, "sara", "correct horse battery", "supervisor")
    async with db.session() as s:
        result = await login(s, "sara", "correct horse battery", LoginPolicy())
    assert result.pending == "enrol" and result.token
    async with db.session() as s:
        assert await session_user(s, result.token) is None


async def test_lockout_after_repeated_failures_even_with_the_right_password(db: Database) -> None:
    policy = LoginPolicy(max_attempts=3, lockout=timedelta(minutes=5))
    async with db.session() as s:
        await create_user(s, "bo", "correct horse battery", "counsellor")
    for expected in ("invalid", "invalid", "locked"):
        async with db.session() as s:
            assert (await login(s, "bo", "wrong password!", policy)).error == expected
    async with db.session() as s:
        assert (await login(s, "bo", "correct horse battery", policy)).error == "locked"
    async with db.session() as s:
        actions = [e.action for e in (await s.execute(select(AuditEvent).order_by(AuditEvent.id))).scalars()]
    assert "auth.locked_out" in actions and "auth.login_locked" in actions


async def test_unknown_user_gets_the_same_answer_as_a_wrong_password(db: Database) -> None:
    async with db.session() as s:
        assert (await login(s, "nobody", "whatever pw", LoginPolicy())).error == "invalid"


async def test_a_request_writes_the_sessions_last_seen_at_at_most_once_a_minute(db: Database) -> None:
    async with db.session() as s:
        await create_user(s, "anna", "correct horse battery", "counsellor")
    async with db.session() as s:
        result = await login(s, "anna", "correct horse battery", LoginPolicy())
    assert result.token is not None
    async with db.session() as s:
        found = await session_user(s, result.token)
        assert found is not None
        first = found[1].last_seen_at
        # A request seconds later changes nothing: a plain read stays a read.
        assert not s.dirty
    async with db.session() as s:
        row = (await s.execute(select(StaffSession))).scalar_one()
        row.last_seen_at = first - timedelta(minutes=2)
    async with db.session() as s:
        found = await session_user(s, result.token)
        assert found is not None and s.dirty
    async with db.session() as s:
        row = (await s.execute(select(StaffSession))).scalar_one()
        assert row.last_seen_at > first - timedelta(minutes=1)
