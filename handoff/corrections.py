"""Counsellors correct the triage; admins accept or reject the corrections (the store's side).

A counsellor who holds a conversation marks the triage of one of the person's messages as wrong:
the intent (and gives the right one, one of :data:`nlu.result.INTENTS`) and/or the risk ("is
someone in danger: yes/no").  :func:`propose` keeps it as a proposed training example in
``triage_corrections`` with the message's text redacted (:func:`handoff.records.redaction.redact`), the
triage it corrects, the counsellor and the time, and audits it (``triage.correction.proposed``, or
``.updated`` when the same counsellor corrects the same message again: one row per counsellor and
message).  No audit event carries the text.

:func:`still_wrong` is the admin's measure of a model against the corrections.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.envelope import Direction, Priority, SenderKind, utcnow
from gateway.store import repo
from gateway.store.models import ConversationState, Message, StaffUser
from handoff.records.redaction import redact
from handoff.risk import triage_risk
from handoff.triage_admin.correction_models import CorrectionState, TriageCorrection
from nlu.result import INTENTS, TriageResult


class CorrectionRefused(Exception):
    """A correction that is not taken: HTTP status and a code the console has words for."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(code)
        self.status = status
        self.code = code


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def as_dict(c: TriageCorrection, *, counsellor: str | None = None) -> dict[str, Any]:
    return {
        "id": c.id,
        "message_id": c.message_id,
        "conversation_id": c.conversation_id,
        "text": c.text,
        "language": c.language,
        "original": {"intent": c.original_intent, "priority": c.original_priority, "risk": c.original_risk},
        "intent": c.intent,
        "danger": c.danger,
        "state": c.state,
        "counsellor": counsellor,
        "created_at": _iso(c.created_at),
        "updated_at": _iso(c.updated_at),
        "decided_at": _iso(c.decided_at),
        "dataset_revision": c.dataset_revision,
    }


def check_input(body: Mapping[str, Any]) -> tuple[str | None, bool | None]:
    """The intent and the danger a counsellor gave (at least one), or CorrectionRefused."""
    intent, danger = body.get("intent"), body.get("danger")
    if intent is not None and (not isinstance(intent, str) or intent not in INTENTS):
        raise CorrectionRefused(422, "unknown_intent")
    if danger is not None and not isinstance(danger, bool):
        raise CorrectionRefused(422, "danger_must_be_bool")
    if intent is None and danger is None:
        raise CorrectionRefused(422, "nothing_to_correct")
    return intent, danger


def _original(triage: Mapping[str, Any] | None) -> tuple[str | None, str | None, str | None, str | None]:
    """Intent, priority, risk type and language of a stored triage record."""
    if not isinstance(triage, Mapping):
        return None, None, None, None
    intent = triage.get("intent")
    name = intent.get("name") if isinstance(intent, Mapping) else intent
    risk = triage_risk(triage)
    priority, language = triage.get("priority"), triage.get("language")
    return (
        str(name)[:40] if name else None,
        str(priority)[:16] if priority else None,
        risk["type"] if risk else None,
        str(language)[:8] if language else None,
    )


async def propose(
    session: AsyncSession,
    conversation_id: str,
    message_id: str,
    user: StaffUser,
    intent: str | None,
    danger: bool | None,
) -> tuple[TriageCorrection, bool]:
    """Store (or update) ``user``'s correction of a person's message; True when it is new.

    Only the counsellor who holds the conversation may correct it (a refusal is audited by the
    caller, after this transaction is rolled back).
    """
    conv = await repo.get_conversation(session, conversation_id)
    if conv.state != ConversationState.ASSIGNED.value or conv.assigned_to != user.id:
        raise CorrectionRefused(403, "not_assigned_to_you")
    msg = await session.get(Message, message_id)
    if msg is None or msg.conversation_id != conv.id:
        raise CorrectionRefused(404, "not_found")
    if msg.sender_kind != SenderKind.PERSON.value or msg.direction != Direction.IN.value:
        raise CorrectionRefused(422, "not_a_person_message")
    o_intent, o_priority, o_risk, o_language = _original(msg.triage)
    if intent is not None and intent == o_intent:
        raise CorrectionRefused(422, "same_intent")
    redacted = redact(msg.text)
    text = " ".join(redacted.text.split())
    row = (
        await session.execute(
            select(TriageCorrection)
            .where(TriageCorrection.message_id == message_id, TriageCorrection.counsellor_id == user.id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    now = utcnow()
    created = row is None
    if row is None:
        row = TriageCorrection(
            message_id=message_id,
            conversation_id=conv.id,
            counsellor_id=user.id,
            state=CorrectionState.PROPOSED.value,
            created_at=now,
        )
        session.add(row)
    elif row.state != CorrectionState.PROPOSED.value:
        raise CorrectionRefused(409, "already_decided")
    row.text = text
    row.language, row.original_intent, row.original_priority, row.original_risk = (
        o_language,
        o_intent,
        o_priority,
        o_risk,
    )
    row.intent, row.danger, row.updated_at = intent, danger, now
    await session.flush()
    await repo.audit(
        session,
        "triage.correction.proposed" if created else "triage.correction.updated",
        actor=user,
        conversation_id=conv.id,
        details={
            "correction_id": row.id,
            "message_id": message_id,
            "seq": msg.seq,
            "intent": intent,
            "danger": danger,
            "original_intent": o_intent,
            "original_priority": o_priority,
            "original_risk": o_risk,
            "redacted": sorted(redacted.kinds()),
        },
    )
    return row, created


_OF_COUNSELLOR = select(TriageCorrection).where(
    TriageCorrection.conversation_id == bindparam("conversation_id"),
    TriageCorrection.counsellor_id == bindparam("user_id"),
)
"""Built once: read with every claim's transcript."""


async def of_counsellor(
    session: AsyncSession, conversation_id: str, user_id: int
) -> dict[str, dict[str, Any]]:
    """The counsellor's own corrections in a conversation, by message id (what the console marks)."""
    rows = (
        await session.execute(_OF_COUNSELLOR, {"conversation_id": conversation_id, "user_id": user_id})
    ).scalars()
    return {c.message_id: {"intent": c.intent, "danger": c.danger, "state": c.state} for c in rows}


def still_wrong(correction: TriageCorrection, result: TriageResult) -> bool:
    """Whether the triage ``result`` of a correction's text is still wrong by the correction.

    Wrong when the intent differs from the intent the counsellor gave; when they said someone is in
    danger and the priority is below high; when they said no one is and the triage still reports a
    risk or is critical.
    """
    if correction.intent is not None and result.intent != correction.intent:
        return True
    if correction.danger is True and result.priority < Priority.HIGH:
        return True
    if correction.danger is False:
        reported = triage_risk(result.to_dict()) is not None
        if reported or result.priority >= Priority.CRITICAL:
            return True
    return False


__all__ = [
    "CorrectionRefused",
    "CorrectionState",
    "TriageCorrection",
    "as_dict",
    "check_input",
    "of_counsellor",
    "propose",
    "still_wrong",
]
