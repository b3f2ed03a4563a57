"""Staff accounts: argon2 password hashes, roles, lockout, server-side sessions and CSRF tokens."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import bindparam, case, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import passwords
from gateway.config import Settings
from gateway.envelope import utcnow
from gateway.errors import Conflict, InvalidInput
from gateway.passwords import MAX_PASSWORD_LENGTH
from gateway.store import repo
from gateway.store.models import Role, StaffSession, StaffUser


@dataclass(frozen=True)
class HashCost:
    """argon2id's cost (``console.password_*``); the default is RFC 9106's low-memory profile."""

    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 4

    @classmethod
    def from_settings(cls, settings: Settings) -> HashCost:
        c = settings.section("console")
        return cls(
            int(c["password_time_cost"]), int(c["password_memory_kib"]), int(c["password_parallelism"])
        )


class _Hashing:
    """The process's hasher, set from the configuration by :func:`configure_hashing`."""

    def __init__(self, cost: HashCost) -> None:
        self.cost = cost
        self.hasher = PasswordHasher(
            time_cost=cost.time_cost, memory_cost=cost.memory_kib, parallelism=cost.parallelism
        )
        # Verifying against this keeps the time of a login for an unknown user like that of a known one.
        self.dummy = self.hasher.hash("not-a-real-password-at-all")


_hashing: _Hashing | None = None


def _current() -> _Hashing:
    global _hashing
    if _hashing is None:
        _hashing = _Hashing(HashCost())
    return _hashing


def configure_hashing(cost: HashCost) -> None:
    """Hash with ``cost`` from now on in this process (``create_app`` and the CLI call it).  Hashes
    made before keep verifying: argon2 writes its parameters into each hash."""
    global _hashing
    if _hashing is None or _hashing.cost != cost:
        _hashing = _Hashing(cost)


def hashing_cost() -> HashCost:
    return _current().cost


def hash_password(password: str) -> str:
    passwords.check(password)
    return _current().hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _current().hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def _verify(stored: str | None, password: str) -> bool:
    """``verify_password`` in a worker thread: argon2 takes a fifth of a second by design and
    releases the GIL, so a login no longer stalls every visitor's socket for that long.
    ``stored`` None verifies against the dummy hash (a refusal that costs the same)."""
    hashing = _current()
    return await asyncio.to_thread(verify_password, hashing.dummy if stored is None else stored, password)


async def hash_password_async(password: str) -> str:
    passwords.check(password)  # a refusal says why at once, without a thread
    return await asyncio.to_thread(hash_password, password)


def token_hash(token: str) -> str:
    """What a session's token is stored and looked up as."""
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
        password_hash=await hash_password_async(password),
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


SECOND_FACTOR_ROLES = frozenset({Role.SUPERVISOR.value, Role.ADMIN.value})
PENDING_LIFETIME = timedelta(minutes=10)
"""How long the second step of a login (the code, or enrolment) may take after the password."""
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
"""A session's last_seen_at is written at most this often (not on every authenticated request)."""


@dataclass(frozen=True, slots=True)
class LoginPolicy:
    max_attempts: int = 5
    lockout: timedelta = timedelta(minutes=15)
    session_lifetime: timedelta = timedelta(hours=12)
    second_factor_roles: frozenset[str] = SECOND_FACTOR_ROLES
    """Roles that must have a second factor: they enrol at their next login before anything else."""


@dataclass(frozen=True, slots=True)
class LoginResult:
    user: StaffUser | None
    token: str | None = None
    csrf: str | None = None
    error: str | None = None  # "invalid" | "locked"
    pending: str | None = None
    """None: signed in; ``code``: the second factor is asked next; ``enrol``: enrolment is."""


def wants_second_step(user: StaffUser, policy: LoginPolicy) -> str | None:
    if user.totp_enabled_at is not None:
        return "code"
    if user.role in policy.second_factor_roles:
        return "enrol"
    return None


def _new_session(
    session: AsyncSession, user: StaffUser, lifetime: timedelta, pending: str | None, browser: str
) -> tuple[str, str]:
    now = utcnow()
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            token_hash=token_hash(token),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
            pending=pending,
            browser=browser[:64],
        )
    )
    if pending is None:
        user.last_login_at = now
    return token, csrf


async def _count_failure(session: AsyncSession, user_id: int, policy: LoginPolicy) -> bool:
    """Count one wrong password in one statement; True when it locked the account.

    ``failed_logins = failed_logins + 1`` in the database, not a value read before: concurrent
    attempts (in this process or another) each count, so N wrong passwords at once lock the account
    just as N in a row do.
    """
    now = utcnow()
    reaches = StaffUser.failed_logins + 1 >= policy.max_attempts
    row = (
        await session.execute(
            update(StaffUser)
            .where(StaffUser.id == user_id)
            .values(
                failed_logins=case((reaches, 0), else_=StaffUser.failed_logins + 1),
                locked_until=case((reaches, now + policy.lockout), else_=StaffUser.locked_until),
            )
            .returning(StaffUser.locked_until)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    return row is not None and row[0] is not None and row[0] > now


async def _clear_failures(session: AsyncSession, user_id: int) -> bool:
    """Reset the count after the right password, unless a concurrent attempt locked the account
    meanwhile (then False: the login is refused like any other of a locked account)."""
    now = utcnow()
    row = (
        await session.execute(
            update(StaffUser)
            .where(
                StaffUser.id == user_id,
                or_(StaffUser.locked_until.is_(None), StaffUser.locked_until <= now),
            )
            .values(failed_logins=0, locked_until=None)
            .returning(StaffUser.id)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    return row is not None


async def login(
    session: AsyncSession, username: str, password: str, policy: LoginPolicy, *, browser: str = ""
) -> LoginResult:
    """Check a login.  Every refusal costs one argon2 verification, so unknown, locked and known
    accounts take the same time; the console shows one message for all of them.

    With the right password a user with a second factor (or whose role needs one) gets a *pending*
    session: it opens nothing but the second step (:func:`complete_login`)."""
    now = utcnow()
    if len(password) > MAX_PASSWORD_LENGTH:
        await _verify(None, password[:MAX_PASSWORD_LENGTH])
        await repo.audit(session, "auth.login_failed", details={"reason": "too_long"})
        return LoginResult(None, error="invalid")
    user = await repo.user_by_name(session, username.strip())
    if user is None or not user.active:
        await _verify(None, password)
        await repo.audit(session, "auth.login_failed", details={"reason": "unknown_user"})
        return LoginResult(None, error="invalid")
    if user.locked_until is not None and user.locked_until > now:
        await _verify(None, password)
        await repo.audit(session, "auth.login_locked", actor=user)
        return LoginResult(None, error="locked")
    if not await _verify(user.password_hash, password):
        if await _count_failure(session, user.id, policy):
            await repo.audit(session, "auth.locked_out", actor=user)
            return LoginResult(None, error="locked")
        await repo.audit(session, "auth.login_failed", actor=user)
        return LoginResult(None, error="invalid")
    if not await _clear_failures(session, user.id):
        await repo.audit(session, "auth.login_locked", actor=user)
        return LoginResult(None, error="locked")
    if _current().hasher.check_needs_rehash(user.password_hash):
        user.password_hash = await hash_password_async(password)
    pending = wants_second_step(user, policy)
    lifetime = policy.session_lifetime if pending is None else PENDING_LIFETIME
    token, csrf = _new_session(session, user, lifetime, pending, browser)
    if pending is None:
        await repo.audit(session, "auth.login", actor=user)
    else:
        await repo.audit(session, "auth.password_ok", actor=user, details={"next": pending})
    return LoginResult(user, token=token, csrf=csrf, pending=pending)


async def pending_login(session: AsyncSession, token: str) -> tuple[StaffUser, StaffSession] | None:
    """The user and pending session of a login halfway (the password given, the second step not)."""
    row = await session.get(StaffSession, token_hash(token))
    if row is None or row.pending is None or row.expires_at <= utcnow():
        return None
    user = await session.get(StaffUser, row.user_id)
    if user is None or not user.active:
        return None
    return user, row


async def complete_login(
    session: AsyncSession, user: StaffUser, pending: StaffSession, policy: LoginPolicy, how: str
) -> LoginResult:
    """The second step succeeded: the pending session is replaced by a real one with a new token
    (the token that saw only the password never becomes a signed-in session)."""
    await session.execute(delete(StaffSession).where(StaffSession.token_hash == pending.token_hash))
    token, csrf = _new_session(session, user, policy.session_lifetime, None, pending.browser)
    await repo.audit(session, "auth.login", actor=user, details={"second_factor": how})
    return LoginResult(user, token=token, csrf=csrf)


_SESSION_USER = (
    select(StaffSession, StaffUser)
    .join(StaffUser, StaffUser.id == StaffSession.user_id)
    .where(StaffSession.token_hash == bindparam("token_hash"))
)


async def session_user(
    session: AsyncSession, token: str, *, touch: bool = True
) -> tuple[StaffUser, StaffSession] | None:
    """The user and session of a token; with ``touch``, ``last_seen_at`` is set in ``session``
    when :func:`touch_due` (without, the caller does it: :func:`touch_session`)."""
    # One statement for both rows: every request of the console passes here, and on SQLite a
    # second round trip through the driver cost about a third of a plain read's CPU.
    found = (await session.execute(_SESSION_USER, {"token_hash": token_hash(token)})).first()
    if found is None:
        return None
    row, user = found
    now = utcnow()
    if row.expires_at <= now or row.pending is not None or not user.active:
        return None
    if touch and touch_due(row):
        row.last_seen_at = now
    return user, row


def touch_due(row: StaffSession) -> bool:
    """Whether the session's ``last_seen_at`` is to be written: not on every request, at most
    every :data:`LAST_SEEN_RESOLUTION` (the staff's session list shows it to the minute)."""
    return utcnow() - row.last_seen_at >= LAST_SEEN_RESOLUTION


async def touch_session(session: AsyncSession, token_hash: str) -> None:
    """Write a session's ``last_seen_at`` (one UPDATE)."""
    await session.execute(
        update(StaffSession).where(StaffSession.token_hash == token_hash).values(last_seen_at=utcnow())
    )


async def session_alive(session: AsyncSession, token_hash: str) -> bool:
    """Whether the session with this token hash is still valid: one read, nothing written."""
    found = await session.execute(
        select(StaffSession.token_hash)
        .join(StaffUser, StaffUser.id == StaffSession.user_id)
        .where(
            StaffSession.token_hash == token_hash,
            StaffSession.expires_at > utcnow(),
            StaffSession.pending.is_(None),
            StaffUser.active.is_(True),
        )
    )
    return found.first() is not None


async def logout(session: AsyncSession, token: str) -> None:
    await session.execute(delete(StaffSession).where(StaffSession.token_hash == token_hash(token)))


async def purge_expired_sessions(session: AsyncSession) -> None:
    await session.execute(delete(StaffSession).where(StaffSession.expires_at <= utcnow()))


async def sessions_of(session: AsyncSession, user_id: int) -> list[StaffSession]:
    """The user's signed-in sessions that have not expired, the most recently seen first."""
    rows = await session.execute(
        select(StaffSession)
        .where(
            StaffSession.user_id == user_id,
            StaffSession.pending.is_(None),
            StaffSession.expires_at > utcnow(),
        )
        .order_by(StaffSession.last_seen_at.desc())
    )
    return list(rows.scalars().all())


async def end_sessions(session: AsyncSession, user_id: int, token_hash: str | None = None) -> list[str]:
    """End one session of the user (``token_hash``) or all of them, pending ones included; the
    token hashes ended, so that their live sockets can be closed."""
    stmt = delete(StaffSession).where(StaffSession.user_id == user_id)
    if token_hash is not None:
        stmt = stmt.where(StaffSession.token_hash == token_hash)
    ended = await session.execute(stmt.returning(StaffSession.token_hash))
    return [row[0] for row in ended.all()]


async def list_users(session: AsyncSession) -> list[StaffUser]:
    return list((await session.execute(select(StaffUser).order_by(StaffUser.username))).scalars().all())
