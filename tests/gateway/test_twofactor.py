"""gateway.twofactor on its own, on SQLite and PostgreSQL: a code is taken for the step before, of
and after the clock and never for a step used already; a recovery code is spent once, also by two
logins at the same moment; the TOTP key is kept encrypted and the reset removes everything."""

from __future__ import annotations

import asyncio

import pyotp
import pytest

from gateway import twofactor
from gateway.auth import create_user
from gateway.store.db import Database
from gateway.store.models import StaffUser

BOX = twofactor.cipher(b"c" * 32)


async def enrolled(db: Database) -> tuple[int, str]:
    secret = twofactor.new_secret()
    async with db.session() as session:
        user = await create_user(session, "sara", "correct horse battery", "supervisor")
        user.totp_secret = BOX.encrypt(secret)
        return user.id, secret


async def check(db: Database, user_id: int, code: str) -> bool:
    async with db.session() as session:
        user = await session.get(StaffUser, user_id)
        assert user is not None
        return await twofactor.check_code(session, user, code, BOX)


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).at(step * twofactor.STEP)


async def test_a_code_is_taken_within_one_step_of_the_clock_and_only_once(db: Database) -> None:
    user_id, secret = await enrolled(db)
    now = twofactor.current_step()
    assert not await check(db, user_id, code_at(secret, now - 2))  # too old
    assert not await check(db, user_id, code_at(secret, now + 3))  # too far ahead
    assert not await check(db, user_id, "12345") and not await check(db, user_id, "abcdef")
    assert await check(db, user_id, code_at(secret, now - 1))
    assert not await check(db, user_id, code_at(secret, now - 1))  # replayed
    assert await check(db, user_id, code_at(secret, now))
    assert not await check(db, user_id, code_at(secret, now - 1))  # an earlier step after a later one
    assert await check(db, user_id, code_at(secret, now + 1)[:3] + " " + code_at(secret, now + 1)[3:])


async def test_recovery_codes_are_hashed_and_each_spent_once_even_at_the_same_moment(db: Database) -> None:
    user_id, _ = await enrolled(db)
    async with db.session() as session:
        codes = await twofactor.new_recovery_codes(session, user_id)
    assert len(codes) == twofactor.RECOVERY_CODES == len(set(codes))

    async def use(code: str) -> bool:
        async with db.session() as session:
            return await twofactor.use_recovery_code(session, user_id, code)

    results = await asyncio.gather(*(use(codes[0]) for _ in range(3)))
    assert sorted(results) == [False, False, True]
    assert not await use("not-a-code-at-all")
    assert await use(codes[1].upper().replace("-", " "))  # as read aloud or typed from paper
    async with db.session() as session:
        assert await twofactor.recovery_codes_left(session, user_id) == 8
        user = await session.get(StaffUser, user_id)
        assert user is not None and user.totp_secret is not None
        await twofactor.reset(session, user)
    async with db.session() as session:
        assert await twofactor.recovery_codes_left(session, user_id) == 0
        user = await session.get(StaffUser, user_id)
        assert user is not None and user.totp_secret is None and user.totp_enabled_at is None


def test_the_key_is_encrypted_under_a_key_of_its_own_and_the_address_names_the_line() -> None:
    secret = twofactor.new_secret()
    sealed = BOX.encrypt(secret)
    assert secret.encode() not in sealed and BOX.decrypt(sealed) == secret
    # Not the contact records' key itself: a contact cipher cannot read it.
    from gateway.crypto import ContactCipher
    from gateway.errors import StoreError

    with pytest.raises(StoreError):
        ContactCipher(b"c" * 32).decrypt(sealed)
    uri = twofactor.provisioning_uri(secret, "sara.s")
    assert uri.startswith("otpauth://totp/") and "secret=" + secret in uri and "issuer=St" in uri
