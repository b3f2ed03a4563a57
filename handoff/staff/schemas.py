"""The staff pages' input schemas and answers (:mod:`handoff.staff.web`, :mod:`handoff.staff.account_web`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from handoff.web import Answer, Body

RoleName = Literal["counsellor", "supervisor", "admin", "municipality", "trainee"]
LanguageCode = Literal["sv", "en"]


# ---------------------------------------------------------------------- input
class CreateUserBody(Body):
    """A new account; its first password is made here and shown once to the admin."""

    username: str = Field(min_length=1, max_length=64)
    role: RoleName
    display_name: str = Field(default="", max_length=128)
    capacity: int = Field(default=3, ge=0, le=50)
    municipality_code: str = Field(default="", max_length=64)
    language: LanguageCode = "sv"
    spoken_languages: list[str] = Field(default_factory=lambda: ["sv", "en"], max_length=20)
    """The languages the holder speaks with a person (codes: sv, en, ar, fa, so, ti, tr, ku, bs, hr, sr, ru)."""


class EditUserBody(Body):
    """What an admin changes of an account; a field left out stays as it is."""

    role: RoleName | None = None
    display_name: str | None = Field(default=None, max_length=128)
    capacity: int | None = Field(default=None, ge=0, le=50)
    municipality_code: str | None = Field(default=None, max_length=64)
    language: LanguageCode | None = None
    spoken_languages: list[str] | None = Field(default=None, max_length=20)
    extension: str | None = Field(default=None, max_length=16)
    """The phone extension (calls answered there open on this account's console); "" removes it."""


class CodeBody(Body):
    """A code of the second factor (six digits)."""

    code: str = Field(min_length=1, max_length=40)


# ---------------------------------------------------------------------- answers
class Account(Answer):
    id: int
    username: str
    display_name: str
    role: str
    capacity: int
    municipality_code: str | None
    language: str
    spoken_languages: list[str]
    extension: str | None
    active: bool
    second_factor: bool
    locked: bool
    last_login_at: str | None
    created_at: str


class AccountsAnswer(Answer):
    users: list[Account]


class AccountAnswer(Answer):
    user: Account


class PasswordAnswer(Answer):
    """A password made for the account, shown to the admin once."""

    user: Account
    password: str


class EndedAnswer(Answer):
    ok: bool
    ended: int


class SessionRow(Answer):
    id: str
    created_at: str
    last_seen_at: str
    browser: str
    current: bool


class SessionsAnswer(Answer):
    sessions: list[SessionRow]
    second_factor: bool
    second_factor_required: bool
    recovery_codes_left: int


class EnrolmentAnswer(Answer):
    secret: str
    uri: str
    qr_svg: str


class RecoveryCodesAnswer(Answer):
    recovery_codes: list[str]
