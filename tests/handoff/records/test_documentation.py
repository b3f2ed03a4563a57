"""Documentation at close and erasure on request, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from gateway.errors import Conflict, PermissionDenied
from gateway.store import repo
from gateway.store.db import Database
from handoff.directory.loading import default_directory
from handoff.records.documentation import (
    DocumentationInvalid,
    documentation_form,
    erase_conversation,
    form_json,
    form_spec,
    guidelines,
    save_documentation,
)
from tests.handoff.records.conftest import (
    ContactRecord,
    Conversation,
    DocumentationRecord,
    Message,
    add_conversation,
    add_user,
    audit_actions,
    count,
)

PNR = "19811218-9876"  # a valid personnummer (check digit right)


def complete(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "contact_type": "relative",
        "relation": "parent",
        "environment": "violent_right_wing",
        "age_group": "15_17",
        "gender": "male",
        "municipality": "1880",
        "advice_given": ["how_to_talk"],
        "referral_made": False,
        "crime_information_passed": False,
        "outcome": "advice_given",
        "summary": "Förälder orolig för sonens nya umgänge.",
    }
    record.update(changes)
    return record


async def test_documenting_without_mandatory_fields_is_refused_with_their_names(store: Database) -> None:
    async with store.session() as s:
        user = await add_user(s, "anna")
        conv_id = await add_conversation(s, assigned_to=user.id)
    partial = complete()
    for key in ("environment", "outcome", "summary"):
        del partial[key]
    with pytest.raises(DocumentationInvalid) as caught:
        async with store.session() as s:
            await save_documentation(s, conv_id, partial, user)
    assert list(caught.value.field_messages("sv")) == ["environment", "outcome", "summary"]
    assert {e.code for e in caught.value.errors} == {"missing"}
    async with store.session() as s:
        conv = await repo.get_conversation(s, conv_id)
        assert conv.state == "closed"
        assert await count(s, DocumentationRecord) == 0


async def test_complete_record_documents_the_conversation_and_redacts_the_summary(store: Database) -> None:
    async with store.session() as s:
        user = await add_user(s, "anna")
        conv_id = await add_conversation(s, assigned_to=user.id)
    summary = f"Pappan Erik Johansson gav sonens personnummer {PNR} och numret 070-123 45 67."
    async with store.session() as s:
        result = await save_documentation(s, conv_id, complete(summary=summary), user)
    assert result.state == "documented"
    assert {"personnummer", "phone"} <= set(result.redacted)
    async with store.session() as s:
        record = await s.get(DocumentationRecord, conv_id)
        assert record is not None
        conv = await s.get(Conversation, conv_id)
        assert conv is not None and conv.state == "documented"
        for stored in (record.summary, record.fields["summary"]):
            assert PNR not in stored and "9876" not in stored
            assert "070-123 45 67" not in stored
            assert "[PERSONNUMMER]" in stored
        assert (record.environment, record.municipality_code, record.county_code) == (
            "violent_right_wing",
            "1880",
            "18",
        )
        events = await audit_actions(s, "documentation.saved")
        assert len(events) == 1 and PNR not in str(events[0].details)


async def test_open_conversation_cannot_be_documented(sqlite_store: Database) -> None:
    async with sqlite_store.session() as s:
        user = await add_user(s, "anna")
        conv_id = await add_conversation(s, assigned_to=user.id, closed=False)
    with pytest.raises(Conflict):
        async with sqlite_store.session() as s:
            await save_documentation(s, conv_id, complete(), user)


async def test_another_counsellor_cannot_document_but_a_supervisor_can(sqlite_store: Database) -> None:
    async with sqlite_store.session() as s:
        anna = await add_user(s, "anna")
        bo = await add_user(s, "bo")
        sara = await add_user(s, "sara", "supervisor")
        conv_id = await add_conversation(s, assigned_to=anna.id)
    with pytest.raises(PermissionDenied):
        async with sqlite_store.session() as s:
            await save_documentation(s, conv_id, complete(), bo)
    async with sqlite_store.session() as s:
        assert (await save_documentation(s, conv_id, complete(), sara)).state == "documented"


async def test_form_is_prefilled_from_triage_and_referral_events(sqlite_store: Database) -> None:
    async with sqlite_store.session() as s:
        user = await add_user(s, "anna")
        conv_id = await add_conversation(s, assigned_to=user.id, intent="leave_movement")
        # as handoff.referrals writes them: proposed (municipality), then sent after consent
        await repo.audit(
            s,
            "referral.proposed",
            conversation_id=conv_id,
            details={"recipient": "kunskapshus-orebro", "municipality": "1880"},
        )
        await repo.audit(
            s, "referral.sent", conversation_id=conv_id, details={"recipient": "kunskapshus-orebro"}
        )
    async with sqlite_store.session() as s:
        form = await documentation_form(s, conv_id)
    values = form["values"]
    assert form["source"] == "prefill" and form["can_document"] is True
    assert values["contact_type"] == "person_leaving"
    assert values["referral_made"] is True
    assert values["referral_recipients"] == ["kunskapshus-orebro"]
    assert values["municipality"] == "1880"
    assert values["crime_information_passed"] is False
    keys = [f["key"] for f in form["fields"]]
    assert "summary" in keys and "environment" in form["mandatory"]
    async with sqlite_store.session() as s:
        only_proposed = await add_conversation(s, assigned_to=user.id, intent="concern_relative")
        await repo.audit(s, "referral.proposed", conversation_id=only_proposed, details={"recipient": "bris"})
        await repo.audit(s, "disclosure.sent", conversation_id=only_proposed, details={})
    async with sqlite_store.session() as s:
        other = (await documentation_form(s, only_proposed))["values"]
    assert other["referral_made"] is False and other["crime_information_passed"] is True
    assert other["outcome"] == "crime_information_passed"
    env = next(f for f in form["fields"] if f["key"] == "environment")
    assert env["label"] == {"sv": "Miljö som oron gäller", "en": "Environment of concern"}


async def test_erasure_deletes_transcript_and_contact_keeps_coded_record_and_is_audited(
    store: Database,
) -> None:
    async with store.session() as s:
        anna = await add_user(s, "anna")
        sara = await add_user(s, "sara", "supervisor")
        conv_id = await add_conversation(s, assigned_to=anna.id)
        other_id = await add_conversation(s, assigned_to=anna.id)
    async with store.session() as s:
        await save_documentation(s, conv_id, complete(), anna)
    with pytest.raises(PermissionDenied):
        async with store.session() as s:
            await erase_conversation(s, conv_id, anna)
    async with store.session() as s:
        result = await erase_conversation(s, conv_id, sara, "person_request")
    assert (result.messages, result.contact_record, result.documentation_summary_cleared) == (2, 1, True)
    async with store.session() as s:
        assert await count(s, Message, Message.conversation_id == conv_id) == 0
        assert await count(s, ContactRecord, ContactRecord.conversation_id == conv_id) == 0
        conv = await s.get(Conversation, conv_id)
        assert conv is not None and conv.pseudonym == "" and conv.resume_code_hash is None
        record = await s.get(DocumentationRecord, conv_id)
        assert record is not None and record.summary == "" and record.environment == "violent_right_wing"
        # nothing else was touched
        assert await count(s, Message, Message.conversation_id == other_id) == 2
        assert await count(s, ContactRecord, ContactRecord.conversation_id == other_id) == 1
        events = await audit_actions(s, "conversation.erased")
        assert len(events) == 1
        assert events[0].actor == "sara" and events[0].conversation_id == conv_id
        assert events[0].details == {
            "messages": 2,
            "contact_record": 1,
            "documentation_summary_cleared": True,
            "reason": "person_request",
        }


def test_the_form_fields_are_made_once_per_directory_and_answered_as_json_would() -> None:
    g, base = guidelines(), default_directory()
    fields = form_spec(g, base)
    assert form_spec(g, base) is fields, "made once, not on every close"
    form = {"conversation_id": "c1", "state": "closed", "fields": fields, "values": {}, "language": "sv"}
    assert json.loads(form_json(form)) == json.loads(json.dumps(form))
    assert json.loads(form_json({"fields": fields})) == {"fields": fields}
    assert json.loads(form_json({"fields": [], "language": "en"})) == {"fields": [], "language": "en"}

    # An admin's edit installs a new directory: the form shows it at once.
    renamed = dataclasses.replace(
        base,
        municipalities={
            **base.municipalities,
            "0180": dataclasses.replace(base.municipalities["0180"], name="Stockholms stad"),
        },
    )
    answered = json.loads(form_json({"fields": form_spec(g, renamed)}))
    municipality = next(f for f in answered["fields"] if f["key"] == "municipality")
    assert {"value": "0180", "label": {"sv": "Stockholms stad", "en": "Stockholms stad"}} == {
        k: v
        for k, v in next(m for m in municipality["values"] if m["value"] == "0180").items()
        if k != "county"
    }
    assert form_spec(g, base) is not fields  # the old directory's fields were made again
