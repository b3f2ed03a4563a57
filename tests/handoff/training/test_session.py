"""Issue 21: a trainee runs the critical-threat scenario through the training routes, a supervisor
watches, hints, approves the crime information and gives feedback; a real counsellor signed in at
the same time sees nothing, and no real table or broker topic changes."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.handoff.console.conftest import Browser, Console

from .conftest import EventLog, real_rows

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


async def _json(resp: Any) -> Any:
    return await resp.json()


async def said(b: Browser, sid: str, count: int) -> dict[str, Any]:
    """The session once the person has said ``count`` lines."""
    for _ in range(100):
        view: dict[str, Any] = await _json(await b.get(f"{API}/sessions/{sid}"))
        if sum(1 for m in view["messages"] if m["kind"] == "person") >= count and not view["typing"]:
            return view
        await asyncio.sleep(0.02)
    raise AssertionError(view)


def person_lines(view: dict[str, Any]) -> list[str]:
    return [m["text"] for m in view["messages"] if m["kind"] == "person"]


async def test_a_whole_training_session_leaves_every_real_table_and_topic_as_it_was(console: Console) -> None:
    trainee = await console.signed_in("t_trainee", "trainee")
    supervisor = await console.signed_in("t_supervisor", "supervisor")
    counsellor = await console.signed_in("t_counsellor", "counsellor")
    assert (await counsellor.get("/console")).status == 200
    real_queue = await _json(await counsellor.get("/console/api/queue"))
    events = EventLog()
    await events.start(console)
    before = await real_rows(console)

    # The trainee lands on the training page and may not open the real console.
    assert (await trainee.get("/console")).status == 403
    page = await trainee.get("/console/training")
    assert page.status == 200 and "ÖVNINGSLÄGE" in await page.text()

    resp = await trainee.post(f"{API}/sessions", {"scenario_id": "hot_threat_friday"})
    assert resp.status == 201, await resp.text()
    sid = (await resp.json())["id"]
    queue = await _json(await trainee.get(f"{API}/queue"))
    assert [s["id"] for s in queue["sessions"]] == [sid]
    view = await said(trainee, sid, 2)
    assert person_lines(view)[1].startswith("killarna i gruppen ska bränna moskén på fredag")
    assert view["state"] == "queued"
    assert (await trainee.post(f"{API}/sessions/{sid}/reply", {"text": "Hej"})).status == 409  # not claimed

    assert (await trainee.post(f"{API}/sessions/{sid}/claim")).status == 200
    await trainee.post(
        f"{API}/sessions/{sid}/reply", {"text": "Hej, jag heter Kim. Är du säker där du är nu?"}
    )
    view = await said(trainee, sid, 4)
    assert person_lines(view)[2:] == [
        "jag är hemma. de vet inte att jag skriver här",
        "men fredag är om två dagar",
    ]

    # The supervisor sees the session live and sends a hint the person never answers.
    overview = await _json(await supervisor.get(f"{API}/overview"))
    assert [(s["id"], s["trainee"]) for s in overview["sessions"]] == [(sid, "t_trainee")]
    assert (
        await supervisor.post(f"{API}/sessions/{sid}/hint", {"text": "Ge 112 och ta upp polisen."})
    ).status == 201
    view = await _json(await trainee.get(f"{API}/sessions/{sid}"))
    assert [m["text"] for m in view["messages"] if m["kind"] == "hint"] == ["Ge 112 och ta upp polisen."]
    assert len(person_lines(view)) == 4

    await trainee.post(
        f"{API}/sessions/{sid}/reply",
        {"text": "Om någon är i fara just nu: ring 112. Vill du att vi tar det här till polisen?"},
    )
    view = await said(trainee, sid, 5)
    assert person_lines(view)[4] == "om jag berättar för er, kan ni säga det till polisen utan mitt namn?"
    await trainee.post(
        f"{API}/sessions/{sid}/reply", {"text": "Ja, vi kan lämna uppgiften vidare utan ditt namn."}
    )
    view = await said(trainee, sid, 7)
    assert person_lines(view)[5:] == ["ja. gör det. men inte mitt namn", "jag vill bara inte att någon dör"]

    # Crime information with four eyes: the trainee starts it, may not approve it; a supervisor does.
    resp = await trainee.post(
        f"{API}/sessions/{sid}/disclosure",
        {"what": "Planerad mordbrand mot en moské", "when": "Fredag efter bönen", "where": "Moskén i stan"},
    )
    assert (await resp.json())["actions"]["disclosure"]["state"] == "pending"
    assert (await trainee.post(f"{API}/sessions/{sid}/disclosure/decision", {"approve": True})).status == 403
    overview = await _json(await supervisor.get(f"{API}/overview"))
    assert overview["sessions"][0]["disclosure_pending"] is True
    resp = await supervisor.post(f"{API}/sessions/{sid}/disclosure/decision", {"approve": True})
    assert (await resp.json())["actions"]["disclosure"]["state"] == "approved"

    # Close: the real documentation guidelines refuse an incomplete record, naming the fields.
    resp = await trainee.post(f"{API}/sessions/{sid}/close", {"values": {"summary": "kort"}})
    assert resp.status == 422
    assert {"contact_type", "outcome"} <= set((await resp.json())["fields"])
    resp = await trainee.post(f"{API}/sessions/{sid}/close", {"values": DOCUMENTATION})
    assert resp.status == 200, await resp.text()
    closed = await resp.json()
    assert closed["state"] == "closed"
    marks = {s["id"]: s["done"] for s in closed["checklist"]}
    assert marks == {
        "give_112": True,
        "ask_safety": True,
        "crime_information": True,
        "four_eyes": True,
        "referral_consent": False,
        "documented": True,
    }
    assert all(s["after_seconds"] is not None for s in closed["checklist"] if s["done"])

    # Feedback, read by the trainee on their progress.
    await supervisor.post(
        f"{API}/sessions/{sid}/feedback", {"text": "Bra med 112. Erbjud hänvisning nästa gång."}
    )
    progress = await _json(await trainee.get(f"{API}/progress"))
    assert [(d["scenario_id"], d["steps_done"], d["steps"]) for d in progress["done"]] == [
        ("hot_threat_friday", 5, 6)
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
