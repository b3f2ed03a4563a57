"""Issue 16, item 3: every route's real answers fit the OpenAPI document at ``/api/openapi.json``.

One realistic tour of the console, the handoffs, the portal, the records, the directory admin and
the triage admin: each step a request a user's page sends, its answer's status declared by the route
in the document (a success answer by its own status, not a catch-all) and its body valid against the
declared schema; each request body valid against the route's declared input schema.  At the end
every API route and every page of the table has answered at least once with success (the live
socket and signing out aside: :data:`NOT_TOURED`).  The triage admin's retraining runs for real (the
embedded model of the admin's data, some 30 s), so that activating and rolling back answer too."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import pyotp
import pytest

from handoff.phone.replay import post_events
from handoff.web import Route
from handoff.web.openapi import plain_path

from .kit import CONV, DISCLOSURE, PHONE_SECRET, REFERRAL, TABLE, World, check, cookie_for

STAFF = "/console/api/staff/{user_id}"
PHONE_CALL = "/console/api/phone/calls/{conversation_id}"

pytestmark = pytest.mark.asyncio(loop_scope="module")

BY_PATH = {(r.method, plain_path(r.path)): r for r in TABLE}
NOT_TOURED = {("GET", "/console/ws"), ("POST", "/console/logout")}
"""Walked by the other tests: the live socket (101) and signing out (303)."""
DOCUMENTATION = {
    "contact_type": "relative",
    "relation": "sibling",
    "environment": "violent_right_wing",
    "age_group": "15_17",
    "gender": "male",
    "municipality": "1880",
    "advice_given": ["how_to_talk"],
    "referral_made": True,
    "crime_information_passed": True,
    "outcome": "advice_given",
    "summary": "Syster orolig för broderns nya umgänge.",
}


@dataclass
class Tour:
    world: World
    document: dict[str, Any]
    answered: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    async def call(
        self,
        who: str,
        method: str,
        template: str,
        body: Any = None,
        *,
        expect: int | tuple[int, ...] = 200,
        query: str = "",
        **ids: Any,
    ) -> Any:
        """``who`` sends the request; its answer must be ``expect`` and fit the document."""
        route: Route = BY_PATH[(method, template)]
        b = self.world.other if who == "other" else self.world.browsers[who]
        assert b is not None
        path = self.world.concrete(route, **ids) + query
        op = self.document["paths"][template][method.lower()]
        if method == "GET":
            resp = await b.get(path, headers=cookie_for(b, path))
        else:
            if body is not None:
                schema = op["requestBody"]["content"]["application/json"]["schema"]
                jsonschema.Draft202012Validator(
                    {**schema, "components": self.document["components"]}
                ).validate(body)
            resp = await b.post(path, body, headers=cookie_for(b, path))
        self.world.seen(route, resp.status)
        content_type = resp.headers.get("Content-Type", "").split(";")[0]
        data = await resp.json() if content_type == "application/json" else await resp.text()
        assert resp.status in (expect if isinstance(expect, tuple) else (expect,)), (
            template,
            resp.status,
            data,
        )
        if 200 <= resp.status < 300:
            assert str(resp.status) in op["responses"], (method, template, resp.status)
        check(self.document, op, resp.status, content_type, data)
        self.answered.setdefault((method, template), []).append(resp.status)
        return data

    async def until(self, who: str, template: str, wanted: Callable[[Any], bool], **ids: Any) -> Any:
        for _ in range(1200):
            data = await self.call(who, "GET", template, **ids)
            if wanted(data):
                return data
            await asyncio.sleep(0.05)
        raise AssertionError(f"{template}: never as wanted: {data}")


async def test_every_routes_real_answers_fit_the_document(world: World, document: dict[str, Any]) -> None:
    tour = Tour(world, document)
    await _console(tour)
    await _triage(tour)  # (before the erasure: it accepts the counsellor's correction)
    await _handoffs(tour)
    await _records(tour)
    await _directory(tour)
    await _shift_and_history(tour)
    await _staff(tour)
    await _phone(tour)
    await _training(tour)

    succeeded = {key for key, statuses in tour.answered.items() if any(200 <= s < 300 for s in statuses)}
    assert set(BY_PATH) - succeeded == NOT_TOURED, sorted(set(BY_PATH) - succeeded - NOT_TOURED)
    world.clean()


# ---------------------------------------------------------------------- the tour
async def _console(tour: Tour) -> None:
    conv = tour.world.conversation
    await tour.call("counsellor", "GET", "/console")
    await tour.call("supervisor", "GET", "/console/supervisor")
    await tour.call("counsellor", "GET", "/console/conversations/{conversation_id}")
    await tour.call("admin", "GET", "/console/triage")
    await tour.call("admin", "GET", "/console/directory")
    await tour.call("municipality", "GET", "/console/portal")
    await tour.call("counsellor", "GET", "/console/api/queue")
    second = await tour.world.console.person("tur@example.org", "Jag vill lämna rörelsen")
    await tour.call("counsellor", "POST", CONV + "/claim", conversation_id=second)
    transcript = await tour.call("counsellor", "GET", CONV)
    await tour.call("counsellor", "POST", CONV + "/typing", {"typing": True})
    await tour.call("counsellor", "POST", CONV + "/reply", {"text": "Hej, jag heter Kit."})
    person = next(m for m in transcript["messages"] if m["kind"] == "person")
    await tour.call(
        "counsellor",
        "POST",
        CONV + "/messages/{message_id}/correction",
        {"intent": "leave_movement", "danger": False},
        expect=201,
        message_id=person["id"],
    )
    await tour.call("counsellor", "POST", CONV + "/transfer", {"to": "kit_other"}, conversation_id=second)
    theirs = await tour.call("other", "GET", CONV, conversation_id=second)
    await tour.call(
        "other",
        "POST",
        CONV + "/messages/{message_id}/correction",
        {"danger": True},
        expect=201,
        conversation_id=second,
        message_id=next(m for m in theirs["messages"] if m["kind"] == "person")["id"],
    )
    await tour.call("other", "POST", CONV + "/release", conversation_id=second)
    await tour.call("counsellor", "GET", "/console/api/canned")
    await tour.call("supervisor", "GET", "/console/api/supervisor")
    await tour.call("supervisor", "GET", "/console/api/audit", query=f"?conversation_id={conv}")
    await tour.call("admin", "GET", "/console/api/dead-letters")


async def _handoffs(tour: Tour) -> None:
    await tour.call("counsellor", "GET", "/console/api/handoff/options")
    await tour.call(
        "counsellor",
        "GET",
        "/console/api/handoff/proposals",
        query="?municipality=0180&topic=radicalisation_concern&contact_type=relative",
    )
    await tour.call("counsellor", "GET", CONV + "/referrals")
    # A referral to Stockholm's social services, whom the portal user (0180) works for.
    stockholm = {**REFERRAL, "recipient_id": "socialtjanst-0180", "municipality_code": "0180"}
    made = await tour.call("counsellor", "POST", CONV + "/referrals", stockholm, expect=201)
    rid = made["referral"]["id"]
    await tour.call("counsellor", "GET", "/console/api/referrals/{referral_id}", referral_id=rid)
    await tour.call(
        "counsellor", "POST", "/console/api/referrals/{referral_id}/consent-request", referral_id=rid
    )
    await tour.call(
        "counsellor",
        "POST",
        "/console/api/referrals/{referral_id}/consent",
        {"consent": True},
        referral_id=rid,
    )
    await tour.call(
        "counsellor",
        "POST",
        "/console/api/referrals/{referral_id}/consent-not-asked",
        {"reason": "Personen svarar inte."},
    )
    portal = "/console/portal/api"
    await tour.call("municipality", "GET", portal + "/me")
    await tour.until(
        "municipality", portal + "/referrals", lambda d: [r["id"] for r in d["referrals"]] == [rid]
    )
    await tour.call("municipality", "GET", portal + "/referrals/{referral_id}", referral_id=rid)
    await tour.call("municipality", "POST", portal + "/referrals/{referral_id}/acknowledge", referral_id=rid)
    await tour.call(
        "municipality",
        "POST",
        portal + "/referrals/{referral_id}/status",
        {"status": "contact_made", "note": "Vi har ringt."},
        referral_id=rid,
    )

    disc = "/console/api/disclosures/{disclosure_id}"
    await tour.call("counsellor", "GET", CONV + "/disclosures")
    second = await tour.call("counsellor", "POST", CONV + "/disclosures", DISCLOSURE, expect=201)
    await tour.call("supervisor", "GET", "/console/api/disclosures")
    await tour.call("counsellor", "GET", disc)
    await tour.call("supervisor", "POST", disc + "/approve")
    # The police take nothing electronic from us (the shipped directory): it waits for a call.
    await tour.until("counsellor", disc, lambda d: d["disclosure"]["status"] == "awaiting_manual")
    await tour.call("counsellor", "GET", disc + "/readout")
    await tour.call(
        "counsellor",
        "POST",
        disc + "/phoned",
        {"number": "114 14", "police_reference": "K123-26", "called_at": "", "note": "Lämnat."},
    )
    await tour.call(
        "supervisor",
        "POST",
        disc + "/reject",
        {"reason": "Uppgifterna räcker inte."},
        disclosure_id=second["disclosure"]["id"],
    )
    urgent = await tour.call(
        "counsellor", "POST", CONV + "/disclosures", {**DISCLOSURE, "immediate_danger": True}, expect=201
    )
    await tour.call(
        "supervisor",
        "POST",
        disc + "/review",
        {"note": "Rätt bedömt."},
        disclosure_id=urgent["disclosure"]["id"],
    )


async def _records(tour: Tour) -> None:
    await tour.call("counsellor", "POST", CONV + "/close", {"reason": "Samtalet är klart."})
    await tour.call("counsellor", "GET", CONV + "/documentation")
    await tour.call("counsellor", "GET", "/console/api/documentation/pending")
    await tour.call("counsellor", "POST", CONV + "/documentation", {"values": DOCUMENTATION})
    await tour.call("supervisor", "POST", CONV + "/erase", {"reason": "person_request"})
    await tour.call("supervisor", "GET", "/portal/api/situation", query="?area=0180")
    await tour.call("municipality", "GET", "/console/portal/api/situation")


async def _directory(tour: Tour) -> None:
    api = "/console/api/directory"
    one = api + "/recipients/{recipient_id}"
    await tour.call("admin", "GET", api + "/options")
    await tour.call("admin", "GET", api + "/recipients", query="?q=stockholm")
    bris = (await tour.call("admin", "GET", one, recipient_id="bris"))["recipient"]
    form = {  # the page's form, as it sends it
        "id": "kit-stod",
        "name_sv": "Kitstöd",
        "name_en": "Kit support",
        "kind": bris["kind"],
        "topics": bris["topics"],
        "target_groups": bris["target_groups"],
        "languages": "sv, en",
        "opening_hours": bris["opening_hours"],
        "phone": "08-123 45 67",
        "emergency_phone": "",
        "website": "https://kit.example",
        "methods": {"portal": False, "email": "stod@kit.example", "webhook": ""},
    }
    made = await tour.call("admin", "POST", api + "/recipients", form, expect=201)
    revision = made["recipient"]["revision"]
    changed = await tour.call(
        "admin", "POST", one, {**form, "phone": "08-765 43 21", "revision": revision}, recipient_id="kit-stod"
    )
    revision = changed["recipient"]["revision"]
    await tour.call(
        "admin", "POST", one + "/active", {"active": False, "revision": revision}, recipient_id="kit-stod"
    )
    bris_revision = bris["revision"]
    changed = await tour.call(
        "admin", "POST", one + "/active", {"active": False, "revision": bris_revision}, recipient_id="bris"
    )
    await tour.call(
        "admin", "POST", one + "/reset", {"revision": changed["recipient"]["revision"]}, recipient_id="bris"
    )
    house = (await tour.call("admin", "GET", one, recipient_id="kunskapshus-goteborg"))["recipient"]
    area = [m for m in house["serves"]["municipalities"] if m != "1384"]
    await tour.call(
        "admin",
        "POST",
        api + "/kunskapshus/{recipient_id}/area",
        {"counties": [], "municipalities": area, "revision": house["revision"]},
        recipient_id="kunskapshus-goteborg",
    )
    await tour.call("admin", "GET", api + "/history")


async def _triage(tour: Tour) -> None:
    api = "/console/api/triage"
    await tour.call("admin", "GET", api + "/intents")
    await tour.call("admin", "GET", api + "/examples", query="?intent=leave_movement")
    await tour.call("admin", "GET", api + "/export")
    example = {"intent": "leave_movement", "text": "Jag vill ta mig ur gruppen jag är med i"}
    await tour.call("admin", "POST", api + "/examples", example, expect=201)
    edited = {**example, "new_text": "Jag vill ta mig ur gruppen jag är med i nu"}
    await tour.call("admin", "POST", api + "/examples/edit", edited)
    await tour.call(
        "admin", "POST", api + "/examples/remove", {"intent": "leave_movement", "text": edited["new_text"]}
    )
    await tour.call("admin", "GET", api + "/responses")
    response = {"intent": "greet", "language": "sv", "text": "Hej! Skriv gärna vad du funderar på."}
    await tour.call("admin", "POST", api + "/responses", response)
    await tour.call("admin", "POST", api + "/responses/reset", {"intent": "greet", "language": "sv"})
    await tour.call("admin", "POST", api + "/parse", {"text": "Min bror vill lämna rörelsen"})
    await tour.call("admin", "GET", api + "/models")
    corrections = await tour.call("admin", "GET", api + "/corrections")
    await tour.call("admin", "GET", api + "/corrections/evaluation")
    first, second = corrections["corrections"]
    await tour.call(
        "admin",
        "POST",
        api + "/corrections/{correction_id}/accept",
        {"intent": "leave_movement"},
        correction_id=str(first["id"]),
    )
    await tour.call(
        "admin", "POST", api + "/corrections/{correction_id}/reject", correction_id=str(second["id"])
    )
    started = await tour.call("admin", "POST", api + "/train", expect=202)
    job = await tour.until(
        "admin", api + "/train/{job_id}", lambda d: d["status"] != "running", job_id=started["job"]
    )
    version = job["candidate"]["version"]
    activated = await tour.call("admin", "POST", api + "/models/{version}/activate", version=version)
    assert activated["version"] == version
    await tour.call("admin", "POST", api + "/rollback")


async def _shift_and_history(tour: Tour) -> None:
    """The counsellor's workplace: status, Nästa samtal, a returning person, search, audit, care."""
    await tour.call("counsellor", "GET", "/console/api/status")
    await tour.call("counsellor", "POST", "/console/api/status", {"status": "available"})
    first = await tour.world.console.person("back@example.org", "Jag oroar mig för min son")
    await tour.call("supervisor", "POST", "/console/api/queue/next")  # the most urgent waiting one
    await tour.call("counsellor", "POST", CONV + "/claim", conversation_id=first)
    await tour.call("counsellor", "POST", CONV + "/close", {"reason": "Klart för nu."}, conversation_id=first)
    await tour.call(
        "counsellor", "POST", CONV + "/debrief", {"note": "Tungt."}, expect=201, conversation_id=first
    )
    await tour.call(
        "counsellor", "POST", CONV + "/documentation", {"values": DOCUMENTATION}, conversation_id=first
    )
    again = await tour.world.console.person("back@example.org", "Hej igen, det gäller min son")
    await tour.call("counsellor", "POST", CONV + "/claim", conversation_id=again)
    person = await tour.call("counsellor", "GET", CONV + "/person", conversation_id=again)
    assert [e["conversation_id"] for e in person["earlier"]] == [first], person
    await tour.call(
        "counsellor", "GET", CONV + "/person/{earlier_id}", conversation_id=again, earlier_id=first
    )
    await tour.call("counsellor", "POST", CONV + "/forget", conversation_id=again)
    await tour.call("supervisor", "GET", "/console/search")
    await tour.call("supervisor", "GET", "/console/api/search", query="?words=son")
    await tour.call(
        "supervisor", "GET", "/console/api/search/records/{conversation_id}", conversation_id=first
    )
    await tour.call("supervisor", "GET", "/console/audit")
    await tour.call("supervisor", "GET", "/console/api/audit-log", query=f"?conversation_id={first}")
    await tour.call("admin", "GET", "/console/api/audit-log.csv")
    await tour.call("supervisor", "GET", "/console/api/care/shift")


async def _phone(tour: Tour) -> None:
    """Calls: one logged by hand, started and stopped; a callback's number for its holder."""
    started = await tour.call("counsellor", "POST", "/console/api/phone/calls", {}, expect=201)
    call = started["conversation_id"]
    await tour.call("counsellor", "GET", PHONE_CALL, conversation_id=call)
    await tour.call("counsellor", "POST", PHONE_CALL + "/stop", conversation_id=call)
    await tour.call("counsellor", "POST", "/console/api/phone/calls", {"duration_seconds": 60}, expect=201)
    base = {"call_id": "tour-1", "line": "stodlinjen", "caller": "+46701740606", "callback": True}
    answers = await post_events(
        tour.world.console.base, PHONE_SECRET, [{**base, "event": "ringing"}, {**base, "event": "ended"}]
    )
    assert [status for status, _ in answers] == [200, 200], answers
    callback = answers[0][1]["conversation_id"]
    await tour.call("supervisor", "POST", CONV + "/claim", conversation_id=callback)
    await tour.call("supervisor", "GET", PHONE_CALL + "/number", conversation_id=callback)


async def _staff(tour: Tour) -> None:
    """Staff accounts (the admin's page) and one's own account: sessions, the second factor."""
    await tour.call("admin", "GET", "/console/staff")
    await tour.call("admin", "GET", "/console/api/staff")
    made = await tour.call(
        "admin", "POST", "/console/api/staff", {"username": "tour_new", "role": "counsellor"}, expect=201
    )
    uid = str(made["user"]["id"])
    await tour.call("admin", "POST", STAFF + "/edit", {"capacity": 2}, user_id=uid)
    for action in ("disable", "enable", "reset-password", "reset-2fa", "end-sessions", "delete"):
        await tour.call("admin", "POST", STAFF + "/" + action, user_id=uid)

    await tour.call("other", "GET", "/console/account")
    mine = await tour.call("other", "GET", "/console/api/account")
    started = await tour.call("other", "POST", "/console/api/account/2fa/start")
    totp = pyotp.TOTP(started["secret"])
    base = int(time.time()) // 30  # three steps of the accepted window, each used once, in order
    await tour.call("other", "POST", "/console/api/account/2fa/confirm", {"code": totp.at((base - 1) * 30)})
    await tour.call("other", "POST", "/console/api/account/2fa/recovery-codes", {"code": totp.at(base * 30)})
    await tour.call("other", "POST", "/console/api/account/2fa/off", {"code": totp.at((base + 1) * 30)})
    current = next(row["id"] for row in mine["sessions"] if row["current"])
    await tour.call("other", "POST", "/console/api/account/sessions/{session_id}/end", session_id=current)


async def _training(tour: Tour) -> None:
    api = "/console/api/training"
    one = api + "/sessions/{training_id}"
    scenario = api + "/scenarios/{scenario_id}"
    await tour.call("trainee", "GET", "/console/training")
    await tour.call("trainee", "GET", "/console/training/progress")
    await tour.call("supervisor", "GET", "/console/training/supervise")
    await tour.call("admin", "GET", "/console/training/scenarios")
    await tour.call("trainee", "GET", api + "/scenarios")
    made = await tour.call(
        "trainee", "POST", api + "/sessions", {"scenario_id": "hot_threat_friday"}, expect=201
    )
    tid = made["id"]
    await tour.call("trainee", "GET", api + "/queue")
    await tour.call("trainee", "GET", one, training_id=tid)
    # The console in training mode: the console's own routes, answered from the training tables.
    con = api + "/console"
    conv = con + "/conversations/{training_id}"
    await tour.call("trainee", "GET", "/console/training/console")
    await tour.call("trainee", "GET", con + "/queue")
    await tour.call("trainee", "GET", con + "/canned")
    await tour.call("trainee", "GET", con + "/handoff/options")
    await tour.call(
        "trainee", "GET", con + "/handoff/proposals", query="?municipality=0180&topic=radicalisation_concern"
    )
    await tour.call("trainee", "GET", conv, training_id=tid)
    await tour.call("trainee", "POST", conv + "/claim", training_id=tid)
    await tour.call("trainee", "POST", api + "/sessions", {"scenario_id": "teacher_worried"}, expect=201)
    await tour.call("trainee", "POST", con + "/queue/next")
    await tour.call("trainee", "POST", conv + "/typing", {"typing": True}, training_id=tid)
    await tour.call("trainee", "POST", conv + "/reply", {"text": "Är du säker där du är?"}, training_id=tid)
    made = await tour.call(
        "trainee",
        "POST",
        conv + "/referrals",
        {"recipient_id": "socialtjanst-0180", "summary": "Övning", "topic": "radicalisation_concern"},
        expect=201,
        training_id=tid,
    )
    rid = made["referral"]["id"]
    await tour.call("trainee", "POST", con + "/referrals/{referral_id}/consent-request", referral_id=rid)
    made = await tour.call(
        "trainee",
        "POST",
        conv + "/referrals",
        {"recipient_id": "socialtjanst-0180", "summary": "Övning 2", "topic": "radicalisation_concern"},
        expect=201,
        training_id=tid,
    )
    await tour.call(
        "trainee",
        "POST",
        con + "/referrals/{referral_id}/consent-not-asked",
        {"reason": "Personen lade på innan frågan."},
        referral_id=made["referral"]["id"],
    )
    await tour.call("trainee", "GET", conv + "/referrals", training_id=tid)
    await tour.call(
        "trainee",
        "POST",
        conv + "/disclosures",
        {
            "recipient_id": "polisen",
            "what": "Planerad mordbrand",
            "when": "Fredag",
            "where": "Moskén",
            "certainty": "likely",
            "source_seqs": [1],
            "legal_ground": "avert_serious_crime",
        },
        expect=201,
        training_id=tid,
    )
    await tour.call("trainee", "GET", conv + "/disclosures", training_id=tid)
    await tour.call("supervisor", "GET", api + "/overview")
    await tour.call("supervisor", "POST", one + "/hint", {"text": "Ge 112."}, expect=201, training_id=tid)
    await tour.call("supervisor", "POST", one + "/disclosure/decision", {"approve": True}, training_id=tid)
    await tour.call("trainee", "POST", conv + "/close", {}, training_id=tid)
    await tour.call("trainee", "GET", con + "/documentation/pending")
    await tour.call("trainee", "GET", conv + "/documentation", training_id=tid)
    await tour.call("trainee", "POST", conv + "/documentation", {"values": DOCUMENTATION}, training_id=tid)
    await tour.call("supervisor", "POST", one + "/feedback", {"text": "Bra jobbat."}, training_id=tid)
    await tour.call("trainee", "GET", api + "/progress")
    await tour.call("supervisor", "GET", api + "/progress", query="?user=kit_trainee")
    source = await tour.call("admin", "GET", scenario, scenario_id="teacher_worried")
    await tour.call("admin", "POST", scenario, {"source": source["source"]}, scenario_id="teacher_worried")
    await tour.call(
        "admin", "POST", scenario + "/required", {"required": False}, scenario_id="teacher_worried"
    )
