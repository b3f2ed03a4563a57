"""The console's input schemas (the JSON bodies its POST routes read) and its answers, for the route
table (:data:`handoff.console.ROUTES`) and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any, ClassVar

from pydantic import Field, StringConstraints

from handoff.web import Answer, Body

NonBlank = Annotated[str, StringConstraints(min_length=1, pattern=r"\S")]


# ---------------------------------------------------------------------- input
class ReplyBody(Body):
    """A counsellor's reply to the person (the pipeline refuses empty and too long text: 422)."""

    text: str
    error_codes: ClassVar[Mapping[str, str]] = MappingProxyType({"text": "text_required"})


class TypingBody(Body):
    """Whether the counsellor is typing (default true)."""

    typing: bool = True
    error_codes: ClassVar[Mapping[str, str]] = MappingProxyType({"typing": "typing_must_be_bool"})


class TransferBody(Body):
    """The user name of the colleague to hand the conversation to."""

    to: NonBlank = Field(max_length=200)
    error_codes: ClassVar[Mapping[str, str]] = MappingProxyType({"to": "to_required"})


class CloseBody(Body):
    """Why the conversation is closed (optional; the first 200 characters are kept)."""

    reason: str = ""


class CorrectionBody(Body):
    """A counsellor's correction of a message's triage: the right intent, whether it shows danger, or both."""

    intent: str | None = Field(default=None, max_length=64)
    danger: bool | None = None
    error_codes: ClassVar[Mapping[str, str]] = MappingProxyType(
        {"intent": "unknown_intent", "danger": "danger_must_be_bool"}
    )


# ---------------------------------------------------------------------- answers
class Me(Answer):
    username: str
    display_name: str


class QueueAnswer(Answer):
    """The waiting queue, the caller's own conversations and their capacity."""

    waiting: list[dict[str, Any]]
    mine: list[dict[str, Any]]
    capacity: int
    load: int
    me: Me
    queue_mode: str
    """``free`` or ``next_only`` (console.queue_mode)."""
    may_pick: bool
    """Whether the caller may claim a conversation of their choice (else only the next one)."""
    status: str
    status_auto: bool


class ConversationInfo(Answer):
    id: str
    channel: str
    state: str
    priority: str
    intent: str | None
    language: str | None
    assigned_to: str | None
    created_at: str | None
    queued_at: str | None
    unreachable: bool


class ConversationAnswer(Answer):
    """A transcript (opening it is audited) with the caller's corrections."""

    conversation: ConversationInfo
    messages: list[dict[str, Any]]
    triage: dict[str, Any] | None
    why: Any
    suggested_response: str | None
    corrections: Any
    panels: dict[str, Any] = Field(default_factory=dict)
    """The panel's other parts, each as its own route answers it (handoff.console.panels):
    ``referrals``, ``disclosures``, ``person`` where those features are installed; none in training."""


class ClaimAnswer(Answer):
    """The conversation is the caller's; ``transcript``: as ``GET`` of the conversation answers it,
    read in the claim's transaction (not in training, whose claim brings none)."""

    ok: bool
    conversation_id: str
    transcript: ConversationAnswer | None = None


class MessageAnswer(Answer):
    """The stored reply."""

    message: dict[str, Any]


class OkAnswer(Answer):
    """Done."""

    ok: bool


class ClosedAnswer(Answer):
    """Closed, with what other features bring to the close (handoff.console.panels): the
    documentation form under ``documentation`` where records are installed; none in training."""

    ok: bool
    parts: dict[str, Any] = Field(default_factory=dict)


class TransferAnswer(Answer):
    """Handed to the colleague."""

    ok: bool
    to: str


class CorrectionAnswer(Answer):
    """The stored correction (201 the first, 200 a change of it)."""

    correction: dict[str, Any]


class CannedAnswer(Answer):
    """The canned responses: titles in Swedish and English, texts also in the languages people write in."""

    language: str
    canned: list[dict[str, Any]]


class SupervisorAnswer(Answer):
    """Every active conversation and every counsellor's status and load."""

    conversations: list[dict[str, Any]]
    counsellors: list[dict[str, Any]]
    """Each with ``status`` (available, break, away), ``load`` and ``capacity``."""
    on_duty: int
    """Counsellors and supervisors whose status is available."""


class AuditAnswer(Answer):
    """The latest audit events (of one conversation with ``?conversation_id=``)."""

    events: list[dict[str, Any]]


class DeadLettersAnswer(Answer):
    """The latest dead letters: channel, reason, time; never the payload."""

    count: int
    dead_letters: list[dict[str, Any]]


__all__ = [
    "AuditAnswer",
    "CannedAnswer",
    "ClaimAnswer",
    "CloseBody",
    "ClosedAnswer",
    "ConversationAnswer",
    "CorrectionAnswer",
    "CorrectionBody",
    "DeadLettersAnswer",
    "MessageAnswer",
    "OkAnswer",
    "QueueAnswer",
    "ReplyBody",
    "SupervisorAnswer",
    "TransferAnswer",
    "TypingBody",
]
