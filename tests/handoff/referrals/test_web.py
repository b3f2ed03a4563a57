"""Referrals through the API: proposals, consent in the person's channel, delivery (portal, e-mail,
signed webhook with retries), follow-up, reminders, and the municipality portal's scoping."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import pytest

from gateway.envelope import utcnow
from handoff.disclosures import web as disclosures_web
from handoff.referrals import web as referrals_web
from handoff.referrals import webhook
from handoff.referrals.consent import parse_consent
from handoff.referrals.web import PORTAL, REFERRALS
from tests.handoff.conftest import KH_MAIL, SECRETS, Env, Staff

SUMMARY = "Min son Kevin har börjat umgås med en våldsbejakande grupp, ring mig på 070-123 45 67."
MOLNDAL = "1481"  # in Göteborgsregionen: Kunskapshus Göteborg


async def new_referral(
    env: Env, counsellor: Staff, address: str = "anna@example.org", **extra: Any
) -> tuple[str, str]:
    conv_id = await env.conversation_held_by(counsellor, address, "Jag är orolig för min son")
    body = {
        "recipient_id": "kunskapshus-goteborg",
        "topic": "radicalisation_concern",
        "contact_type": "relative",
        "municipality_code": MOLNDAL,
        "summary": SUMMARY,
        "urgency": "normal",
        **extra,
    }
    status, data = await counsellor.post(f"/console/api/conversations/{conv_id}/referrals", body)
    assert status == 201, data
    return conv_id, data["referral"]["id"]


async def sent_referral(env: Env, counsellor: Staff, address: str = "bo@example.org") -> tuple[str, str]:
    conv_id, rid = await new_referral(env, counsellor, address)
    status, data = await counsellor.post(
        f"/console/api/referrals/{rid}/consent-not-asked",
        {"reason": "Personen lämnade samtalet innan frågan kunde ställas."},
    )
    assert status == 200, data
    await env.until(lambda: env.receiver.of("/kunskapshus"))
    return conv_id, rid


# ---------------------------------------------------------------------------------- proposals
AREAS = [
    ("1480", "kunskapshus-goteborg"),  # Göteborg
    (MOLNDAL, "kunskapshus-goteborg"),  # Mölndal, Göteborgsregionen
    ("1384", "kunskapshus-goteborg"),  # Kungsbacka, in Halland county but in Göteborgsregionen
    ("2081", "kunskapshus-borlange"),  # Borlänge
    ("2080", "kunskapshus-borlange"),  # Falun, Dalarna county
    ("1880", "kunskapshus-orebro"),  # Örebro
    ("0182", "kunskapshus-stockholm"),  # Nacka, Stockholm county
    ("1280", None),  # Malmö: outside every Kunskapshus
    ("2480", None),  # Umeå
    ("1380", None),  # Halmstad: Halland county, but not Göteborgsregionen
]


async def test_proposals_inside_and_outside_the_kunskapshus(env: Env) -> None:
    counsellor = await env.signed_in("cora")
    for municipality, kunskapshus in AREAS:
        status, data = await counsellor.get(
            f"/console/api/handoff/proposals?municipality={municipality}"
            "&topic=radicalisation_concern&contact_type=relative"
        )
        assert status == 200
        ids = [p["recipient_id"] for p in data["proposals"]]
        assert data["kunskapshus"] == kunskapshus, municipality
        if kunskapshus is not None:
            assert ids[:2] == [kunskapshus, f"socialtjanst-{municipality}"], municipality
        else:
            assert not any(i.startswith("kunskapshus-") for i in ids), municipality
            assert ids[0] == f"socialtjanst-{municipality}", municipality
        first = data["proposals"][0]
        assert first["reason"]["sv"] and first["reason"]["en"]
    _, none_given = await counsellor.get("/console/api/handoff/proposals?topic=radicalisation_concern")
    assert none_given["kunskapshus"] is None
    assert not any(
        p["recipient_id"].startswith(("kunskapshus-", "socialtjanst-")) for p in none_given["proposals"]
    )


async def test_a_clear_recipient_comes_before_the_kunskapshus(env: Env) -> None:
    counsellor = await env.signed_in("cora")
    _, child = await counsellor.get("/console/api/handoff/proposals?municipality=1480&topic=child_at_risk")
    assert child["proposals"][0]["recipient_id"] == "socialtjanst-1480"
    assert "kunskapshus-goteborg" not in [p["recipient_id"] for p in child["proposals"]]
    _, crime = await counsellor.get("/console/api/handoff/proposals?municipality=1480&topic=crime")
    assert [p["recipient_id"] for p in crime["proposals"]][:2] == ["polisen", "sakerhetspolisen"]
    status, _ = await counsellor.get("/console/api/handoff/proposals?municipality=9999&topic=crime")
    assert status == 422


async def test_the_api_needs_a_session_and_a_csrf_token(env: Env) -> None:
    async with env.http.get(env.url("/console/api/handoff/proposals?topic=crime")) as resp:
        assert resp.status == 401
    counsellor = await env.signed_in("cora")
    conv_id = await env.conversation_held_by(counsellor, "x@example.org", "Jag är orolig")
    status, data = await counsellor.post(
        f"/console/api/conversations/{conv_id}/referrals", {"recipient_id": "bris"}, csrf=False
    )
    assert (status, data["error"]) == (403, "csrf")


async def test_a_counsellor_acts_only_on_conversations_they_hold(env: Env) -> None:
    cora = await env.signed_in("cora")
    dan = await env.signed_in("dan")
    conv_id, rid = await new_referral(env, cora)
    status, _ = await dan.get(f"/console/api/conversations/{conv_id}/referrals")
    assert status == 403
    status, _ = await dan.post(f"/console/api/referrals/{rid}/consent-request")
    assert status == 403
    assert "handoff.denied" in await env.actions(conv_id)


# ---------------------------------------------------------------------------------- consent
def test_only_a_one_word_answer_is_consent() -> None:
    assert parse_consent("JA") is True
    assert parse_consent(" ja! ") is True
    assert parse_consent("Yes.") is True
    assert parse_consent("NEJ") is False
    assert parse_consent("no") is False
    assert parse_consent("ja men bara om de inte ringer") is None
    assert parse_consent("kanske") is None


async def test_the_person_sees_exactly_what_is_shared_and_a_refusal_sends_nothing(env: Env) -> None:
    counsellor = await env.signed_in("cora")
    conv_id, rid = await new_referral(env, counsellor)
    status, data = await counsellor.post(f"/console/api/referrals/{rid}/consent-request")
    assert status == 200 and data["referral"]["status"] == "consent_requested"

    question = await env.memory.wait_for("anna@example.org", lambda r: "Svara JA" in r.text)
    package = data["referral"]["package"]
    assert package["summary"] in question.text  # exactly the summary that would be shared ...
    assert "070-123 45 67" not in question.text and "Kevin" not in question.text  # ... redacted
    assert "Kunskapshus Göteborg" in question.text and "Mölndal" in question.text
    assert "inga (mottagaren kan inte kontakta dig)" in question.text

    await env.memory.person_writes("anna@example.org", "Nej")
    await env.memory.wait_for("anna@example.org", lambda r: "Vi skickar ingenting" in r.text)
    _, data = await counsellor.get(f"/console/api/referrals/{rid}")
    assert data["referral"]["status"] == "refused"
    assert data["referral"]["consent_via"] == "person"

    # Nothing is sent, and nothing can be sent any more.
    status, _ = await counsellor.post(f"/console/api/referrals/{rid}/consent", {"consent": True})
    assert status == 409
    status, _ = await counsellor.post(
        f"/console/api/referrals/{rid}/consent-not-asked", {"reason": "Försöker skicka ändå efter nej."}
    )
    assert status == 409
    await asyncio.sleep(0.3)
    assert env.receiver.hits == []
    assert env.mailbox.messages == []
    assert (await env.server.app[REFERRALS].reading.for_units(frozenset({"kunskapshus-goteborg"}))) == []
    actions = await env.actions(conv_id)
    assert ["referral.proposed", "referral.consent_requested", "referral.refused"] == [
        a for a in actions if a.startswith("referral.")
    ]


async def test_nothing_is_sent_while_consent_is_only_proposed_or_requested(env: Env) -> None:
    counsellor = await env.signed_in("cora")
    _, rid = await new_referral(env, counsellor)
    await counsellor.post(f"/console/api/referrals/{rid}/consent-request")
    await env.memory.person_writes("anna@example.org", "Vad betyder det här?")  # not an answer
    await asyncio.sleep(0.3)
    _, data = await counsellor.get(f"/console/api/referrals/{rid}")
    assert data["referral"]["status"] == "consent_requested"
    assert env.receiver.hits == [] and env.mailbox.messages == []


async def test_consent_not_asked_needs_a_reason(env: Env) -> None:
    counsellor = await env.signed_in("cora")
    conv_id, rid = await new_referral(env, counsellor)
    status, data = await counsellor.post(f"/console/api/referrals/{rid}/consent-not-asked", {"reason": " "})
    assert (status, data["error"]) == (422, "reason_required")
    assert env.receiver.hits == []
    status, data = await counsellor.post(
        f"/console/api/referrals/{rid}/consent-not-asked",
        {"reason": "Akut läge, personen svarar inte längre."},
    )
    assert status == 200 and data["referral"]["status"] == "sent"
    assert data["referral"]["consent_reason"] == "Akut läge, personen svarar inte längre."
    assert "referral.consent_not_asked" in await env.actions(conv_id)


async def test_consent_given_delivers_by_webhook_with_retries_signature_and_one_idempotency_key(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="handoff")
    caplog.set_level(logging.DEBUG, logger="gateway")
    env.receiver.fail_first["/kunskapshus"] = 2
    counsellor = await env.signed_in("cora")
    conv_id, rid = await new_referral(env, counsellor, contact_details="Ring 031-12 34 56 efter 17")
    await counsellor.post(f"/console/api/referrals/{rid}/consent-request")
    question = await env.memory.wait_for("anna@example.org", lambda r: "Svara JA" in r.text)
    assert "Ring 031-12 34 56 efter 17" in question.text  # the person sees the contact details shared
    await env.memory.person_writes("anna@example.org", "JA")

    async def delivered() -> dict[str, Any] | None:
        _, data = await counsellor.get(f"/console/api/referrals/{rid}")
        ref: dict[str, Any] = data["referral"]
        hook = ref["delivery"].get("webhook") or {}
        mail = ref["delivery"].get("email") or {}
        return ref if hook.get("delivered") and mail.get("delivered") else None

    ref = await env.until(delivered)
    assert ref["status"] == "sent" and ref["consent_via"] == "person"
    assert ref["delivery"]["webhook"]["attempts"] == 3
    assert ref["delivery"]["portal"]["delivered"] is True

    hits = env.receiver.of("/kunskapshus")
    assert len(hits) == 3
    assert {h.headers[webhook.IDEMPOTENCY_HEADER] for h in hits} == {ref["idempotency_key"]}
    for hit in hits:
        assert webhook.verify_signature(
            SECRETS["kunskapshus-goteborg"],
            hit.headers[webhook.TIMESTAMP_HEADER],
            hit.body,
            hit.headers[webhook.SIGNATURE_HEADER],
        )
        assert not webhook.verify_signature(
            "another-secret",
            hit.headers[webhook.TIMESTAMP_HEADER],
            hit.body,
            hit.headers[webhook.SIGNATURE_HEADER],
        )
    body = hits[-1].json()
    assert body["topic"] == "radicalisation_concern" and body["municipality"]["code"] == MOLNDAL
    assert body["contact_details"] == "Ring 031-12 34 56 efter 17"  # given by the person for contact
    assert "Kevin" not in body["summary"] and "070-123 45 67" not in body["summary"]

    mails = env.mailbox.to(KH_MAIL)
    assert len(mails) == 1
    text = mails[0].get_content()
    assert "Hänvisning" in mails[0]["Subject"] and body["summary"] in text
    assert mails[0]["Subject"].startswith("Hänvisning / Referral ")
    assert text.startswith("Ny hänvisning från stödlinjen / New referral from the support line")
    assert "Sammanfattning / Summary:" in text
    assert "031-12 34 56" not in text  # contact details never go by e-mail

    await env.memory.wait_for("anna@example.org", lambda r: "Vi skickar uppgifterna" in r.text)
    actions = [a for a in await env.actions(conv_id) if a.startswith("referral.")]
    assert actions[:4] == [
        "referral.proposed",
        "referral.consent_requested",
        "referral.consented",
        "referral.sent",
    ]
    assert sorted(actions[4:]) == ["referral.delivered", "referral.delivered"]
    logged = caplog.text
    assert "Kevin" not in logged and "031-12 34 56" not in logged and "anna@example.org" not in logged


async def test_a_webhook_that_never_answers_is_recorded_as_failed(env: Env) -> None:
    env.receiver.fail_first["/kunskapshus"] = 100
    counsellor = await env.signed_in("cora")
    conv_id, rid = await new_referral(env, counsellor)
    await counsellor.post(f"/console/api/referrals/{rid}/consent", {"consent": True})

    async def failed() -> dict[str, Any] | None:
        _, data = await counsellor.get(f"/console/api/referrals/{rid}")
        hook = data["referral"]["delivery"].get("webhook") or {}
        return hook if hook.get("error") else None

    hook = await env.until(failed)
    assert hook["delivered"] is False and hook["attempts"] == 5 and hook["status"] == 503
    assert "referral.delivery_failed" in await env.actions(conv_id)


# ---------------------------------------------------------------------------------- follow-up
async def test_follow_up_in_the_portal_shows_in_the_console_with_time_to_ack(env: Env) -> None:
    counsellor = await env.signed_in("cora")
    house = await env.signed_in("kh.goteborg", "municipality", municipality="KH1480")
    conv_id, rid = await sent_referral(env, counsellor)

    status, data = await house.get(f"{PORTAL}/referrals")
    assert status == 200 and [r["id"] for r in data["referrals"]] == [rid]
    assert data["referrals"][0]["package"]["summary"].startswith("Min son [NAMN]")

    status, data = await house.post(f"{PORTAL}/referrals/{rid}/acknowledge")
    assert status == 200 and data["referral"]["status"] == "received"
    status, data = await house.post(f"{PORTAL}/referrals/{rid}/status", {"status": "contact_made"})
    assert data["referral"]["status"] == "contact_made"
    status, data = await house.post(f"{PORTAL}/referrals/{rid}/status", {"status": "received"})
    assert (status, data["error"]) == (409, "invalid_transition")
    status, data = await house.post(
        f"{PORTAL}/referrals/{rid}/status", {"status": "closed", "note": "Klart."}
    )
    assert data["referral"]["status"] == "closed"

    _, data = await counsellor.get(f"/console/api/conversations/{conv_id}/referrals")
    ref = data["referrals"][0]
    assert ref["status"] == "closed"
    assert ref["acknowledged_at"] is not None and ref["time_to_ack_seconds"] >= 0
    assert ref["contact_made_at"] is not None and ref["closed_at"] is not None
    actions = await env.actions(conv_id)
    for step in ("referral.received", "referral.contact_made", "referral.closed"):
        assert step in actions


async def test_a_signed_callback_reports_follow_up_and_a_forged_one_is_refused(env: Env) -> None:
    counsellor = await env.signed_in("cora")
    conv_id, rid = await sent_referral(env, counsellor)
    path = f"/handoff/callback/referrals/{rid}"
    body = webhook.encode_payload({"status": "not_ours", "note": "Personen bor i Kungälv."})

    forged = webhook.signed_headers("wrong-secret", body, "cb-1")
    async with env.http.post(env.url(path), data=body, headers=forged) as resp:
        assert resp.status == 401
    async with env.http.post(env.url(path), data=body) as resp:
        assert resp.status == 401
    _, data = await counsellor.get(f"/console/api/referrals/{rid}")
    assert data["referral"]["status"] == "sent"

    for _ in range(2):  # a retried callback changes nothing the second time
        headers = webhook.signed_headers(SECRETS["kunskapshus-goteborg"], body, "cb-1")
        async with env.http.post(env.url(path), data=body, headers=headers) as resp:
            assert resp.status == 200
            assert (await resp.json())["status"] == "not_ours"
    _, data = await counsellor.get(f"/console/api/referrals/{rid}")
    assert data["referral"]["status"] == "not_ours" and data["referral"]["acknowledged_at"]
    assert (await env.actions(conv_id)).count("referral.not_ours") == 1


async def test_an_unacknowledged_referral_raises_a_reminder(env: Env) -> None:
    counsellor = await env.signed_in("cora")
    conv_id, rid = await sent_referral(env, counsellor, "a@example.org")
    _, acked = await sent_referral(env, counsellor, "b@example.org")
    house = await env.signed_in("kh.goteborg", "municipality", municipality="KH1480")
    await house.post(f"{PORTAL}/referrals/{acked}/acknowledge")

    queue_events: list[dict[str, Any]] = []

    async def on_queue(event: Any) -> None:
        queue_events.append(event.payload)

    broker = env.pipeline.broker
    sub = await broker.fanout("queue", on_queue)
    try:
        referrals = env.server.app[REFERRALS]
        now = utcnow()
        assert await referrals.delivery.due_reminders(now) == []  # not yet: the reminder comes after an hour
        later = now + timedelta(hours=1, minutes=1)
        assert [r.id for r in await referrals.delivery.due_reminders(later)] == [rid]
        assert await referrals.delivery.run_reminders(later) == [rid]
        assert await referrals.delivery.run_reminders(later) == []  # once, not at every check
        await env.until(lambda: [e for e in queue_events if e.get("kind") == "referral_reminder"])
    finally:
        await sub.cancel()
    reminder = [e for e in await env.audit(conv_id) if e.action == "referral.reminder"]
    assert len(reminder) == 1 and reminder[0].details["referral_id"] == rid


async def test_the_periodic_task_raises_reminders(sqlite_url: str, tmp_path: Any) -> None:
    from tests.handoff.conftest import start_env, stop_env

    env = await start_env(sqlite_url, tmp_path, reminder_after=timedelta(0), reminder_check_seconds=0.05)
    try:
        counsellor = await env.signed_in("cora")
        conv_id, _ = await sent_referral(env, counsellor)
        await env.until(lambda: _has(env, conv_id, "referral.reminder"))
    finally:
        await stop_env(env)


async def _has(env: Env, conv_id: str, action: str) -> bool:
    return action in await env.actions(conv_id)


# ---------------------------------------------------------------------------------- portal scoping
ROUTES = (*referrals_web.ROUTES, *disclosures_web.ROUTES)
PORTAL_ROUTES = [r for r in ROUTES if r.path.startswith(PORTAL)]
CONSOLE_ROUTES = [r for r in ROUTES if not r.path.startswith("/console/portal")]  # the portal page too


def _path(route_path: str, **ids: str) -> str:
    path = route_path
    for name, value in ids.items():
        path = path.replace("{" + name + ":[0-9a-f]{32}}", value)
    return path


async def test_a_municipality_sees_and_acts_only_on_its_own_referrals_on_every_route(env: Env) -> None:
    assert {r.path.removeprefix(PORTAL) for r in PORTAL_ROUTES} >= {"/me", "/referrals"}
    counsellor = await env.signed_in("cora")
    own = await env.signed_in("kh.goteborg", "municipality", municipality="KH1480")
    others = [
        await env.signed_in("molndal", "municipality", municipality=MOLNDAL),  # the person's municipality
        await env.signed_in("malmo", "municipality", municipality="1280"),
        await env.signed_in("kh.stockholm", "municipality", municipality="kunskapshus-stockholm"),
    ]
    for route in PORTAL_ROUTES:
        _, rid = await sent_referral(env, counsellor, f"{route.handler.__name__}@example.org")
        path = _path(route.path, referral_id=rid)
        body = {"status": "received"}
        for other in others:
            status, data = await (other.get(path) if route.method == "GET" else other.post(path, body))
            where = f"{route.method} {route.path} as {other.user.username}"
            if "{referral_id" in route.path:
                assert (status, data["error"]) == (404, "not_found"), where
            elif route.path.endswith("/referrals"):
                assert status == 200 and data["referrals"] == [], where
            else:
                assert status == 200 and "kunskapshus-goteborg" not in [u["id"] for u in data["units"]], where
        _, data = await counsellor.get(f"/console/api/referrals/{rid}")
        assert data["referral"]["status"] == "sent" and data["referral"]["acknowledged_at"] is None

        status, data = await (own.get(path) if route.method == "GET" else own.post(path, body))
        assert status == 200, (route.path, data)
        if route.path.endswith("/referrals"):
            assert rid in [r["id"] for r in data["referrals"]]
        elif route.path.endswith("/me"):
            assert [u["id"] for u in data["units"]] == ["kunskapshus-goteborg"]
        else:
            assert data["referral"]["id"] == rid

        status, data = await (counsellor.get(path) if route.method == "GET" else counsellor.post(path, body))
        assert (status, data["error"]) == (403, "forbidden")


async def test_a_municipality_user_cannot_use_any_console_route(env: Env) -> None:
    counsellor = await env.signed_in("cora")
    conv_id, rid = await sent_referral(env, counsellor)
    house = await env.signed_in("kh.goteborg", "municipality", municipality="KH1480")
    for route in CONSOLE_ROUTES:
        path = _path(route.path, conversation_id=conv_id, referral_id=rid, disclosure_id="0" * 32)
        status, data = await (
            house.get(path) if route.method == "GET" else house.post(path, {"consent": True})
        )
        assert (status, data["error"]) == (403, "forbidden"), route.path


async def test_social_services_see_referrals_to_them_not_to_the_kunskapshus(env: Env) -> None:
    counsellor = await env.signed_in("cora")
    conv_id = await env.conversation_held_by(counsellor, "c@example.org", "Orolig för ett barn")
    status, data = await counsellor.post(
        f"/console/api/conversations/{conv_id}/referrals",
        {
            "recipient_id": "socialtjanst-1280",
            "topic": "child_at_risk",
            "contact_type": "relative",
            "municipality_code": "1280",
            "summary": "Ett barn far illa hemma.",
        },
    )
    assert status == 201
    rid = data["referral"]["id"]
    await counsellor.post(
        f"/console/api/referrals/{rid}/consent-not-asked", {"reason": "Personen bad oss agera direkt."}
    )
    malmo = await env.signed_in("malmo", "municipality", municipality="1280")
    house = await env.signed_in("kh.goteborg", "municipality", municipality="KH1480")
    _, data = await malmo.get(f"{PORTAL}/referrals")
    assert [r["id"] for r in data["referrals"]] == [rid]
    _, data = await house.get(f"{PORTAL}/referrals")
    assert data["referrals"] == []


async def test_the_whole_way_on_sqlite_and_postgresql(env_any_db: Env) -> None:
    env = env_any_db
    counsellor = await env.signed_in("cora")
    house = await env.signed_in("kh.goteborg", "municipality", municipality="KH1480")
    conv_id, rid = await new_referral(env, counsellor)
    await counsellor.post(f"/console/api/referrals/{rid}/consent-request")
    await env.memory.wait_for("anna@example.org", lambda r: "Svara JA" in r.text)
    await env.memory.person_writes("anna@example.org", "ja")
    await env.until(lambda: env.receiver.of("/kunskapshus"))
    status, data = await house.post(f"{PORTAL}/referrals/{rid}/acknowledge")
    assert status == 200 and data["referral"]["status"] == "received"
    _, data = await counsellor.get(f"/console/api/conversations/{conv_id}/referrals")
    assert data["referrals"][0]["time_to_ack_seconds"] >= 0
