"""The triage admin's training examples, safe responses and parse, on the web."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.appkeys import TRIAGER
from gateway.envelope import utcnow
from gateway.store import repo
from handoff.console.i18n import intent_labels
from handoff.console.security import Staff
from handoff.triage_admin.models import ResponseOverride
from handoff.triage_admin.schemas import (
    EditExampleBody,
    ExampleBody,
    ParseBody,
    ResponseKeyBody,
    SetResponseBody,
)
from handoff.triage_admin.state import (
    MAX_EXAMPLE_CHARS,
    MAX_PARSE_CHARS,
    MAX_RESPONSE_CHARS,
    AdminError,
    _key,
    held_out_split,
    in_test_split,
)
from handoff.triage_admin.web_base import _admin, admin_error, handles_errors
from handoff.web.validation import body as checked_body
from nlu.data import Dataset
from nlu.responses import (
    EMERGENCY_NUMBER,
    SUICIDE_LINE_NUMBER,
    ResponseError,
    check_response,
    default_responses,
)
from nlu.result import CRITICAL_INTENTS, INTENT_PRIORITY, INTENTS, LANGUAGES
from nlu.text import fold


def _text(body: dict[str, Any], key: str, limit: int) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise AdminError(422, "empty", field=key)
    if len(value) > limit:
        raise AdminError(422, "too_long", field=key)
    return " ".join(value.split())


def _intent(body: dict[str, Any], key: str = "intent") -> str:
    value = body.get(key)
    if not isinstance(value, str) or value not in INTENTS:
        raise AdminError(422, "unknown_intent", str(value)[:40], field=key)
    return value


def _not_in_test_split(text: str) -> None:
    if in_test_split(text):
        raise AdminError(409, "in_test_split")


@handles_errors
async def api_intents(request: web.Request, staff: Staff) -> web.StreamResponse:
    admin = _admin(request)
    state = await admin.dataset()
    counts = state.dataset.counts()
    test_counts = held_out_split().counts()
    return web.json_response(
        {
            "revision": await admin.revision_info(),
            "n_examples": len(state.dataset),
            "intents": [
                {
                    "name": i,
                    "label": intent_labels(staff.lang)[i],
                    "priority": INTENT_PRIORITY[i].label,
                    "critical": i in CRITICAL_INTENTS,
                    "count": counts.get(i, 0),
                    "test_count": test_counts.get(i, 0),
                }
                for i in INTENTS
            ],
        }
    )


@handles_errors
async def api_examples(request: web.Request, staff: Staff) -> web.StreamResponse:
    intent = _intent(dict(request.query))
    q = fold(request.query.get("q", "")[:200]).strip()
    state = await _admin(request).dataset()
    examples = state.dataset.examples.get(intent, [])
    if q:
        examples = [e for e in examples if q in fold(e)]
    return web.json_response({"intent": intent, "revision": state.revision, "examples": examples})


@handles_errors
async def api_export(request: web.Request, staff: Staff) -> web.StreamResponse:
    state = await _admin(request).dataset()
    return web.Response(
        text=state.dataset.to_yaml(),
        content_type="application/x-yaml",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="nlu-r{state.revision}.yml"'},
    )


@handles_errors
async def api_add_example(request: web.Request, staff: Staff) -> web.StreamResponse:
    body = checked_body(request, ExampleBody).model_dump()
    intent, text = _intent(body), _text(body, "text", MAX_EXAMPLE_CHARS)
    _not_in_test_split(text)

    def apply(ds: Dataset) -> None:
        if not ds.add(intent, text):
            raise AdminError(409, "exists")

    revision = await _admin(request).change_dataset(
        staff.user, "added", apply, {"intent": intent, "text": text}
    )
    return web.json_response({"ok": True, "revision": revision, "intent": intent, "text": text}, status=201)


@handles_errors
async def api_edit_example(request: web.Request, staff: Staff) -> web.StreamResponse:
    body = checked_body(request, EditExampleBody).model_dump()
    intent, text = _intent(body), _text(body, "text", MAX_EXAMPLE_CHARS)
    new_intent = _intent(body, "new_intent") if body.get("new_intent") is not None else intent
    new_text = _text(body, "new_text", MAX_EXAMPLE_CHARS) if body.get("new_text") is not None else text
    if _key(new_text) != _key(text):
        _not_in_test_split(new_text)

    def apply(ds: Dataset) -> None:
        if not ds.remove(intent, text):
            raise AdminError(404, "not_found")
        if not ds.add(new_intent, new_text):
            raise AdminError(409, "exists")

    revision = await _admin(request).change_dataset(
        staff.user,
        "edited",
        apply,
        {"intent": intent, "text": text, "new_intent": new_intent, "new_text": new_text},
    )
    return web.json_response({"ok": True, "revision": revision, "intent": new_intent, "text": new_text})


@handles_errors
async def api_remove_example(request: web.Request, staff: Staff) -> web.StreamResponse:
    body = checked_body(request, ExampleBody).model_dump()
    intent, text = _intent(body), _text(body, "text", MAX_EXAMPLE_CHARS)

    def apply(ds: Dataset) -> None:
        if not ds.remove(intent, text):
            raise AdminError(404, "not_found")

    revision = await _admin(request).change_dataset(
        staff.user, "removed", apply, {"intent": intent, "text": text}
    )
    return web.json_response({"ok": True, "revision": revision})


@handles_errors
async def api_responses(request: web.Request, staff: Staff) -> web.StreamResponse:
    book, overrides = await _admin(request).response_book()
    shipped = default_responses()
    return web.json_response(
        {
            "languages": list(LANGUAGES),
            "responses": [
                {
                    "intent": i,
                    "label": intent_labels(staff.lang)[i],
                    "critical": i in CRITICAL_INTENTS,
                    "texts": {lang: book.get(i, lang) for lang in LANGUAGES},
                    "shipped": {lang: shipped.get(i, lang) for lang in LANGUAGES},
                    "overridden": sorted(overrides.get(i, {})),
                }
                for i in INTENTS
            ],
        }
    )


def _response_problem(intent: str, language: str, text: str) -> AdminError | None:
    """Why ``text`` may not be the safe response of ``intent`` in ``language`` (None: it may)."""
    try:
        check_response(intent, language, text)
    except ResponseError as exc:
        message = str(exc)
        if not text.strip():
            code = "empty"
        elif f"call {EMERGENCY_NUMBER}" in message:
            code = "needs_112"
        elif SUICIDE_LINE_NUMBER in message:
            code = "needs_90101"
        else:
            code = "unsafe_response"
        return AdminError(422, code, message, field="text")
    return None


@handles_errors
async def api_set_response(request: web.Request, staff: Staff) -> web.StreamResponse:
    body = checked_body(request, SetResponseBody).model_dump()
    intent = _intent(body)
    language = body.get("language")
    if not isinstance(language, str) or language not in LANGUAGES:
        raise AdminError(422, "unknown_language", field="language")
    raw = body.get("text")
    if not isinstance(raw, str):
        raise AdminError(422, "empty", field="text")
    if len(raw) > MAX_RESPONSE_CHARS:
        raise AdminError(422, "too_long", field="text")
    text = " ".join(raw.split())
    problem = _response_problem(intent, language, text)
    if problem is not None:
        return admin_error(staff, problem)
    admin = _admin(request)
    old_book, _ = await admin.response_book()
    async with admin.db.session() as session:
        row = await session.get(ResponseOverride, (intent, language))
        if row is None:
            session.add(
                ResponseOverride(
                    intent=intent,
                    language=language,
                    text=text,
                    updated_at=utcnow(),
                    updated_by=staff.user.username,
                )
            )
        else:
            row.text, row.updated_at, row.updated_by = text, utcnow(), staff.user.username
        await repo.audit(
            session,
            "triage.response.edited",
            actor=staff.user,
            details={
                "intent": intent,
                "language": language,
                "old": old_book.get(intent, language),
                "new": text,
            },
        )
    await admin.sync_responses()
    await admin.announce("responses")
    return web.json_response({"ok": True, "intent": intent, "language": language, "text": text})


@handles_errors
async def api_reset_response(request: web.Request, staff: Staff) -> web.StreamResponse:
    body = checked_body(request, ResponseKeyBody).model_dump()
    intent = _intent(body)
    language = body.get("language")
    if not isinstance(language, str) or language not in LANGUAGES:
        raise AdminError(422, "unknown_language", field="language")
    admin = _admin(request)
    async with admin.db.session() as session:
        row = await session.get(ResponseOverride, (intent, language))
        if row is None:
            raise AdminError(404, "not_found")
        old = row.text
        await session.delete(row)
        await repo.audit(
            session,
            "triage.response.reset",
            actor=staff.user,
            details={"intent": intent, "language": language, "old": old},
        )
    await admin.sync_responses()
    await admin.announce("responses")
    shipped = default_responses().get(intent, language)
    return web.json_response({"ok": True, "intent": intent, "language": language, "text": shipped})


@handles_errors
async def api_parse(request: web.Request, staff: Staff) -> web.StreamResponse:
    """Try a sentence with the triage that is running (not audited: nothing changes, and the
    text may be a real message)."""
    body = checked_body(request, ParseBody).model_dump()
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise AdminError(422, "empty", field="text")
    if len(text) > MAX_PARSE_CHARS:
        raise AdminError(422, "too_long", field="text")
    hint = body.get("language")
    result = await request.app[TRIAGER].parse(text, hint if hint in LANGUAGES else None)
    out = result.to_dict()
    out.update(
        model_version=result.model_version,
        backend=result.backend,
        decided_by=result.extra.get("decided_by", ""),
    )
    return web.json_response(out)
