"""Staff accounts: create, edit, disable, enable, reset the password or the second factor, delete;
each change audited (``user.*``).  Used by the admin page (:mod:`handoff.staff.web`) and by
``helpline users`` (:mod:`gateway.cli`); no aiohttp here.

A municipality account's code must name a unit of the directory (an SCB municipality code, a
Kunskapshus id or ``KH`` + its host's code), else :class:`UnknownMunicipality` names the code.
Disabling an account or resetting its password ends its sessions (the callers close their live
sockets with the token hashes returned).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import auth, twofactor
from gateway.envelope import utcnow
from gateway.errors import Conflict, InvalidInput, NotFound
from gateway.store import repo
from gateway.store.models import Base, Role, StaffUser
from handoff.directory.catalog import Directory
from handoff.referrals.units import user_units
from handoff.shift.languages import PERSON_LANGUAGES, clean_languages
from handoff.training.service import missing_required

LANGUAGES = ("sv", "en")
MAX_CAPACITY = 50


class Refused(InvalidInput):
    """Input an account cannot take: ``code`` for the page (its words are in the catalogue), the
    English sentence for the command line."""

    def __init__(self, code: str, message: str, field: str) -> None:
        super().__init__(message, {field: code})
        self.code = code


class NotNow(Conflict):
    """An action the account's state does not allow (``code`` for the page)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class UnknownMunicipality(Refused):
    """A municipality account's code that names no unit of the directory."""

    def __init__(self, value: str) -> None:
        super().__init__(
            "unknown_municipality",
            f"{value!r} is no SCB municipality code (four digits, e.g. 1480) or Kunskapshus id "
            "(e.g. kunskapshus-goteborg, or KH + the host's code) in the directory",
            "municipality_code",
        )
        self.value = value


def check_municipality(role: str, code: str | None, directory: Directory) -> str | None:
    """The code a municipality account keeps (stripped), or None for the other roles."""
    if role != Role.MUNICIPALITY.value:
        return None
    code = (code or "").strip()
    if not code:
        raise Refused(
            "municipality_required",
            "a municipality user needs a municipality code (--municipality CODE)",
            "municipality_code",
        )
    if not user_units(code, directory):
        raise UnknownMunicipality(code)
    return code


def check_spoken(values: list[str]) -> list[str]:
    """The languages an account's holder speaks with a person, as stored; at least one."""
    try:
        langs = clean_languages(values)
    except ValueError as exc:
        raise Refused(
            "bad_spoken_languages",
            f"unknown language {exc}; choose from {', '.join(PERSON_LANGUAGES)}",
            "spoken_languages",
        ) from None
    if not langs:
        raise Refused("bad_spoken_languages", "name at least one language", "spoken_languages")
    return langs


def _check_capacity(capacity: int) -> int:
    if not 0 <= capacity <= MAX_CAPACITY:
        raise Refused("bad_capacity", f"the capacity must be between 0 and {MAX_CAPACITY}", "capacity")
    return capacity


async def create(
    session: AsyncSession,
    directory: Directory,
    username: str,
    password: str,
    role: str,
    *,
    actor: StaffUser | None = None,
    display_name: str = "",
    capacity: int = 3,
    municipality_code: str | None = None,
    language: str = "sv",
    spoken_languages: list[str] | None = None,
) -> StaffUser:
    code = check_municipality(role, municipality_code, directory) if role in {r.value for r in Role} else None
    user = await auth.create_user(
        session,
        username,
        password,
        role,
        display_name=display_name,
        capacity=_check_capacity(capacity),
        municipality_code=code,
        language=language if language in LANGUAGES else "sv",
    )
    if spoken_languages is not None:
        user.spoken_languages = check_spoken(spoken_languages)
    await repo.audit(
        session, "user.created", actor=actor, details={"username": user.username, "role": user.role}
    )
    return user


async def by_name(session: AsyncSession, username: str) -> StaffUser:
    user = await repo.user_by_name(session, username.strip())
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


@dataclass(frozen=True, slots=True)
class Changes:
    """What an edit changes; None leaves a field as it is."""

    role: str | None = None
    display_name: str | None = None
    capacity: int | None = None
    municipality_code: str | None = None
    language: str | None = None
    spoken_languages: list[str] | None = None
    extension: str | None = None
    """The phone extension (handoff.phone); ``""`` removes it."""


EXTENSION = re.compile(r"^[0-9A-Za-z*#+._-]{1,16}$")


async def _check_extension(session: AsyncSession, user: StaffUser, extension: str) -> str | None:
    value = extension.strip()
    if not value:
        return None
    if not EXTENSION.match(value):
        raise Refused("bad_extension", "the extension must be 1 to 16 digits or letters", "extension")
    taken = await session.execute(
        select(StaffUser.id).where(StaffUser.extension == value, StaffUser.id != user.id)
    )
    if taken.first() is not None:
        raise Refused("extension_taken", f"extension {value} belongs to another account", "extension")
    return value


async def edit(
    session: AsyncSession, directory: Directory, user: StaffUser, changes: Changes, actor: StaffUser | None
) -> dict[str, Any]:
    """Apply ``changes``; the fields changed, before and after (also in the audit)."""
    role = changes.role if changes.role is not None else user.role
    try:
        Role(role)
    except ValueError:
        raise Refused(
            "bad_role", f"unknown role {role!r}; choose one of {', '.join(r.value for r in Role)}", "role"
        ) from None
    if actor is not None and actor.id == user.id and role != user.role:
        raise NotNow("not_yourself", "you cannot change your own role")
    if user.role == Role.TRAINEE.value and role != user.role:
        missing = await missing_required(session, user.id)
        if missing:
            raise NotNow("training_required", f"required training not done yet: {', '.join(missing)}")
    wanted: dict[str, Any] = {"role": role}
    code = changes.municipality_code if changes.municipality_code is not None else user.municipality_code
    wanted["municipality_code"] = check_municipality(role, code, directory)
    if changes.display_name is not None:
        name = changes.display_name.strip()
        if not name or len(name) > 128 or not name.isprintable():
            raise Refused(
                "bad_display_name", "the display name must be 1 to 128 printable characters", "display_name"
            )
        wanted["display_name"] = name
    if changes.capacity is not None:
        wanted["capacity"] = _check_capacity(changes.capacity)
    if changes.language is not None:
        if changes.language not in LANGUAGES:
            raise Refused("bad_language", f"the language must be one of {', '.join(LANGUAGES)}", "language")
        wanted["language"] = changes.language
    if changes.spoken_languages is not None:
        wanted["spoken_languages"] = check_spoken(changes.spoken_languages)
    if changes.extension is not None:
        wanted["extension"] = await _check_extension(session, user, changes.extension)
    changed = {
        key: {"before": getattr(user, key), "after": value}
        for key, value in wanted.items()
        if getattr(user, key) != value
    }
    for key, value in wanted.items():
        setattr(user, key, value)
    if changed:
        await repo.audit(
            session, "user.edited", actor=actor, details={"username": user.username, "changed": changed}
        )
    return changed


def _not_yourself(user: StaffUser, actor: StaffUser | None, what: str) -> None:
    if actor is not None and actor.id == user.id:
        raise NotNow("not_yourself", f"you cannot {what} your own account")


async def disable(session: AsyncSession, user: StaffUser, actor: StaffUser | None) -> list[str]:
    """Disable the account and end its sessions at once; the token hashes ended."""
    _not_yourself(user, actor, "disable")
    user.active = False
    ended = await auth.end_sessions(session, user.id)
    await repo.audit(
        session,
        "user.disabled",
        actor=actor,
        details={"username": user.username, "sessions_ended": len(ended)},
    )
    return ended


async def enable(session: AsyncSession, user: StaffUser, actor: StaffUser | None) -> None:
    user.active = True
    user.failed_logins = 0
    user.locked_until = None
    await repo.audit(session, "user.enabled", actor=actor, details={"username": user.username})


def temporary_password() -> str:
    """A password for a reset made on the admin page, shown once to the admin (about 100 bits)."""
    return "-".join(secrets.token_urlsafe(6) for _ in range(4))


async def reset_password(
    session: AsyncSession, user: StaffUser, password: str, actor: StaffUser | None
) -> list[str]:
    """Set a new password (the policy applies), lift a lockout, end the account's sessions."""
    user.password_hash = await auth.hash_password_async(password)
    user.failed_logins = 0
    user.locked_until = None
    ended = await auth.end_sessions(session, user.id)
    await repo.audit(session, "user.password_reset", actor=actor, details={"username": user.username})
    return ended


async def reset_second_factor(session: AsyncSession, user: StaffUser, actor: StaffUser | None) -> list[str]:
    """Remove the account's second factor (a lost phone); its sessions end.  A supervisor or admin
    enrols again at the next login."""
    await twofactor.reset(session, user)
    ended = await auth.end_sessions(session, user.id)
    await repo.audit(session, "user.second_factor_reset", actor=actor, details={"username": user.username})
    return ended


async def end_sessions(session: AsyncSession, user: StaffUser, actor: StaffUser | None) -> list[str]:
    ended = await auth.end_sessions(session, user.id)
    await repo.audit(
        session, "user.sessions_ended", actor=actor, details={"username": user.username, "count": len(ended)}
    )
    return ended


async def _has_records(session: AsyncSession, user_id: int) -> bool:
    """Whether any row (a message written, a referral, a disclosure...) names the user in a
    foreign key that does not go with the account (not ``ON DELETE CASCADE``)."""
    for table in Base.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name != "staff_users" or (fk.ondelete or "").upper() == "CASCADE":
                continue
            if (await session.execute(select(exists().where(fk.parent == user_id)))).scalar():
                return True
    return False


async def delete(session: AsyncSession, user: StaffUser, actor: StaffUser | None) -> list[str]:
    """Delete an account that left no records; one that did is refused (disable it instead), so
    that the records keep saying who did what."""
    _not_yourself(user, actor, "delete")
    if await _has_records(session, user.id):
        raise NotNow(
            "has_records",
            f"{user.username!r} has records (messages, referrals, ...): disable the account instead",
        )
    ended = await auth.end_sessions(session, user.id)
    await repo.audit(
        session, "user.deleted", actor=actor, details={"username": user.username, "role": user.role}
    )
    await session.delete(user)
    await session.flush()
    return ended


def describe(user: StaffUser) -> dict[str, Any]:
    """One account as the admin page and ``helpline users list`` show it."""
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "capacity": user.capacity,
        "municipality_code": user.municipality_code,
        "language": user.language,
        "spoken_languages": list(user.spoken_languages or []),
        "extension": user.extension,
        "active": user.active,
        "second_factor": user.totp_enabled_at is not None,
        "locked": user.locked_until is not None and user.locked_until > utcnow(),
        "last_login_at": user.last_login_at.isoformat() if user.last_login_at else None,
        "created_at": user.created_at.isoformat(),
    }
