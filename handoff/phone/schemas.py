"""The phone's request and answer schemas: the phone system's event, a call logged by hand."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from handoff.web import Answer, Body

EventName = Literal["ringing", "answered", "ended", "missed"]
WITHHELD = frozenset({"", "withheld", "anonymous", "unknown", "private"})
NUMBER = re.compile(r"^\+?[0-9]{3,20}$")


class CallEventBody(Body):
    """One event of a call, as the phone system posts it (docs/phone.md)."""

    call_id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")
    event: EventName
    line: str = Field(default="", max_length=64)
    extension: str | None = Field(default=None, max_length=16)
    caller: str = Field(default="withheld", max_length=32)
    """The caller's number (digits, an optional leading ``+``), or ``withheld``."""
    time: datetime
    callback: bool = False
    """The caller asked to be called back (an ``ended`` or ``missed`` event)."""

    @field_validator("time", mode="before")
    @classmethod
    def _iso(cls, value: object) -> object:
        if isinstance(value, str):
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        return value

    @field_validator("time")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("time needs a time zone (an ISO 8601 time with Z or an offset)")
        return value

    @field_validator("caller")
    @classmethod
    def _number(cls, value: str) -> str:
        cleaned = value.strip().replace(" ", "").replace("-", "")
        if cleaned.lower() in WITHHELD:
            return "withheld"
        if not NUMBER.match(cleaned):
            raise ValueError("a phone number (digits, an optional +) or withheld")
        return cleaned

    @property
    def number(self) -> str | None:
        """The caller's number, None when withheld."""
        return None if self.caller == "withheld" else self.caller


class EventAnswer(Answer):
    """The event was taken (``repeat``: it had been taken before and changed nothing)."""

    ok: bool
    repeat: bool
    conversation_id: str


class ManualCallBody(Body):
    """A call logged by hand: without ``duration_seconds`` it starts now (stop it later), with it
    the call is over and goes to documentation at once."""

    duration_seconds: int | None = Field(default=None, ge=0, le=24 * 3600)


class CallAnswer(Answer):
    """The call's conversation and what is known of the call."""

    conversation_id: str
    outcome: str | None
    duration_seconds: int | None
    manual: bool
    callback: bool
    withheld: bool


class NumberAnswer(Answer):
    """The caller's number, for a callback only (audited)."""

    number: str


__all__ = [
    "CallAnswer",
    "CallEventBody",
    "EventAnswer",
    "ManualCallBody",
    "NumberAnswer",
]
