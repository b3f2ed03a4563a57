"""Issue 21: a trainee runs the critical-threat scenario through the training routes, a supervisor
watches, hints, approves the crime information and gives feedback; a real counsellor signed in at
the same time sees nothing, and no real table or broker topic changes."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.envelope import utcnow
from tests.handoff.console.conftest import Browser, Console

from .conftest import EventLog, real_rows, reports

API = "/console/api/training"
DOCUMENTATION = {
    "contact_type": "other",
    "relation": "self",
    "environment": "violent_right_wing",
    "age_group": "18_25",
    "gender": "male",
    "advice_given": ["how_to_talk"],
    "referral_made": False,
    "crime_information_passed": True,
    "outcome": "advice_given",
    "summary": "Övning: hot mot en moské på fredag.",
}


CON = API + "/console"
"""The console's own routes in the training space (what ``HL.base`` is on the console page)."""


async def _json(resp: Any) -> Any:
    return await resp.json()


async def said(b: Browser, sid: str, count: int) -> dict[str, Any]:
    """The console's transcript once the person has said ``count`` lines and types no more."""
    for _ in range(100):
        view: dict[str, Any] = await _json(await b.get(f"{CON}/conversations/{sid}"))
        if (
            sum(1 for m in view["messages"] if m["kind"] == "person") >= count
            and not view["conversation"]["typing"]
        ):
            return view
        await asyncio.sleep(0.02)
    raise AssertionError(view)


def person_lines(view: dict[str, Any]) -> list[str]:
    return [m["text"] for m in view["messages"] if m["kind"] == "person"]


async def test_a_whole_training_session_in_the_console_leaves_every_real_table_topic_and_report_as_it_was(
    console: Console,
) -> None:
    trainee = await console.signed_in("t_trainee", "trainee")
    supervisor = await console.signed_in("t_supervisor", "supervisor")
    counsellor = await console.signed_in("t_counsellor", "counsellor")
    assert (await counsellor.get("/console")).status == 200
    real_queue = await _json(await counsellor.get("/console/api/queue"))
    events = EventLog()
    await events.start(console)
    before = await real_rows(console, drained=True)
    at = utcnow()
    reports_before = await reports(console, at)

    # The trainee may not open the real console; the console's page in training mode is theirs.
    assert (await trainee.get("/console")).status == 403
    assert (await trainee.get("/console/api/queue")).status == 403
    page = await trainee.get("/console/training/console")
    html = await page.text()
    assert page.status == 200 and "Övningsläge" in html and 'data-api="/console/api/training/console"' in html
    assert 'id="queue-table"' in html and "transfer-to" not in html and 'id="my-status"' not in html

    resp = await trainee.post(f"{API}/sessions", {"scenario_id": "hot_threat_friday"})
    assert resp.status == 201, await resp.text()
    sid = (await resp.json())["id"]
    queue = await _json(await trainee.get(f"{CON}/queue"))
    assert [e["conversation_id"] for e in queue["waiting"]] == [sid]
    assert queue["mine"] == [] and (await _json(await counsellor.get(f"{CON}/queue")))["waiting"] == []
    view = await said(trainee, sid, 2)
    assert person_lines(view)[1].startswith("killarna i gruppen ska bränna moskén på fredag")
    assert view["conversation"]["state"] == "queued"
    assert view["triage"]["intent"] == view["messages"][-1]["triage"]["intent"]  # the gateway's triage
    assert (await trainee.post(f"{CON}/conversations/{sid}/reply", {"text": "Hej"})).status == 409
    assert (await counsellor.get(f"{CON}/conversations/{sid}")).status == 404  # not theirs

    assert (await trainee.post(f"{CON}/conversations/{sid}/claim")).status == 200
    mine = (await _json(await trainee.get(f"{CON}/queue")))["mine"]
    assert [e["conversation_id"] for e in mine] == [sid]
    resp = await trainee.post(
        f"{CON}/conversations/{sid}/reply", {"text": "Hej, jag heter Kim. Är du säker där du är nu?"}
    )
    assert (await resp.json())["message"]["kind"] == "counsellor"
    assert (await trainee.post(f"{CON}/conversations/{sid}/typing", {"typing": True})).status == 200
    view = await said(trainee, sid, 4)
    assert person_lines(view)[2:] == [
        "jag är hemma. de vet inte att jag skriver här",
        "men fredag är om två dagar",
    ]
    assert [m["seq"] for m in view["messages"]] == list(range(1, len(view["messages"]) + 1))

    # The supervisor sees the session live and sends a hint the person never answers.
    overview = await _json(await supervisor.get(f"{API}/overview"))
    assert [(s["id"], s["trainee"]) for s in overview["sessions"]] == [(sid, "t_trainee")]
    assert (
        await supervisor.post(f"{API}/sessions/{sid}/hint", {"text": "Ge 112 och ta upp polisen."})
    ).status == 201
    view = await _json(await trainee.get(f"{CON}/conversations/{sid}"))
    assert [m["text"] for m in view["messages"] if m["kind"] == "hint"] == ["Ge 112 och ta upp polisen."]
    assert len(person_lines(view)) == 4

    for text, count in (
        ("Om någon är i fara just nu: ring 112. Vill du att vi tar det här till polisen?", 5),
        ("Ja, vi kan lämna uppgiften vidare utan ditt namn.", 7),
    ):
        await trainee.post(f"{CON}/conversations/{sid}/reply", {"text": text})
        view = await said(trainee, sid, count)
    assert person_lines(view)[5:] == ["ja. gör det. men inte mitt namn", "jag vill bara inte att någon dör"]

    # Crime information with the console's own form, four eyes: the trainee starts it and may not
    # approve it; a supervisor does, and the transcript says nothing went to the police.
    seq = next(m["seq"] for m in view["messages"] if "moskén" in m["text"])
    resp = await trainee.post(
        f"{CON}/conversations/{sid}/disclosures",
        {
            "recipient_id": "polisen",
            "what": "Planerad mordbrand mot en moské",
            "when": "Fredag efter bönen",
            "where": "Moskén i stan",
            "certainty": "likely",
            "source_seqs": [seq],
            "legal_ground": "avert_serious_crime",
            "immediate_danger": True,
        },
    )
    assert resp.status == 201, await resp.text()
    assert (await resp.json())["disclosure"]["status"] == "pending_approval"
    assert (await trainee.post(f"{API}/sessions/{sid}/disclosure/decision", {"approve": True})).status == 403
    overview = await _json(await supervisor.get(f"{API}/overview"))
    assert overview["sessions"][0]["disclosure_pending"] is True
    resp = await supervisor.post(f"{API}/sessions/{sid}/disclosure/decision", {"approve": True})
    assert (await resp.json())["actions"]["disclosure"]["state"] == "approved"
    found = await _json(await trainee.get(f"{CON}/conversations/{sid}/disclosures"))
    assert [d["status"] for d in found["disclosures"]] == ["training_approved"]

    # A referral with the console's proposals: consent asked, shown as sent, delivered nowhere.
    proposals = await _json(
        await trainee.get(f"{CON}/handoff/proposals?municipality=0180&topic=radicalisation_concern")
    )
    recipient = proposals["proposals"][0]["recipient_id"]
    resp = await trainee.post(
        f"{CON}/conversations/{sid}/referrals",
        {
            "recipient_id": recipient,
            "topic": "radicalisation_concern",
            "summary": "Övning",
            "urgency": "normal",
        },
    )
    assert resp.status == 201, await resp.text()
    rid = (await resp.json())["referral"]["id"]
    resp = await trainee.post(f"{CON}/referrals/{rid}/consent-request")
    assert (await resp.json())["referral"]["status"] == "sent"
    view = await _json(await trainee.get(f"{CON}/conversations/{sid}"))
    assert [m["text"] for m in view["messages"] if m["kind"] == "system"] == [
        "Övning: arbetsledaren godkände brottsuppgiften. Inget skickades till polisen.",
        "Övning: personen samtyckte och remissen visas som skickad. Inget lämnade övningen.",
    ]

    # Close as the console closes; the documentation form follows (the real guidelines).
    assert (await trainee.post(f"{CON}/conversations/{sid}/close", {})).status == 200
    pending = await _json(await trainee.get(f"{CON}/documentation/pending"))
    assert [p["id"] for p in pending["pending"]] == [sid]
    form = await _json(await trainee.get(f"{CON}/conversations/{sid}/documentation"))
    assert form["values"]["crime_information_passed"] is True and form["values"]["referral_made"] is True
    resp = await trainee.post(f"{CON}/conversations/{sid}/documentation", {"values": {"summary": "kort"}})
    assert resp.status == 422
    assert {"contact_type", "outcome"} <= set((await resp.json())["fields"])
    resp = await trainee.post(
        f"{CON}/conversations/{sid}/documentation",
        {"values": {**DOCUMENTATION, "referral_made": True, "municipality": "0180"}},
    )
    assert resp.status == 200, await resp.text()
    assert (await _json(await trainee.get(f"{CON}/documentation/pending")))["pending"] == []
    closed = await _json(await trainee.get(f"{API}/sessions/{sid}"))
    assert closed["state"] == "closed"
    assert {s["id"]: s["done"] for s in closed["checklist"]} == {
        "give_112": True,
        "ask_safety": True,
        "crime_information": True,
        "four_eyes": True,
        "referral_consent": True,
        "documented": True,
    }
    assert all(s["after_seconds"] is not None for s in closed["checklist"])

    # Feedback, read by the trainee on their progress.
    await supervisor.post(
        f"{API}/sessions/{sid}/feedback", {"text": "Bra med 112. Erbjud hänvisning nästa gång."}
    )
    progress = await _json(await trainee.get(f"{API}/progress"))
    assert [(d["scenario_id"], d["steps_done"], d["steps"]) for d in progress["done"]] == [
        ("hot_threat_friday", 6, 6)
    ]
    assert progress["done"][0]["feedback"] == "Bra med 112. Erbjud hänvisning nästa gång."

    # The real counsellor saw nothing: not in the queue, and the session is not theirs to open.
    assert await _json(await counsellor.get("/console/api/queue")) == real_queue
    assert (await counsellor.get(f"{API}/sessions/{sid}")).status == 404
    assert (await _json(await counsellor.get(f"{API}/queue")))["sessions"] == []
    assert (await counsellor.get(f"{API}/overview")).status == 403

    await asyncio.sleep(0.2)  # anything published would have arrived by now
    await events.stop()
    assert events.events == []
    assert await real_rows(console) == before
    assert await reports(console, at) == reports_before
