"""Staff accounts: argon2 password hashes, roles, lockout, server-side sessions and CSRF tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.envelope import utcnow
from gateway.errors import Conflict, InvalidInput
from gateway.store import repo
from gateway.store.models import Role, StaffSession, StaffUser

_hasher = PasswordHasher()
MIN_PASSWORD_LENGTH = 10
# Verifying against this keeps the time of a login for an unknown user like that of a known one.
_DUMMY_HASH = _hasher.hash("not-a-real-password-at-all")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_user(
    session: AsyncSession,
    username: str,
    password: str,
    role: str,
    *,
    display_name: str = "",
    capacity: int = 3,
    municipality_code: str | None = None,
    language: str = "sv",
) -> StaffUser:
    username = username.strip()
    if (
        not username
        or len(username) > 64
        or not username.replace(".", "").replace("-", "").replace("_", "").isalnum()
    ):
        raise InvalidInput("the user name may hold letters, digits, '.', '-' and '_' (1 to 64)")
    try:
        Role(role)
    except ValueError:
        raise InvalidInput(
            f"unknown role {role!r}; choose one of {', '.join(r.value for r in Role)}"
        ) from None
    if role == Role.MUNICIPALITY.value and not municipality_code:
        raise InvalidInput("a municipality user needs --municipality CODE")
    if await repo.user_by_name(session, username) is not None:
        raise Conflict(f"user {username!r} exists already")
    user = StaffUser(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role,
        capacity=capacity,
        municipality_code=municipality_code,
        language=language,
        active=True,
        failed_logins=0,
        created_at=utcnow(),
    )
    session.add(user)
    await session.flush()
    return user


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    max_attempts: int = 5
    lockout: timedelta = timedelta(minutes=15)
    session_lifetime: timedelta = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class LoginResult:
    user: StaffUser | None
    token: str | None = None
    csrf: str | None = None
    error: str | None = None  # "invalid" | "locked"


async def login(session: AsyncSession, username: str, password: str, policy: LoginPolicy) -> LoginResult:
    now = utcnow()
    user = await repo.user_by_name(session, username.strip())
    if user is None or not user.active:
        verify_password(_DUMMY_HASH, password)
        await repo.audit(session, "auth.login_failed", details={"reason": "unknown_user"})
        return LoginResult(None, error="invalid")
    if user.locked_until is not None and user.locked_until > now:
        await repo.audit(session, "auth.login_locked", actor=user)
        return LoginResult(None, error="locked")
    if not verify_password(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= policy.max_attempts:
            user.locked_until = now + policy.lockout
            user.failed_logins = 0
            await repo.audit(session, "auth.locked_out", actor=user)
            return LoginResult(None, error="locked")
        await repo.audit(session, "auth.login_failed", actor=user)
        return LoginResult(None, error="invalid")
    user.failed_logins = 0
    user.locked_until = None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            token_hash=_token_hash(token),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
            expires_at=now + policy.session_lifetime,
        )
    )
    await repo.audit(session, "auth.login", actor=user)
    return LoginResult(user, token=token, csrf=csrf)


async def session_user(session: AsyncSession, token: str) -> tuple[StaffUser, StaffSession] | None:
    row = await session.get(StaffSession, _token_hash(token))
    now = utcnow()
    if row is None or row.expires_at <= now:
        return None
    user = await session.get(StaffUser, row.user_id)
    if user is None or not user.active:
        return None
    row.last_seen_at = now
    return user, row


async def session_alive(session: AsyncSession, token_hash: str) -> bool:
    """Whether the session with this token hash is still valid: one read, nothing written."""
    found = await session.execute(
        select(StaffSession.token_hash)
        .join(StaffUser, StaffUser.id == StaffSession.user_id)
        .where(
            StaffSession.token_hash == token_hash,
            StaffSession.expires_at > utcnow(),
            StaffUser.active.is_(True),
        )
    )
    return found.first() is not None


async def logout(session: AsyncSession, token: str) -> None:
    await session.execute(delete(StaffSession).where(StaffSession.token_hash == _token_hash(token)))


async def purge_expired_sessions(session: AsyncSession) -> None:
    await session.execute(delete(StaffSession).where(StaffSession.expires_at <= utcnow()))


async def list_users(session: AsyncSession) -> list[StaffUser]:
    return list((await session.execute(select(StaffUser).order_by(StaffUser.username))).scalars().all())
