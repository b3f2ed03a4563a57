"""Enrolling a second factor (TOTP): the secret, its ``otpauth://`` address and QR code, the first
code that confirms it, and the recovery codes shown once.  Used by the login's enrolment step
(:mod:`handoff.console.second_step`) and the account page (:mod:`handoff.staff.account_web`)."""

from __future__ import annotations

from dataclasses import dataclass

import segno
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import twofactor
from gateway.crypto import ContactCipher
from gateway.envelope import utcnow
from gateway.errors import Conflict, InvalidInput
from gateway.store import repo
from gateway.store.models import StaffUser


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str
    uri: str
    qr_svg: str
    """An SVG of the QR code of ``uri``, made here (segno), so no third party sees the secret."""


def qr_svg(uri: str) -> str:
    return str(segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff"))


async def start(session: AsyncSession, user: StaffUser, box: ContactCipher) -> Enrolment:
    """The secret being enrolled: the one already started (a reloaded page shows the same code to
    scan), else a new one, stored encrypted until a code confirms it."""
    if user.totp_enabled_at is not None:
        raise Conflict("a second factor is enrolled already")
    if user.totp_secret is not None:
        secret = box.decrypt(user.totp_secret)
    else:
        secret = twofactor.new_secret()
        user.totp_secret = box.encrypt(secret)
        user.totp_last_step = None
        await repo.audit(session, "user.second_factor_started", actor=user)
    uri = twofactor.provisioning_uri(secret, user.username)
    return Enrolment(secret, uri, qr_svg(uri))


async def confirm(session: AsyncSession, user: StaffUser, box: ContactCipher, code: str) -> list[str]:
    """Enable the second factor with its first code; the ten recovery codes, to be shown once."""
    if user.totp_enabled_at is not None:
        raise Conflict("a second factor is enrolled already")
    if user.totp_secret is None or not await twofactor.check_code(session, user, code, box):
        raise InvalidInput("wrong code")
    user.totp_enabled_at = utcnow()
    codes = await twofactor.new_recovery_codes(session, user.id)
    await repo.audit(session, "user.second_factor_enrolled", actor=user)
    return codes


async def turn_off(
    session: AsyncSession, user: StaffUser, box: ContactCipher, code: str, required: frozenset[str]
) -> None:
    """A counsellor or municipality user turns their own second factor off, with a current code."""
    if user.role in required:
        raise Conflict("your role must keep a second factor")
    if user.totp_enabled_at is None:
        raise Conflict("no second factor is enrolled")
    if not await twofactor.check_code(session, user, code, box):
        raise InvalidInput("wrong code")
    await twofactor.reset(session, user)
    await repo.audit(session, "user.second_factor_off", actor=user)
