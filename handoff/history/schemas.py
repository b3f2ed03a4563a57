"""Bodies and answers of the history routes (for the web kit and the OpenAPI document)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from pydantic import Field

from handoff.web import Answer, Body, Download


class DebriefBody(Body):
    """A counsellor's short note to the supervisors about a conversation they closed."""

    note: str = Field(min_length=1, max_length=1000, pattern=r"\S")
    error_codes: ClassVar[Mapping[str, str]] = MappingProxyType({"note": "note_required"})


class EarlierEntry(Answer):
    conversation_id: str
    channel: str
    intent: str | None
    priority: str
    created_at: str | None
    closed_at: str | None
    documented: bool
    referrals: int


class PersonAnswer(Answer):
    """The Person panel: whether the person asked not to be recognised, and their earlier conversations."""

    conversation_id: str
    unlinked: bool
    earlier: list[EarlierEntry]


class EarlierAnswer(Answer):
    """One earlier conversation's documentation and referrals (never its transcript); audited."""

    conversation_id: str
    created_at: str | None
    closed_at: str | None
    intent: str | None
    priority: str
    documentation: dict[str, Any] | None
    referrals: list[dict[str, Any]]


class ForgetAnswer(Answer):
    ok: bool
    unlinked: int


class SearchAnswer(Answer):
    """One page of search results (a transcript hit names how many messages matched, not their text)."""

    kind: str
    results: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    page_size: int


class RecordAnswer(Answer):
    """A documentation record opened from the search (audited)."""

    conversation_id: str
    summary: str
    fields: dict[str, Any]


class AuditLogAnswer(Answer):
    """One page of the audit log, newest first, and the actions that occur in it."""

    events: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    page_size: int
    actions: list[str]


class DebriefAnswer(Answer):
    id: int
    conversation_id: str
    note: str


class ShiftAnswer(Answer):
    """Who handled critical conversations in the last 12 hours, and the debrief notes."""

    since: str
    critical_handled: list[dict[str, Any]]
    debriefs: list[dict[str, Any]]


class AuditCsv(Download):
    """The audit log as CSV (cells a spreadsheet would read as formulas escaped)."""

    media_type: ClassVar[str] = "text/csv"
