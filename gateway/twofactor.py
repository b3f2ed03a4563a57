"""The second factor of staff logins: TOTP (RFC 6238, 30 s steps, 6 digits) and recovery codes.

The TOTP secret is kept encrypted with the contact key's mechanism (:class:`gateway.crypto.ContactCipher`,
Fernet) under a key derived from the contact key for this one purpose, so that a leaked database
gives no one the secrets; ``helpline keys rotate contact`` re-encrypts them with the contact records.

A code is accepted for the step before, the step of and the step after the server's clock (a
phone's clock may be a little off), and only for a step later than the last one accepted
(``staff_users.totp_last_step``, moved in one conditional UPDATE): a code seen by someone looking
over a shoulder cannot be used again, not even by a second login at the same moment.

Recovery codes: ten per enrolment, each used once, stored argon2-hashed.  They are 16 random
characters (80 bits), so a light argon2 setting suffices and keeps enrolment fast.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence
from urllib.parse import quote

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.crypto import ContactCipher
from gateway.envelope import utcnow
from gateway.store.models import StaffRecoveryCode, StaffUser

STEP = 30
ISSUER = "Stödlinjen"
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud or typed from paper
_recovery_hasher = PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1)


def _purpose_key(contact_key: bytes) -> bytes:
    return hmac.new(contact_key, b"helpline staff totp secret\0", hashlib.sha256).digest()


def cipher(contact_key: bytes, previous: Sequence[bytes] = ()) -> ContactCipher:
    """The cipher of TOTP secrets: the contact cipher under keys derived from the contact keys."""
    return ContactCipher(_purpose_key(contact_key), [_purpose_key(k) for k in previous])


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    """The ``otpauth://`` address an authenticator app reads (as text or from the QR code)."""
    return pyotp.TOTP(secret, interval=STEP).provisioning_uri(name=quote(username), issuer_name=ISSUER)


def current_step(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // STEP)


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The step (of the one before, now and the one after) whose code ``code`` is, or None."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, interval=STEP)
    step = current_step(now)
    for candidate in (step - 1, step, step + 1):
        if hmac.compare_digest(totp.at(candidate * STEP), code):
            return candidate
    return None


async def claim_step(session: AsyncSession, user_id: int, step: int) -> bool:
    """Record ``step`` as used; False when it (or a later one) was used already: a replay."""
    row = (
        await session.execute(
            update(StaffUser)
            .where(
                StaffUser.id == user_id,
                or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < step),
            )
            .values(totp_last_step=step)
            .returning(StaffUser.id)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    return row is not None


async def check_code(session: AsyncSession, user: StaffUser, code: str, box: ContactCipher) -> bool:
    """A TOTP code of the user's secret, not used before."""
    if user.totp_secret is None:
        return False
    step = matching_step(box.decrypt(user.totp_secret), code)
    return step is not None and await claim_step(session, user.id, step)


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def _fold(code: str) -> str:
    return code.strip().lower().replace("-", "").replace(" ", "")


async def new_recovery_codes(session: AsyncSession, user_id: int) -> list[str]:
    """Replace the user's recovery codes with ten new ones; the codes in clear, to be shown once."""
    await session.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.user_id == user_id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    for code in codes:
        session.add(StaffRecoveryCode(user_id=user_id, code_hash=_recovery_hasher.hash(_fold(code))))
    await session.flush()
    return codes


async def use_recovery_code(session: AsyncSession, user_id: int, code: str) -> bool:
    """Spend one unused recovery code of the user; False when none matches."""
    folded = _fold(code)
    if len(folded) != 16:
        return False
    unused = (
        await session.execute(
            select(StaffRecoveryCode).where(
                StaffRecoveryCode.user_id == user_id, StaffRecoveryCode.used_at.is_(None)
            )
        )
    ).scalars()
    for row in unused:
        try:
            _recovery_hasher.verify(row.code_hash, folded)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            continue
        # Conditional, so two logins with one code at the same moment spend it once.
        spent = await session.execute(
            update(StaffRecoveryCode)
            .where(StaffRecoveryCode.id == row.id, StaffRecoveryCode.used_at.is_(None))
            .values(used_at=utcnow())
            .returning(StaffRecoveryCode.id)
            .execution_options(synchronize_session=False)
        )
        return spent.one_or_none() is not None
    return False


async def recovery_codes_left(session: AsyncSession, user_id: int) -> int:
    rows = await session.execute(
        select(StaffRecoveryCode.id).where(
            StaffRecoveryCode.user_id == user_id, StaffRecoveryCode.used_at.is_(None)
        )
    )
    return len(rows.all())


async def reset(session: AsyncSession, user: StaffUser) -> None:
    """Remove the user's second factor (an admin's reset): secret, step and recovery codes."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    await session.execute(delete(StaffRecoveryCode).where(StaffRecoveryCode.user_id == user.id))
