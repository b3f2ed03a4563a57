"""Documentation of closed conversations under the guidelines (``handoff/data/documentation.yml``).

* :func:`documentation_form` gives the console the form: every field with its labels (Swedish first,
  English second) and allowed values, and the values to show: the saved record if there is one,
  else suggestions from the conversation's triage intent and its audit events (referrals,
  disclosures), see :func:`handoff.records.guideline_checks.prefill`.
* :func:`save_documentation` validates a record with :func:`handoff.records.guideline_checks.validate_record`,
  redacts every free-text field with :func:`handoff.records.redaction.redact` and stores it; the
  conversation goes from ``closed`` to ``documented`` in the same transaction.  A record with any
  error is refused as a whole (:class:`DocumentationInvalid`, listing each field) and nothing is
  stored: only complete records exist.  A documented conversation's record can be corrected the
  same way (audited as ``documentation.updated``).
* :func:`erase_conversation` is the erasure on request (by a supervisor), see its docstring.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.conversation import move
from gateway.envelope import utcnow
from gateway.errors import Conflict, HelplineError, PermissionDenied
from gateway.outbox import erase_conversation_events
from gateway.store import action_keys, repo
from gateway.store.models import (
    AuditEvent,
    ContactRecord,
    Conversation,
    ConversationState,
    Message,
    StaffUser,
)
from handoff.directory.catalog import Directory
from handoff.directory.loading import default_directory
from handoff.history.models import DebriefNote
from handoff.records.guideline_checks import prefill, validate_record
from handoff.records.guidelines import FieldError, Guidelines, load_guidelines
from handoff.records.models import DocumentationRecord
from handoff.records.redaction import redact

S = ConversationState
SUPERVISOR_ROLES = frozenset({"supervisor", "admin"})
ERASURE_REASONS = ("person_request", "mistake", "other")

# Audit actions (written by handoff.referrals / handoff.disclosures) that count as events for prefill.
# A referral counts once it was sent (after consent); a proposal alone does not, but it tells the
# municipality.  Crime information counts once a disclosure was delivered.
REFERRAL_ACTIONS = frozenset({"referral.sent", "referral.delivered"})
DISCLOSURE_ACTIONS = frozenset({"disclosure.sent"})

_GUIDELINES: Guidelines | None = None


def guidelines() -> Guidelines:
    """The shipped guidelines, loaded once."""
    global _GUIDELINES
    if _GUIDELINES is None:
        _GUIDELINES = load_guidelines()
    return _GUIDELINES


class DocumentationInvalid(HelplineError):
    """The record was refused; ``errors`` names every field that is missing or wrong."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("documentation refused: " + ", ".join(sorted({e.field for e in self.errors})))

    def field_messages(self, language: str = "sv") -> dict[str, str]:
        """Every refused field with its messages in ``language``: the ``fields`` of the one error
        shape (``{"error": "invalid", "fields": {field: message}}``)."""
        found: dict[str, str] = {}
        for e in self.errors:
            text = e.message_en if language == "en" else e.message_sv
            found[e.field] = f"{found[e.field]} {text}" if e.field in found else text
        return dict(sorted(found.items()))


@dataclass(frozen=True, slots=True)
class SaveResult:
    record: DocumentationRecord
    state: str
    created: bool
    redacted: list[str] = field(default_factory=list)
    """Kinds of things redaction removed from the free text (personnummer, phone, ...)."""


@dataclass(frozen=True, slots=True)
class ErasureResult:
    messages: int
    contact_record: int
    documentation_summary_cleared: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "messages": self.messages,
            "contact_record": self.contact_record,
            "documentation_summary_cleared": self.documentation_summary_cleared,
        }


# ---------------------------------------------------------------------------------------- form


@dataclass(frozen=True, slots=True)
class _MadeFields:
    guidelines: Guidelines
    directory: Directory
    fields: list[dict[str, Any]]
    text: str
    """``fields`` as JSON."""


_MADE: _MadeFields | None = None
"""The form's fields for the guidelines and directory asked for last: made once, not on every
close (the 290 municipalities make them about 30 KB of JSON)."""


def form_spec(g: Guidelines, directory: Directory | None = None) -> list[dict[str, Any]]:
    """The fields of the form, labels in Swedish and English.  Made once per guidelines and
    directory (an admin's edit installs a new directory): the list is shared, never change it."""
    global _MADE
    d = directory if directory is not None else default_directory()
    made = _MADE
    if made is None or made.guidelines is not g or made.directory is not d:
        fields = _make_fields(g, d)
        made = _MADE = _MadeFields(g, d, fields, json.dumps(fields))
    return made.fields


def form_json(form: Mapping[str, Any]) -> str:
    """``json.dumps(form)`` for a form of :func:`documentation_form`, its fields' JSON made once."""
    made = _MADE
    if made is None or form.get("fields") is not made.fields:
        return json.dumps(form)
    rest = json.dumps({k: v for k, v in form.items() if k != "fields"})
    return rest[:-1] + (', "fields": ' if len(rest) > 2 else '"fields": ') + made.text + "}"


def _make_fields(g: Guidelines, d: Directory) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for f in g.fields:
        entry: dict[str, Any] = {
            "key": f.key,
            "type": f.type,
            "mandatory": f.mandatory,
            "label": {"sv": f.label_sv, "en": f.label_en},
        }
        if f.values:
            entry["values"] = [
                {"value": c.value, "label": {"sv": c.label_sv, "en": c.label_en}} for c in f.values
            ]
        if f.max_length is not None:
            entry["max_length"] = f.max_length
        if f.type == "municipality":
            entry["values"] = [
                {"value": m.code, "label": {"sv": m.name, "en": m.name}, "county": m.county_name}
                for m in sorted(d.municipalities.values(), key=lambda m: m.name)
            ]
        out.append(entry)
    return out


async def conversation_events(session: AsyncSession, conversation_id: str) -> list[dict[str, Any]]:
    """The conversation's audit events as prefill events (``type`` referred / disclosed / municipality)."""
    rows = (
        await session.execute(
            select(AuditEvent.action, AuditEvent.details)
            .where(AuditEvent.conversation_id == conversation_id)
            .order_by(AuditEvent.id)
        )
    ).all()
    events: list[dict[str, Any]] = []
    for action, details in rows:
        info: Mapping[str, Any] = details if isinstance(details, Mapping) else {}
        kind = None
        if action in REFERRAL_ACTIONS:
            kind = "referred"
        elif action in DISCLOSURE_ACTIONS:
            kind = "disclosed"
        if kind is not None:
            event: dict[str, Any] = {"type": kind}
            recipient = info.get("recipient_id", info.get("recipient"))
            if isinstance(recipient, str) and recipient:
                event["recipient_id"] = recipient
            for key in ("status", "consent"):
                if key in info:
                    event[key] = info[key]
            events.append(event)
        code = info.get("municipality_code", info.get("municipality"))
        if isinstance(code, Mapping):
            code = code.get("code")
        if isinstance(code, str) and code:
            events.append({"type": "municipality", "code": code})
    return events


async def documentation_form(
    session: AsyncSession,
    conversation_id: str,
    *,
    directory: Directory | None = None,
    conversation: Conversation | None = None,
) -> dict[str, Any]:
    """The form spec and the values to show (saved, else prefilled); ``conversation``: the
    conversation already read in ``session``."""
    g = guidelines()
    conv = conversation or await repo.get_conversation(session, conversation_id)
    record = await session.get(DocumentationRecord, conversation_id)
    if record is not None:
        values = dict(record.fields)
        source = "saved"
    else:
        values = prefill(
            conv.intent, await conversation_events(session, conversation_id), directory=directory
        )
        source = "prefill"
    values = {k: v for k, v in values.items() if k in g.keys}
    return {
        "conversation_id": conv.id,
        "state": conv.state,
        "intent": conv.intent,
        "channel": conv.channel,
        "closed_at": conv.closed_at.isoformat() if conv.closed_at is not None else None,
        "can_document": conv.state in (S.CLOSED.value, S.DOCUMENTED.value),
        "guidelines_version": g.version,
        "fields": form_spec(g, directory),
        "mandatory": list(g.mandatory),
        "values": values,
        "source": source,
        "documented_at": record.documented_at.isoformat() if record is not None else None,
    }


# ---------------------------------------------------------------------------------------- save


def may_document(conv_assigned_to: int | None, closed_by: Any, user: StaffUser) -> bool:
    return user.role in SUPERVISOR_ROLES or conv_assigned_to == user.id or closed_by == user.username


async def save_documentation(
    session: AsyncSession,
    conversation_id: str,
    values: Mapping[str, Any],
    user: StaffUser,
    *,
    directory: Directory | None = None,
    now: datetime | None = None,
) -> SaveResult:
    """Validate, redact and store; the conversation becomes ``documented``.

    Raises :class:`DocumentationInvalid` (nothing stored), :class:`~gateway.errors.Conflict`
    ("not_closed") for an open conversation, :class:`~gateway.errors.PermissionDenied` for a
    counsellor who did not handle it, :class:`~gateway.errors.NotFound`.
    """
    g = guidelines()
    d = directory if directory is not None else default_directory()
    now = now or utcnow()
    conv = await repo.get_conversation(session, conversation_id, for_update=True)
    if conv.state not in (S.CLOSED.value, S.DOCUMENTED.value):
        raise Conflict("not_closed")
    if not may_document(conv.assigned_to, (conv.meta or {}).get("closed_by"), user):
        raise PermissionDenied("not_your_conversation")
    record_in = dict(values)
    errors = validate_record(g, record_in, directory=d)
    if errors:
        raise DocumentationInvalid(errors)

    found: set[str] = set()
    stored: dict[str, Any] = {}
    for f in g.fields:
        value = record_in.get(f.key)
        if value is None:
            continue
        if f.type == "text" and isinstance(value, str):
            result = redact(value.strip())
            found |= result.kinds()
            value = result.text
        elif isinstance(value, list | tuple):
            value = list(value)
        stored[f.key] = value

    municipality = stored.get("municipality")
    county = d.county_of(municipality) if isinstance(municipality, str) else None
    record = await session.get(DocumentationRecord, conversation_id)
    created = record is None
    if record is None:
        record = DocumentationRecord(conversation_id=conversation_id, documented_at=now)
        session.add(record)
    record.guidelines_version = g.version
    record.fields = stored
    record.contact_type = _str_or_none(stored.get("contact_type"))
    record.relation = _str_or_none(stored.get("relation"))
    record.environment = _str_or_none(stored.get("environment"))
    record.age_group = _str_or_none(stored.get("age_group"))
    record.gender = _str_or_none(stored.get("gender"))
    record.municipality_code = municipality if isinstance(municipality, str) else None
    record.county_code = county.code if county is not None else None
    record.outcome = _str_or_none(stored.get("outcome"))
    record.referral_made = bool(stored.get("referral_made"))
    record.crime_info_passed = bool(stored.get("crime_information_passed"))
    record.summary = str(stored.get("summary", ""))
    record.documented_by = user.id
    record.updated_at = now

    if conv.state == S.CLOSED.value:
        move(conv, S.DOCUMENTED)
    # The audit names the fields and what redaction found, never their values.
    await repo.audit(
        session,
        "documentation.saved" if created else "documentation.updated",
        actor=user,
        conversation_id=conversation_id,
        details={"guidelines_version": g.version, "redacted": sorted(found)},
    )
    await session.flush()
    saved = SaveResult(record, conv.state, created, sorted(found))
    await action_keys.record(session, "documentation", saved)  # the answer commits with the record
    return saved


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# ---------------------------------------------------------------------------------------- erasure


async def erase_conversation(
    session: AsyncSession,
    conversation_id: str,
    user: StaffUser,
    reason: str = "person_request",
    *,
    now: datetime | None = None,
) -> ErasureResult:
    """Erase a person's conversation on request (supervisors and admins only).

    Deleted: every message (transcript), the contact record and counsellors' debrief notes; the conversation's pseudonym and
    resume code are cleared so that nothing links it to the person any more.  Kept: the
    conversation row (channel, times, priority, intent: the counts of reports stay right) and, if
    the conversation was documented, its documentation record with its coded fields, but with every
    free-text field (the summary) emptied: what the person said leaves no trace.  An erased
    conversation that was closed but not documented can still be documented (the coded fields
    only).  The erasure is audited as ``conversation.erased`` with the counts and the reason code.
    Open conversations are refused (``Conflict("not_closed")``): close first.
    """
    if user.role not in SUPERVISOR_ROLES:
        raise PermissionDenied("supervisor_only")
    if reason not in ERASURE_REASONS:
        reason = "other"
    now = now or utcnow()
    conv = await repo.get_conversation(session, conversation_id, for_update=True)
    if conv.state not in (S.CLOSED.value, S.DOCUMENTED.value):
        raise Conflict("not_closed")
    n_messages = int(
        (
            await session.execute(
                select(func.count()).select_from(Message).where(Message.conversation_id == conversation_id)
            )
        ).scalar_one()
    )
    await session.execute(delete(Message).where(Message.conversation_id == conversation_id))
    await erase_conversation_events(session, conversation_id)  # unpublished events carry text too
    contact = await session.execute(
        delete(ContactRecord).where(ContactRecord.conversation_id == conversation_id)
    )
    n_contact = int(getattr(contact, "rowcount", 0) or 0)
    await session.execute(delete(DebriefNote).where(DebriefNote.conversation_id == conversation_id))
    conv.pseudonym = ""
    conv.resume_code_hash = None
    kept_meta = {k: v for k, v in (conv.meta or {}).items() if k in ("closed_by",)}
    conv.meta = {**kept_meta, "erased_at": now.isoformat()}
    cleared = False
    record = await session.get(DocumentationRecord, conversation_id)
    if record is not None:
        g = guidelines()
        text_keys = {f.key for f in g.fields if f.type == "text"}
        record.fields = {k: ("" if k in text_keys else v) for k, v in record.fields.items()}
        record.summary = ""
        record.updated_at = now
        cleared = True
    result = ErasureResult(n_messages, n_contact, cleared)
    await repo.audit(
        session,
        "conversation.erased",
        actor=user,
        conversation_id=conversation_id,
        details={**result.to_dict(), "reason": reason},
    )
    await session.flush()
    return result


__all__ = [
    "ERASURE_REASONS",
    "DocumentationInvalid",
    "ErasureResult",
    "SaveResult",
    "conversation_events",
    "documentation_form",
    "erase_conversation",
    "form_json",
    "form_spec",
    "guidelines",
    "may_document",
    "save_documentation",
]
