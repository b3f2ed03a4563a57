"""The records' input schemas (the JSON bodies of the close form and the erasure) and their answers,
for the route table (:data:`handoff.records.web.ROUTES`) and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict

from handoff.web import Answer, Body


# ---------------------------------------------------------------------- input
class DocumentationBody(Body):
    """The close form's values: ``{"values": {field: value}}`` (or the values themselves, without
    ``values``).  Each field is checked against the guidelines by the handler, which names every
    missing or wrong one (422 ``invalid``)."""

    model_config = ConfigDict(strict=True, extra="allow")
    values: dict[str, Any] | None = None

    def form_values(self) -> dict[str, Any]:
        """The values: ``values``, else the body's other keys."""
        return self.values if self.values is not None else dict(self.model_extra or {})


class EraseBody(Body):
    """Why the conversation is erased (audited)."""

    reason: str = "person_request"


# ---------------------------------------------------------------------- answers
class DocumentationFormAnswer(Answer):
    """The close form: its fields (labels in Swedish and English, allowed values) and the saved or
    prefilled values (opening it is audited)."""

    conversation_id: str
    state: str
    intent: str | None
    channel: str | None = None
    closed_at: str | None = None
    """When it was closed (the pending list's entry for it); none in training."""
    can_document: bool
    guidelines_version: Any
    fields: list[dict[str, Any]]
    mandatory: list[str]
    values: dict[str, Any]
    source: str
    documented_at: str | None
    language: str


class DocumentationSavedAnswer(Answer):
    """The documentation is saved."""

    ok: bool
    state: str
    created: bool
    redacted: list[str]
    documented_at: str


class ErasedAnswer(Answer):
    """The conversation is erased: what was deleted."""

    ok: bool
    messages: int
    contact_record: int
    documentation_summary_cleared: bool


class PendingAnswer(Answer):
    """Closed conversations still to be documented, newest close first."""

    pending: list[dict[str, Any]]
    more: bool
    supervisor: bool


class SituationAnswer(Answer):
    """The local situational picture (``format=json``; ``csv`` and ``html`` are downloads)."""

    kind: str
    title: dict[str, str]
    period: dict[str, str]
    area: dict[str, Any] | None
    generated_at: str
    time_zone: dict[str, Any]
    suppression: dict[str, Any]
    dimensions: list[dict[str, Any]]


__all__ = [
    "DocumentationBody",
    "DocumentationFormAnswer",
    "DocumentationSavedAnswer",
    "EraseBody",
    "ErasedAnswer",
    "PendingAnswer",
    "SituationAnswer",
]
