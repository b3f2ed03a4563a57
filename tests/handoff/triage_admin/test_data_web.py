"""Browsing and editing the training examples and the safe responses; trying a sentence."""

from __future__ import annotations

from typing import Any

import yaml

from nlu.data import load_test_data, load_training_data
from nlu.responses import default_responses
from nlu.result import INTENTS
from tests.handoff.console.conftest import Browser
from tests.handoff.triage_admin.conftest import API, Gateway, audit_actions, parse

SCHEMA_KEYS = {
    "text",
    "intent",
    "intent_ranking",
    "entities",
    "language",
    "priority",
    "matched_rules",
    "safe_response",
}


async def examples(b: Browser, intent: str, q: str = "") -> list[str]:
    resp = await b.get(f"{API}/examples", params={"intent": intent, "q": q})
    assert resp.status == 200
    found: list[str] = (await resp.json())["examples"]
    return found


async def counts(b: Browser) -> dict[str, int]:
    resp = await b.get(f"{API}/intents")
    return {i["name"]: i["count"] for i in (await resp.json())["intents"]}


async def test_browse_intents_and_examples(gw: Gateway, admin: Browser) -> None:
    shipped = load_training_data()
    resp = await admin.get(f"{API}/intents")
    assert resp.status == 200
    body = await resp.json()
    assert [i["name"] for i in body["intents"]] == list(INTENTS)
    assert body["revision"] == {"id": 0, "shipped": True}
    by_name = {i["name"]: i for i in body["intents"]}
    assert by_name["urgent_threat"]["critical"] and by_name["urgent_threat"]["priority"] == "critical"
    assert by_name["urgent_threat"]["label"] == "Akut hot"
    assert not by_name["greet"]["critical"]
    assert {n: i["count"] for n, i in by_name.items()} == shipped.counts()
    assert {n: i["test_count"] for n, i in by_name.items()} == load_test_data().counts()

    assert await examples(admin, "self_harm") == shipped.examples["self_harm"]
    some = shipped.examples["greet"][0]
    filtered = await examples(admin, "greet", q=some)
    assert some in filtered and len(filtered) < len(shipped.examples["greet"])
    bad = await admin.get(f"{API}/examples", params={"intent": "nonsense"})
    assert bad.status == 422
    assert (await bad.json())["error"] == "unknown_intent"


async def test_add_edit_and_remove_an_example(gw: Gateway, admin: Browser) -> None:
    before = await counts(admin)
    text = "kan ni skicka en broschyr till min skola"
    resp = await admin.post(f"{API}/examples", {"intent": "info_request", "text": f"  {text} "})
    assert resp.status == 201, await resp.text()
    first_revision = (await resp.json())["revision"]
    assert text in await examples(admin, "info_request")
    assert (await counts(admin))["info_request"] == before["info_request"] + 1

    again = await admin.post(f"{API}/examples", {"intent": "info_request", "text": text})
    assert again.status == 409
    assert (await again.json())["error"] == "exists"

    # relabel and reword it
    new_text = "kan ni skicka en broschyr till vår skola"
    resp = await admin.post(
        f"{API}/examples/edit",
        {"intent": "info_request", "text": text, "new_intent": "concern_professional", "new_text": new_text},
    )
    assert resp.status == 200, await resp.text()
    assert text not in await examples(admin, "info_request")
    assert new_text in await examples(admin, "concern_professional")

    resp = await admin.post(f"{API}/examples/remove", {"intent": "concern_professional", "text": new_text})
    assert resp.status == 200
    assert new_text not in await examples(admin, "concern_professional")
    assert await counts(admin) == before
    missing = await admin.post(f"{API}/examples/remove", {"intent": "concern_professional", "text": new_text})
    assert missing.status == 404

    info = (await (await admin.get(f"{API}/intents")).json())["revision"]
    assert info["id"] == first_revision + 2 and info["by"] == "ada" and not info["shipped"]

    # the export is Rasa NLU YAML with the current data
    export = await admin.get(f"{API}/export")
    assert export.status == 200
    doc = yaml.safe_load(await export.text())
    assert doc["version"] == "3.1"
    assert {block["intent"] for block in doc["nlu"]} == set(INTENTS)

    events = await audit_actions(admin)
    mine = [e for e in events if e["action"].startswith("triage.example.")]
    assert [e["action"] for e in mine] == [
        "triage.example.removed",
        "triage.example.edited",
        "triage.example.added",
    ]
    assert all(e["actor"] == "ada" for e in mine)
    assert mine[2]["details"]["text"] == text and mine[2]["details"]["intent"] == "info_request"
    assert mine[1]["details"]["new_intent"] == "concern_professional"


async def test_examples_are_checked(gw: Gateway, admin: Browser) -> None:
    held_out_text, held_out_intent = next(load_test_data().pairs())
    resp = await admin.post(f"{API}/examples", {"intent": held_out_intent, "text": held_out_text.upper()})
    assert resp.status == 409
    body = await resp.json()
    assert body["error"] == "in_test_split"
    assert "testdelen" in body["message"]
    for payload in (
        {"intent": "greet", "text": "   "},
        {"intent": "greet", "text": "x" * 501},
        {"intent": "no_such_intent", "text": "hej"},
        {"intent": "greet"},
    ):
        resp = await admin.post(f"{API}/examples", payload)
        assert resp.status == 422, payload
    assert (await (await admin.get(f"{API}/intents")).json())["revision"]["id"] == 0


async def responses(b: Browser) -> dict[str, Any]:
    resp = await b.get(f"{API}/responses")
    assert resp.status == 200
    return {r["intent"]: r for r in (await resp.json())["responses"]}


async def test_edit_a_safe_response_and_the_running_triage_uses_it(gw: Gateway, admin: Browser) -> None:
    text = "Hej! Välkommen till stödlinjen. Skriv vad du vill prata om, så svarar en av oss så snart vi kan."
    resp = await admin.post(f"{API}/responses", {"intent": "greet", "language": "sv", "text": text})
    assert resp.status == 200, await resp.text()
    listed = await responses(admin)
    assert listed["greet"]["texts"]["sv"] == text
    assert listed["greet"]["overridden"] == ["sv"]
    assert (await parse(admin, "Hej hej!"))["safe_response"] == text

    resp = await admin.post(f"{API}/responses/reset", {"intent": "greet", "language": "sv"})
    assert resp.status == 200
    shipped = default_responses().get("greet", "sv")
    assert (await responses(admin))["greet"]["texts"]["sv"] == shipped
    assert (await parse(admin, "Hej hej!"))["safe_response"] == shipped

    events = [e for e in await audit_actions(admin) if e["action"].startswith("triage.response.")]
    assert [e["action"] for e in events] == ["triage.response.reset", "triage.response.edited"]
    assert events[1]["details"]["new"] == text and events[1]["details"]["old"] == shipped


async def test_a_critical_response_without_112_is_refused(gw: Gateway, admin: Browser) -> None:
    before = await responses(admin)
    resp = await admin.post(
        f"{API}/responses",
        {"intent": "urgent_threat", "language": "sv", "text": "Tack, vi läser ditt meddelande snart."},
    )
    assert resp.status == 422
    body = await resp.json()
    assert body["error"] == "needs_112"
    assert "112" in body["message"] and "kritiskt" in body["message"]

    resp = await admin.post(
        f"{API}/responses",
        {"intent": "self_harm", "language": "en", "text": "If someone is in danger, call 112 now."},
    )
    assert resp.status == 422
    body = await resp.json()
    assert body["error"] == "needs_90101"
    assert "90101" in body["message"]

    assert await responses(admin) == before
    assert "112" in (await parse(admin, "jag ska döda honom ikväll"))["safe_response"]
    assert not [e for e in await audit_actions(admin) if e["action"].startswith("triage.response.")]


async def test_try_a_sentence(gw: Gateway, admin: Browser) -> None:
    result = await parse(admin, "Jag ska spränga skolan imorgon")
    assert SCHEMA_KEYS <= set(result)
    assert result["intent"]["name"] == "urgent_threat"
    assert 0.0 <= result["intent"]["confidence"] <= 1.0
    assert result["priority"] == "critical"
    assert result["language"] == "sv"
    assert "112" in result["safe_response"]
    assert result["intent_ranking"][0]["name"] in INTENTS
    assert result["model_version"] == gw.triager.model.version
    empty = await admin.post(f"{API}/parse", {"text": ""})
    assert empty.status == 422
    # trying a sentence changes nothing, so it is not audited (the text may be a real message)
    assert not [e for e in await audit_actions(admin) if e["action"].startswith("triage.")]
