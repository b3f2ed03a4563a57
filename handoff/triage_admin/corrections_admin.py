"""The admin's side of the counsellors' corrections of the triage, on the triage admin's page.

* ``GET  /console/api/triage/corrections?state=proposed|accepted|rejected|all``: the corrections
  (redacted text, the triage they correct, what the counsellor gave, who); audited as a read.
* ``POST .../corrections/{id}/accept`` (optionally ``{"intent": ...}`` when the counsellor gave
  none): the text becomes a training example in a new dataset revision, through
  :meth:`handoff.triage_admin.TriageAdmin.change_dataset` (moved from another intent if it was
  there), in the same transaction as the decision.  Refused if the text is in the held-out test
  split, as every training example is.
* ``POST .../corrections/{id}/reject``.
* ``GET  .../corrections/evaluation``: how many corrections (accepted and proposed) the active model
  still gets wrong (:func:`handoff.corrections.still_wrong`), parsing their redacted text with the
  running triager (its synchronous ``parse_sync`` in a worker thread when it has one).

Admins only; every decision is audited (``triage.correction.accepted``/``.rejected``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.appkeys import TRIAGER
from gateway.envelope import utcnow
from gateway.store import repo
from gateway.store.models import StaffUser
from gateway.web_errors import error_body
from handoff.console.i18n import strings
from handoff.console.security import Staff
from handoff.corrections import as_dict, still_wrong
from handoff.triage_admin.correction_models import CorrectionState, TriageCorrection
from handoff.triage_admin.schemas import (
    AcceptCorrectionBody,
    CorrectionsAnswer,
    CorrectionsEvaluationAnswer,
    DecisionAnswer,
)
from handoff.triage_admin.state import MAX_EXAMPLE_CHARS, AdminError, in_test_split
from handoff.triage_admin.web_base import API, TRIAGE_ADMIN, refused_fields
from handoff.web import ADMIN_ROLES, Route
from handoff.web.validation import body as checked_body
from nlu.data import Dataset
from nlu.result import INTENTS, Triager, TriageResult

CORRECTIONS = API + "/corrections"
ID_RE = "{correction_id:[0-9]{1,12}}"
MAX_LISTED = 500
MAX_EVALUATED = 2000
STATES = tuple(s.value for s in CorrectionState)

Handler = Callable[[web.Request, Staff], Awaitable[web.StreamResponse]]


class _Unchanged(Exception):
    """The text is already a training example of that intent and of no other: no new revision."""


def refusal(staff: Staff, exc: AdminError) -> web.Response:
    """A refusal in the one body shape: ``{"error": code}``, with ``fields`` (field -> words) when it
    refuses a field of the input."""
    words = strings(staff.lang)
    return web.json_response(error_body(exc.code, refused_fields(exc, words)), status=exc.status)


def refusals(handler: Handler) -> Handler:
    async def wrapped(request: web.Request, staff: Staff) -> web.StreamResponse:
        try:
            return await handler(request, staff)
        except AdminError as exc:
            return refusal(staff, exc)

    wrapped.__name__ = handler.__name__
    return wrapped


def _training_text(correction: TriageCorrection) -> str:
    text = " ".join(correction.text.split())
    if not text:
        raise AdminError(422, "empty")
    if len(text) > MAX_EXAMPLE_CHARS:
        raise AdminError(422, "too_long")
    return text


@refusals
async def api_list(request: web.Request, staff: Staff) -> web.StreamResponse:
    state = request.query.get("state", CorrectionState.PROPOSED.value)
    if state not in (*STATES, "all"):
        raise AdminError(422, "unknown_state", field="state")
    stmt = (
        select(TriageCorrection, StaffUser.username)
        .join(StaffUser, StaffUser.id == TriageCorrection.counsellor_id, isouter=True)
        .order_by(TriageCorrection.created_at.desc(), TriageCorrection.id.desc())
        .limit(MAX_LISTED)
    )
    if state != "all":
        stmt = stmt.where(TriageCorrection.state == state)
    async with request.app[TRIAGE_ADMIN].db.session() as session:
        rows = (await session.execute(stmt)).all()
        counts = {
            str(s): int(n)
            for s, n in (
                await session.execute(
                    select(TriageCorrection.state, func.count()).group_by(TriageCorrection.state)
                )
            ).all()
        }
        await repo.audit(
            session,
            "triage.corrections.listed",
            actor=staff.user,
            details={"state": state, "count": len(rows)},
        )
    items = []
    for correction, username in rows:
        item = as_dict(correction, counsellor=username)
        text = " ".join(correction.text.split())
        item["in_test_split"] = in_test_split(text)
        item["too_long"] = len(text) > MAX_EXAMPLE_CHARS
        items.append(item)
    return web.json_response(
        {"state": state, "counts": {s: counts.get(s, 0) for s in STATES}, "corrections": items}
    )


async def _decided(
    session: AsyncSession,
    staff: Staff,
    correction: TriageCorrection,
    state: CorrectionState,
    details: dict[str, Any],
    **values: Any,
) -> None:
    """Mark a proposed correction decided (refused if someone decided it meanwhile) and audit it."""
    result = await session.execute(
        update(TriageCorrection)
        .where(TriageCorrection.id == correction.id, TriageCorrection.state == CorrectionState.PROPOSED.value)
        .values(state=state.value, decided_by=staff.user.id, decided_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 1) != 1:
        raise AdminError(409, "already_decided")
    await repo.audit(
        session,
        f"triage.correction.{state.value}",
        actor=staff.user,
        conversation_id=correction.conversation_id,
        details={
            "correction_id": correction.id,
            "message_id": correction.message_id,
            "original_intent": correction.original_intent,
            "counsellor_intent": correction.intent,
            "danger": correction.danger,
            **details,
        },
    )


async def _proposed(request: web.Request) -> TriageCorrection:
    async with request.app[TRIAGE_ADMIN].db.session() as session:
        correction = await session.get(TriageCorrection, int(request.match_info["correction_id"]))
    if correction is None:
        raise AdminError(404, "not_found")
    if correction.state != CorrectionState.PROPOSED.value:
        raise AdminError(409, "already_decided")
    return correction


@refusals
async def api_accept(request: web.Request, staff: Staff) -> web.StreamResponse:
    chosen = checked_body(request, AcceptCorrectionBody).intent
    correction = await _proposed(request)
    intent = chosen or correction.intent
    if intent is None:
        raise AdminError(422, "intent_required", field="intent")
    if not isinstance(intent, str) or intent not in INTENTS:
        raise AdminError(422, "unknown_intent", field="intent")
    text = _training_text(correction)
    if in_test_split(text):
        raise AdminError(409, "in_test_split")
    details: dict[str, Any] = {"correction_id": correction.id, "intent": intent}

    def apply(ds: Dataset) -> None:
        moved = [other for other in list(ds.examples) if other != intent and ds.remove(other, text)]
        details["moved_from"] = moved
        if not ds.add(intent, text) and not moved:
            raise _Unchanged

    async def decide(session: AsyncSession, revision: int | None) -> None:
        await _decided(
            session,
            staff,
            correction,
            CorrectionState.ACCEPTED,
            {"intent": intent, "revision": revision, "moved_from": details.get("moved_from", [])},
            intent=intent,
            dataset_revision=revision,
        )

    admin = request.app[TRIAGE_ADMIN]
    try:
        revision: int | None = await admin.change_dataset(staff.user, "added", apply, details, then=decide)
    except _Unchanged:
        revision = int((await admin.revision_info())["id"]) or None
        async with admin.db.session() as session:
            await decide(session, revision)
    return web.json_response({"ok": True, "id": correction.id, "intent": intent, "revision": revision})


@refusals
async def api_reject(request: web.Request, staff: Staff) -> web.StreamResponse:
    correction = await _proposed(request)
    async with request.app[TRIAGE_ADMIN].db.session() as session:
        await _decided(session, staff, correction, CorrectionState.REJECTED, {})
    return web.json_response({"ok": True, "id": correction.id})


async def parse_all(triager: Triager, texts: Sequence[str]) -> list[TriageResult]:
    """Triage ``texts`` with the running triager: its ``parse_sync`` in a worker thread if it has
    one (the embedded model: CPU work), else its ``parse`` one after the other."""
    parse_sync = getattr(triager, "parse_sync", None)
    if callable(parse_sync):
        return await asyncio.to_thread(lambda: [parse_sync(t) for t in texts])
    return [await triager.parse(t) for t in texts]


@refusals
async def api_evaluation(request: web.Request, staff: Staff) -> web.StreamResponse:
    admin = request.app[TRIAGE_ADMIN]
    await admin.sync_model()  # the active model, should another process have just activated one
    async with admin.db.session() as session:
        rows = list(
            (
                await session.execute(
                    select(TriageCorrection)
                    .where(
                        TriageCorrection.state.in_(
                            (CorrectionState.ACCEPTED.value, CorrectionState.PROPOSED.value)
                        )
                    )
                    .order_by(TriageCorrection.id.desc())
                    .limit(MAX_EVALUATED)
                )
            ).scalars()
        )
    triager = request.app[TRIAGER]
    results = await parse_all(triager, [r.text for r in rows])
    counts = {
        s: {"total": 0, "wrong": 0} for s in (CorrectionState.ACCEPTED.value, CorrectionState.PROPOSED.value)
    }
    wrong: list[dict[str, Any]] = []
    for row, result in zip(rows, results, strict=True):
        counts[row.state]["total"] += 1
        if still_wrong(row, result):
            counts[row.state]["wrong"] += 1
            wrong.append(
                {"id": row.id, "state": row.state, "intent": result.intent, "priority": result.priority.label}
            )
    version = results[0].model_version if results else str(triager.health().get("model_version", ""))
    return web.json_response({"model_version": version, **counts, "wrong": wrong})


ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        CORRECTIONS,
        api_list,
        ADMIN_ROLES,
        answers={200: CorrectionsAnswer},
        summary="The counsellors' corrections (audited)",
    ),
    Route(
        "GET",
        CORRECTIONS + "/evaluation",
        api_evaluation,
        ADMIN_ROLES,
        answers={200: CorrectionsEvaluationAnswer},
        summary="The corrections the active model still gets wrong",
    ),
    Route(
        "POST",
        CORRECTIONS + "/" + ID_RE + "/accept",
        api_accept,
        ADMIN_ROLES,
        body=AcceptCorrectionBody,
        answers={200: DecisionAnswer},
        summary="Accept a correction: its text becomes a training example",
    ),
    Route(
        "POST",
        CORRECTIONS + "/" + ID_RE + "/reject",
        api_reject,
        ADMIN_ROLES,
        answers={200: DecisionAnswer},
        summary="Reject a correction",
    ),
)
"""Added by :func:`handoff.triage_admin.web.setup` through the web kit's guard."""


__all__ = ["ROUTES", "api_accept", "api_evaluation", "api_list", "api_reject", "parse_all"]
