"""The password policy of staff accounts (gateway/passwords.py): short and common passwords refused,
one maximum length at creation and at login."""

from __future__ import annotations

import pytest

from gateway.auth import LoginPolicy, create_user, login
from gateway.errors import InvalidInput
from gateway.store.db import Database


@pytest.mark.parametrize(
    "password",
    ["elva tecken", "Password123!", "sommar2024!!", "qwertyuiop123", "123456789012345", "aaaaaaaaaaaaaa"],
)
async def test_short_and_common_passwords_are_refused(sqlite_url: str, password: str) -> None:
    db = Database(sqlite_url)
    try:
        await db.upgrade()
        async with db.session() as s:
            with pytest.raises(InvalidInput, match="password"):
                await create_user(s, "anna", password, "counsellor")
    finally:
        await db.close()


async def test_the_same_maximum_length_at_creation_and_login(sqlite_url: str) -> None:
    longest = "a good passphrase " * 56 + "abcdefgh"
    assert len(longest) == 1016 and len(longest + "12345678") == 1024
    longest += "12345678"
    db = Database(sqlite_url)
    try:
        await db.upgrade()
        async with db.session() as s:
            with pytest.raises(InvalidInput, match="at most 1024"):
                await create_user(s, "bo", longest + "x", "counsellor")
            await create_user(s, "anna", longest, "counsellor")
        async with db.session() as s:
            assert (await login(s, "anna", longest, LoginPolicy())).token
        async with db.session() as s:
            # Not cut to the first 1024 characters: a longer password is a wrong one.
            assert (await login(s, "anna", longest + "x", LoginPolicy())).error == "invalid"
    finally:
        await db.close()
