"""Who may act on a training session: only the trainee whose session it is answers and closes it;
another trainee cannot even find it, a supervisor watching cannot take it over; a supervisor
practising may not approve their own crime information (four eyes)."""

from __future__ import annotations

from tests.handoff.console.conftest import Console

API = "/console/api/training"
CON = API + "/console"
DISCLOSURE = {
    "recipient_id": "polisen",
    "what": "Planerad resa för att ansluta till en väpnad grupp",
    "when": "Tisdag",
    "where": "Arlanda",
    "certainty": "likely",
    "source_seqs": [1],
    "legal_ground": "avert_serious_crime",
}


async def test_a_session_is_its_trainees_and_four_eyes_hold_for_a_practising_supervisor(
    console: Console,
) -> None:
    kim = await console.signed_in("t_kim", "trainee")
    alex = await console.signed_in("t_alex", "trainee")
    sam = await console.signed_in("t_sam", "supervisor")
    sid = (await (await kim.post(f"{API}/sessions", {"scenario_id": "cousin_travel"})).json())["id"]
    assert (await alex.get(f"{API}/sessions/{sid}")).status == 404
    assert (await alex.get(f"{CON}/conversations/{sid}")).status == 404
    assert (await alex.post(f"{CON}/conversations/{sid}/claim")).status == 404
    assert (await sam.post(f"{CON}/conversations/{sid}/claim")).status == 404  # watching is not taking over
    assert (await kim.post(f"{CON}/conversations/{sid}/claim")).status == 200
    assert (await kim.post(f"{CON}/conversations/{sid}/claim")).status == 409
    resp = await kim.post(f"{CON}/conversations/{sid}/reply", {"text": "   "})
    assert resp.status == 422 and (await resp.json())["error"] == "text_required"
    resp = await sam.post(f"{API}/sessions/{sid}/disclosure/decision", {"approve": True})
    assert resp.status == 409 and (await resp.json())["error"] == "no_pending_disclosure"

    own = (await (await sam.post(f"{API}/sessions", {"scenario_id": "cousin_travel"})).json())["id"]
    await sam.post(f"{CON}/conversations/{own}/claim")
    assert (await sam.post(f"{CON}/conversations/{own}/disclosures", DISCLOSURE)).status == 201
    resp = await sam.post(f"{CON}/conversations/{own}/disclosures", DISCLOSURE)
    assert resp.status == 409 and (await resp.json())["error"] == "disclosure_pending"
    resp = await sam.post(f"{API}/sessions/{own}/disclosure/decision", {"approve": True})
    assert resp.status == 409 and (await resp.json())["error"] == "four_eyes"
    other = await console.signed_in("t_other_sup", "supervisor")
    resp = await other.post(f"{API}/sessions/{own}/disclosure/decision", {"approve": False})
    assert (await resp.json())["actions"]["disclosure"]["state"] == "returned"

    resp = await kim.post(f"{CON}/conversations/{sid}/documentation", {"values": {}})
    assert resp.status == 409 and (await resp.json())["error"] == "not_closed"
    assert (await kim.post(f"{CON}/conversations/{sid}/close", {})).status == 200
    assert (await kim.post(f"{CON}/conversations/{sid}/reply", {"text": "Hej"})).status == 409
    resp = await kim.post(f"{CON}/conversations/{sid}/documentation", {"values": {}})
    assert resp.status == 422 and "outcome" in (await resp.json())["fields"]
    unknown = await kim.post(f"{API}/sessions", {"scenario_id": "no_such_scenario"})
    assert unknown.status == 404
