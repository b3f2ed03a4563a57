"""Admins handle counsellors' corrections of the triage: list them, accept one (a new revision of the
training data; never a sentence of the held-out test split) or reject it, both audited; and see how
many corrections the active model still gets wrong, before and after retraining."""

from __future__ import annotations

from typing import Any

from gateway.envelope import Priority
from handoff.corrections import still_wrong
from handoff.records.redaction import redact
from handoff.triage_admin.correction_models import TriageCorrection
from nlu.data import load_test_data
from nlu.result import TriageResult
from tests.handoff.console.conftest import Browser
from tests.handoff.triage_admin.conftest import API, Gateway, audit_actions, conversation, correct, train

CORRECTIONS = API + "/corrections"
NEW_GREETINGS = ("blixtlåsgurka", "blixtlåsgurka på er", "blixtlåsgurka allihop")


async def listing(admin: Browser, state: str = "proposed") -> dict[str, Any]:
    resp = await admin.get(f"{CORRECTIONS}?state={state}")
    assert resp.status == 200, await resp.text()
    data: dict[str, Any] = await resp.json()
    return data


async def evaluation(admin: Browser) -> dict[str, Any]:
    resp = await admin.get(f"{CORRECTIONS}/evaluation")
    assert resp.status == 200, await resp.text()
    data: dict[str, Any] = await resp.json()
    return data


async def test_accept_adds_the_redacted_text_as_a_new_revision_and_reject_refuses_it(
    gw: Gateway, admin: Browser
) -> None:
    carl = await gw.signed_in("carl", "counsellor")
    ids = await conversation(gw, carl, "p1", "min son Erik har blivit radikal", *NEW_GREETINGS)
    greet_ids = [await correct(carl, ids, text, intent="greet") for text in NEW_GREETINGS]
    danger_id = await correct(carl, ids, "min son Erik har blivit radikal", danger=True)

    listed = await listing(admin)
    assert listed["counts"] == {"proposed": 4, "accepted": 0, "rejected": 0}
    by_id = {c["id"]: c for c in listed["corrections"]}
    assert by_id[danger_id]["text"] == "min son [NAMN] har blivit radikal"
    assert by_id[danger_id]["original"]["intent"] == "concern_relative"
    assert by_id[greet_ids[0]]["counsellor"] == "carl" and by_id[greet_ids[0]]["intent"] == "greet"
    assert by_id[greet_ids[0]]["original"] == {"intent": "out_of_scope", "priority": "low", "risk": None}

    for n, cid in enumerate(greet_ids, start=1):
        resp = await admin.post(f"{CORRECTIONS}/{cid}/accept")
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["revision"] == n
    examples = (await (await admin.get(f"{API}/examples?intent=greet")).json())["examples"]
    assert set(NEW_GREETINGS) <= set(examples)
    again = await admin.post(f"{CORRECTIONS}/{greet_ids[0]}/accept")
    assert again.status == 409 and (await again.json())["error"] == "already_decided"

    # "Danger: yes" alone gives no intent: the admin must name one to accept it.
    no_intent = await admin.post(f"{CORRECTIONS}/{danger_id}/accept")
    assert no_intent.status == 422 and (await no_intent.json())["error"] == "intent_required"
    assert "ärendetyp" in (await no_intent.json())["message"]
    assert (await admin.post(f"{CORRECTIONS}/{danger_id}/reject")).status == 200
    assert (await listing(admin))["corrections"] == []
    assert {c["id"] for c in (await listing(admin, "accepted"))["corrections"]} == set(greet_ids)
    assert [c["id"] for c in (await listing(admin, "rejected"))["corrections"]] == [danger_id]
    # The counsellor's mark shows the decision.
    body = await (await carl.get(f"/console/api/conversations/{ids['conversation']}")).json()
    assert body["corrections"][ids["blixtlåsgurka"]]["state"] == "accepted"

    events = await audit_actions(admin)
    actions = [e["action"] for e in events]
    assert actions.count("triage.correction.accepted") == 3 and actions.count("triage.example.added") == 3
    rejected = next(e for e in events if e["action"] == "triage.correction.rejected")
    assert rejected["actor"] == "ada" and rejected["conversation_id"] == ids["conversation"]
    assert "triage.corrections.listed" in actions
    # A counsellor may not decide.
    assert (await carl.post(f"{CORRECTIONS}/{danger_id}/accept")).status == 403


async def test_a_sentence_of_the_held_out_test_split_is_never_accepted(gw: Gateway, admin: Browser) -> None:
    held_out = next(
        text
        for text, intent in load_test_data().pairs()
        if intent == "concern_relative" and redact(text).text == text
    )
    carl = await gw.signed_in("carl", "counsellor")
    ids = await conversation(gw, carl, "p2", held_out)
    cid = await correct(carl, ids, held_out, intent="concern_professional")
    (listed,) = (await listing(admin))["corrections"]
    assert listed["in_test_split"] is True
    resp = await admin.post(f"{CORRECTIONS}/{cid}/accept")
    assert resp.status == 409 and (await resp.json())["error"] == "in_test_split"
    assert "testdelen" in (await resp.json())["message"]
    assert [c["id"] for c in (await listing(admin))["corrections"]] == [cid]
    intents = await (await admin.get(f"{API}/intents")).json()
    assert intents["revision"]["id"] == 0  # the training data did not change


async def test_the_evaluation_counts_what_the_active_model_still_gets_wrong(
    gw: Gateway, admin: Browser
) -> None:
    carl = await gw.signed_in("carl", "counsellor")
    ids = await conversation(gw, carl, "p3", "min son har blivit radikal", *NEW_GREETINGS)
    calm = await conversation(gw, carl, "p4", "jag oroar mig för min dotter")
    greet_ids = [await correct(carl, ids, text, intent="greet") for text in NEW_GREETINGS]
    await correct(carl, ids, "min son har blivit radikal", danger=True)  # normal: below high, wrong
    await correct(carl, calm, "jag oroar mig för min dotter", danger=False)  # no risk, not critical: right

    before = await evaluation(admin)
    assert before["accepted"] == {"total": 0, "wrong": 0}
    assert before["proposed"] == {"total": 5, "wrong": 4}
    assert before["model_version"] == gw.triager.model.version

    for cid in greet_ids:
        assert (await admin.post(f"{CORRECTIONS}/{cid}/accept")).status == 200
    accepted = await evaluation(admin)
    assert accepted["accepted"] == {"total": 3, "wrong": 3}  # in the data, but not yet learnt
    assert accepted["proposed"] == {"total": 2, "wrong": 1}

    job = await train(admin)
    assert job["status"] == "done" and job["gate"]["ok"] is True, job
    resp = await admin.post(f"{API}/models/{job['candidate']['version']}/activate")
    assert resp.status == 200, await resp.text()
    after = await evaluation(admin)
    assert after["model_version"] == job["candidate"]["version"]
    assert after["accepted"] == {"total": 3, "wrong": 0}
    assert after["proposed"] == {"total": 2, "wrong": 1}
    assert [w["state"] for w in after["wrong"]] == ["proposed"]


def _result(intent: str, priority: Priority, risk: dict[str, Any] | None = None) -> TriageResult:
    return TriageResult(
        text="x", intent=intent, confidence=0.9, language="sv", priority=priority, safe_response="", risk=risk
    )


def test_when_a_correction_counts_as_still_wrong() -> None:
    def c(intent: str | None = None, danger: bool | None = None) -> TriageCorrection:
        return TriageCorrection(intent=intent, danger=danger)

    pills = {"type": "self", "reason": "means: pills", "score": 0.8, "signals": []}
    assert still_wrong(c("greet"), _result("out_of_scope", Priority.LOW))
    assert not still_wrong(c("greet"), _result("greet", Priority.LOW))
    assert still_wrong(c(danger=True), _result("concern_relative", Priority.NORMAL))
    assert not still_wrong(c(danger=True), _result("travel_conflict", Priority.HIGH))
    assert not still_wrong(c(danger=False), _result("concern_relative", Priority.NORMAL))
    assert still_wrong(c(danger=False), _result("concern_relative", Priority.CRITICAL, pills))
    assert still_wrong(c(danger=False), _result("concern_relative", Priority.NORMAL, pills))
    assert still_wrong(c("self_harm", danger=True), _result("concern_relative", Priority.HIGH))
