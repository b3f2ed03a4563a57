"""Crime information to the police when they take nothing electronic from us: an approved disclosure
waits for a phone call (never failing silently), the console shows the numbers and the text to read
out, and the call recorded (when, which number, the police's reference, who) makes it sent and is
audited.  A configured e-mail address delivers it instead."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bots.memory import MemoryAdapter
from gateway.app import create_app
from gateway.errors import ConfigError
from handoff.directory.loading import default_directory
from tests.gateway.conftest import KeywordTriager, make_settings
from tests.handoff.conftest import Env, Staff, _free_port
from tests.handoff.referrals.gateway_env import start, stop

ADDRESS = "person@example.org"
POLICE_MAIL = "tips@polisen.example"


@pytest.fixture
async def shipped(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Env]:
    """The shipped directory: the police take no e-mail or webhook from us."""
    env = await start(sqlite_url, tmp_path, directory=default_directory())
    try:
        yield env
    finally:
        await stop(env)


async def flag(env: Env, author: Staff, **extra: Any) -> tuple[str, dict[str, Any]]:
    conv_id = await env.conversation_held_by(author, ADDRESS, "De planerar att spränga något vid stationen")
    body = {
        "recipient_id": "polisen",
        "what": "Planerat sprängdåd mot en station.",
        "when": "Nästa vecka",
        "where": "Centralstationen",
        "certainty": "probable",
        "source_seqs": [1],
        "legal_ground": "avert_serious_crime",
        **extra,
    }
    status, data = await author.post(f"/console/api/conversations/{conv_id}/disclosures", body)
    assert status == 201, data
    return conv_id, data["disclosure"]


async def status_of(env: Env, staff: Staff, did: str, wanted: str) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        _, data = await staff.get(f"/console/api/disclosures/{did}")
        disc: dict[str, Any] = data["disclosure"]
        return disc if disc["status"] == wanted else None

    found: dict[str, Any] = await env.until(check)
    return found


async def test_without_an_electronic_method_it_awaits_a_phone_call_that_is_recorded(shipped: Env) -> None:
    env = shipped
    counsellor = await env.signed_in("cora")
    other = await env.signed_in("olle")
    supervisor = await env.signed_in("siv", "supervisor")
    conv_id, disc = await flag(env, counsellor)
    did = disc["id"]
    status, _ = await supervisor.post(f"/console/api/disclosures/{did}/approve")
    assert status == 200

    waiting = await status_of(env, supervisor, did, "awaiting_manual")
    assert waiting["sent_at"] is None and waiting["manual"]["reason"] == "no_method_configured"
    assert [n["number"] for n in waiting["manual"]["numbers"]] == ["114 14", "112"]
    assert waiting["manual"]["numbers"][0]["label"]["sv"] == "Polisen"
    assert env.mailbox.messages == [] and env.receiver.hits == []
    _, pending = await supervisor.get("/console/api/disclosures")
    assert did in [d["id"] for d in pending["disclosures"]]  # on the supervisor page
    actions = await env.actions(conv_id)
    assert "disclosure.awaiting_manual" in actions
    assert "disclosure.sent" not in actions and "disclosure.delivery_failed" not in actions

    # The text to read out: for the counsellor who holds the conversation and for supervisors.
    status, data = await counsellor.get(f"/console/api/disclosures/{did}/readout")
    assert status == 200
    text = data["readout"]["text"]
    assert "Planerat sprängdåd mot en station." in text and "Centralstationen" in text
    assert "trolig / probable" in text and "Godkänd av / Approved by: siv" in text and did in text
    assert ADDRESS not in text  # this ground does not pass the identity
    status, data = await other.get(f"/console/api/disclosures/{did}/readout")
    assert (status, data["error"]) == (403, "not_assigned_to_you")
    status, data = await other.post(f"/console/api/disclosures/{did}/phoned", {"number": "114 14"})
    assert (status, data["error"]) == (403, "not_assigned_to_you")

    future = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    for body, code in (
        ({"number": ""}, "number_required"),
        ({"number": "ring polisen"}, "invalid_number"),
        ({"number": "114 14", "called_at": "i morse"}, "invalid_called_at"),
        ({"number": "114 14", "called_at": future}, "called_at_in_future"),
        ({"number": "114 14", "called_at": "2020-01-01T10:00:00+01:00"}, "called_at_before_approval"),
        ({"number": "114 14", "police_reference": "x" * 101}, "reference_too_long"),
    ):
        status, data = await counsellor.post(f"/console/api/disclosures/{did}/phoned", body)
        assert (status, data["error"]) == (422, code), body
    assert (await status_of(env, supervisor, did, "awaiting_manual"))["phoned_at"] is None

    called = datetime.now(UTC) - timedelta(minutes=1)
    status, data = await counsellor.post(
        f"/console/api/disclosures/{did}/phoned",
        {
            "number": "114 14",
            "police_reference": "5000-K123456-26",
            "called_at": called.isoformat(),
            "note": "Talade med vakthavande befäl.",
        },
    )
    assert status == 200, data
    sent = data["disclosure"]
    assert sent["status"] == "sent" and sent["phoned_number"] == "114 14"
    assert sent["police_reference"] == "5000-K123456-26" and sent["phoned_by"] == counsellor.user.id
    assert datetime.fromisoformat(sent["phoned_at"]) == called and sent["manual"] is None
    status, data = await supervisor.post(f"/console/api/disclosures/{did}/phoned", {"number": "112"})
    assert (status, data["error"]) == (409, "not_awaiting_phone")  # recorded once
    _, pending = await supervisor.get("/console/api/disclosures")
    assert did not in [d["id"] for d in pending["disclosures"]]

    events = [e for e in await env.audit(conv_id) if e.action.startswith("disclosure.")]
    assert [e.action for e in events] == [
        "disclosure.created",
        "disclosure.approved",
        "disclosure.awaiting_manual",
        "disclosure.readout_opened",
        "disclosure.sent",
    ]
    by_phone = events[-1]
    assert by_phone.actor == "cora" and by_phone.actor_id == counsellor.user.id
    assert by_phone.details["method"] == "phone" and by_phone.details["number"] == "114 14"
    assert by_phone.details["police_reference"] == "5000-K123456-26"
    assert by_phone.details["called_at"] == called.isoformat() and by_phone.details["approved_by"] == "siv"
    assert by_phone.details["package"]["what"] == "Planerat sprängdåd mot en station."


async def test_the_security_service_is_called_on_its_switchboard(shipped: Env) -> None:
    """Säkerhetspolisen takes nothing electronic from us either: the console offers its
    switchboard (010-568 70 00) to call, then 112 if it becomes urgent."""
    env = shipped
    counsellor = await env.signed_in("cora")
    supervisor = await env.signed_in("siv", "supervisor")
    status, data = await counsellor.get("/console/api/handoff/proposals?topic=crime&contact_type=relative")
    sapo = next(p for p in data["proposals"] if p["recipient_id"] == "sakerhetspolisen")
    assert sapo["phone"] == "010-568 70 00"

    conv_id, disc = await flag(env, counsellor, recipient_id="sakerhetspolisen")
    status, _ = await supervisor.post(f"/console/api/disclosures/{disc['id']}/approve")
    assert status == 200
    waiting = await status_of(env, supervisor, disc["id"], "awaiting_manual")
    numbers = waiting["manual"]["numbers"]
    assert [n["number"] for n in numbers] == ["010-568 70 00", "112"]
    assert numbers[0]["label"] == {"sv": "Säkerhetspolisen", "en": "Swedish Security Service"}
    status, data = await counsellor.post(
        f"/console/api/disclosures/{disc['id']}/phoned",
        {"number": "010-568 70 00", "police_reference": "S-2026-1"},
    )
    assert status == 200 and data["disclosure"]["status"] == "sent"
    sent = next(e for e in await env.audit(conv_id) if e.action == "disclosure.sent")
    assert sent.details["method"] == "phone" and sent.details["number"] == "010-568 70 00"


async def test_immediate_danger_without_a_method_puts_112_first_and_passes_the_identity_by_phone(
    shipped: Env,
) -> None:
    env = shipped
    counsellor = await env.signed_in("cora")
    supervisor = await env.signed_in("siv", "supervisor")
    conv_id, disc = await flag(env, counsellor, immediate_danger=True, legal_ground="danger_to_life")
    waiting = await status_of(env, supervisor, disc["id"], "awaiting_manual")  # at once, no approval
    assert [n["number"] for n in waiting["manual"]["numbers"]] == ["112", "114 14"]

    status, data = await supervisor.get(f"/console/api/disclosures/{disc['id']}/readout")
    assert status == 200
    assert f"Identitet / Identity (memory): {ADDRESS}" in data["readout"]["text"]  # the ground requires it
    assert "JA / YES" in data["readout"]["text"]
    status, data = await supervisor.post(
        f"/console/api/disclosures/{disc['id']}/phoned", {"number": "112", "police_reference": ""}
    )
    assert status == 200 and data["disclosure"]["status"] == "sent"
    assert data["disclosure"]["police_reference"] is None

    events = [e for e in await env.audit(conv_id) if e.action.startswith("disclosure.")]
    actions = [e.action for e in events]
    for step in (
        "disclosure.immediate",
        "disclosure.awaiting_manual",
        "disclosure.sent",
        "disclosure.identity_passed",
    ):
        assert step in actions
    readout = next(e for e in events if e.action == "disclosure.readout_opened")
    assert readout.details["identity_shown"] is True and readout.actor == "siv"
    passed = next(e for e in events if e.action == "disclosure.identity_passed")
    assert passed.details["method"] == "phone"
    for event in events:
        assert ADDRESS not in str(event.details)  # the audit says the identity was passed, never what it is
    status, data = await supervisor.post(f"/console/api/disclosures/{disc['id']}/review", {"note": "Rätt."})
    assert status == 200  # reviewed afterwards, as every immediate disclosure


async def test_an_email_address_in_the_configuration_delivers_it(sqlite_url: str, tmp_path: Path) -> None:
    env = await start(
        sqlite_url,
        tmp_path,
        directory=default_directory(),
        settings={"handoff.recipient_methods": {"polisen": [{"method": "email", "address": POLICE_MAIL}]}},
    )
    try:
        counsellor = await env.signed_in("cora")
        supervisor = await env.signed_in("siv", "supervisor")
        admin = await env.signed_in("ada", "admin")
        conv_id, disc = await flag(env, counsellor)
        await supervisor.post(f"/console/api/disclosures/{disc['id']}/approve")
        mail = (await env.until(lambda: env.mailbox.to(POLICE_MAIL)))[0]
        text = mail.get_content()
        assert "Planerat sprängdåd mot en station." in text and "Godkänd av / Approved by: siv" in text
        sent = await status_of(env, supervisor, disc["id"], "sent")
        assert sent["delivery"]["email"]["delivered"] is True and sent["phoned_at"] is None
        event = next(e for e in await env.audit(conv_id) if e.action == "disclosure.sent")
        assert event.details["methods"] == {"email": {"delivered": True, "attempts": 1}}

        # The directory page shows the configured method, and an admin cannot change it there.
        _, data = await admin.get("/console/api/directory/recipients/polisen")
        police = data["recipient"]
        assert police["methods_from_configuration"] is True and police["form_methods"]["email"] == POLICE_MAIL
        body = {
            "name_sv": police["name_sv"],
            "name_en": police["name_en"],
            "kind": police["kind"],
            "topics": police["topics"],
            "target_groups": police["target_groups"],
            "languages": police["languages"],
            "opening_hours": police["opening_hours"],
            "phone": police["phone"],
            "emergency_phone": police["emergency_phone"],
            "website": police["website"],
            "methods": {"email": "other@polisen.example"},
            "revision": 0,
        }
        status, data = await admin.post("/console/api/directory/recipients/polisen", body)
        assert (status, data["fields"]) == (422, {"methods": "methods_set_by_configuration"})
        status, data = await admin.post(
            "/console/api/directory/recipients/polisen",
            {**body, "methods": {"email": POLICE_MAIL}, "phone": "114 14"},
        )
        assert status == 200, data  # other fields may change
    finally:
        await stop(env)


async def test_a_failed_electronic_delivery_can_be_passed_by_phone(sqlite_url: str, tmp_path: Path) -> None:
    env = await start(
        sqlite_url,
        tmp_path,
        directory=default_directory(),
        settings={"handoff.recipient_methods": {"polisen": [{"method": "email", "address": POLICE_MAIL}]}},
        smtp_port=_free_port(),  # nobody listens there
    )
    try:
        counsellor = await env.signed_in("cora")
        supervisor = await env.signed_in("siv", "supervisor")
        conv_id, disc = await flag(env, counsellor)
        await supervisor.post(f"/console/api/disclosures/{disc['id']}/approve")
        failed = await status_of(env, supervisor, disc["id"], "delivery_failed")
        assert failed["delivery"]["email"]["delivered"] is False
        assert failed["manual"]["reason"] == "delivery_failed"
        assert [n["number"] for n in failed["manual"]["numbers"]] == ["114 14", "112"]
        _, pending = await supervisor.get("/console/api/disclosures")
        assert disc["id"] in [d["id"] for d in pending["disclosures"]]
        status, data = await supervisor.post(
            f"/console/api/disclosures/{disc['id']}/phoned", {"number": "114 14", "police_reference": "K-1"}
        )
        assert status == 200 and data["disclosure"]["status"] == "sent"
        actions = [a for a in await env.actions(conv_id) if a.startswith("disclosure.")]
        assert actions[-2:] == ["disclosure.delivery_failed", "disclosure.sent"]
    finally:
        await stop(env)


async def test_the_supervisor_page_has_the_phone_list(shipped: Env) -> None:
    supervisor = await shipped.signed_in("siv", "supervisor")
    async with shipped.http.get(
        shipped.url("/console/supervisor"), headers={"Cookie": f"hl_console={supervisor.token}"}
    ) as resp:
        html = await resp.text()
    assert 'id="sup-disclosures-manual"' in html and "Brottsuppgifter att lämna per telefon" in html
    assert html.index("/console/static/handoff.js") < html.index("/console/static/supervisor.js")
    async with shipped.http.get(shipped.url("/console/static/handoff.js")) as resp:
        script = await resp.text()
    assert (
        "/phoned" in script and "/readout" in script and "innerHTML" not in script.replace("No innerHTML", "")
    )


@pytest.mark.parametrize(
    ("methods", "secrets", "key"),
    [
        (
            {"polisen": [{"method": "email", "address": "polisen"}]},
            {},
            "handoff.recipient_methods.polisen[0].address",
        ),
        (
            {"polisen": [{"method": "webhook", "url": "http://relay.example/polisen"}]},
            {"polisen": "s"},
            "handoff.recipient_methods.polisen[0].url",
        ),
        (
            {"polisen": [{"method": "webhook", "url": "https://relay.example/polisen"}]},
            {},
            "handoff.webhook_secrets.polisen",
        ),
        ({"polis": [{"method": "email", "address": "a@b.se"}]}, {}, "handoff.recipient_methods.polis"),
    ],
)
def test_bad_recipient_methods_stop_the_start_naming_the_key(
    sqlite_url: str, tmp_path: Path, methods: dict[str, Any], secrets: dict[str, str], key: str
) -> None:
    settings = make_settings(
        sqlite_url, tmp_path, **{"handoff.recipient_methods": methods, "handoff.webhook_secrets": secrets}
    )
    with pytest.raises(ConfigError) as caught:
        create_app(
            settings, triager=KeywordTriager(), adapters=[MemoryAdapter(pseudonym_key=settings.pseudonym_key)]
        )
    assert key in str(caught.value)
