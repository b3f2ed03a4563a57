"""Crime information to the Police and the Security Service: four eyes, the immediate-danger path,
identity only when the ground requires it, and an audit of every step."""

from __future__ import annotations

import asyncio
from typing import Any

from handoff.referrals import webhook
from tests.handoff.conftest import SAPO_MAIL, SECRETS, Env, Staff

ADDRESS = "person@example.org"


async def flagged(
    env: Env, author: Staff, *, address: str = ADDRESS, **extra: Any
) -> tuple[str, dict[str, Any]]:
    conv_id = await env.conversation_held_by(author, address, "De planerar att spränga något vid stationen")
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


async def test_nothing_is_sent_without_a_supervisors_approval_and_never_by_the_author(env: Env) -> None:
    counsellor = await env.signed_in("cora")
    author_supervisor = await env.signed_in("sam", "supervisor")
    other_supervisor = await env.signed_in("siv", "supervisor")
    conv_id, disc = await flagged(env, counsellor)
    assert disc["status"] == "pending_approval"
    await asyncio.sleep(0.3)
    assert env.receiver.of("/polisen") == []

    status, data = await counsellor.post(f"/console/api/disclosures/{disc['id']}/approve")
    assert (status, data["error"]) == (403, "supervisor_required")

    # A supervisor who wrote a disclosure cannot approve it either.
    conv2 = await env.person("second@example.org", "Han har vapen hemma och pratar om att använda dem")
    status, data = await author_supervisor.post(
        f"/console/api/conversations/{conv2}/disclosures",
        {
            "recipient_id": "polisen",
            "what": "Olaga vapeninnehav.",
            "certainty": "possible",
            "source_seqs": [1],
            "legal_ground": "suspected_serious_crime",
        },
    )
    assert status == 201
    own = data["disclosure"]["id"]
    status, data = await author_supervisor.post(f"/console/api/disclosures/{own}/approve")
    assert (status, data["error"]) == (403, "four_eyes")
    await asyncio.sleep(0.2)
    assert env.receiver.of("/polisen") == []

    status, data = await other_supervisor.post(f"/console/api/disclosures/{disc['id']}/approve")
    assert status == 200 and data["disclosure"]["approved_by"] == other_supervisor.user.id
    status, _ = await other_supervisor.post(f"/console/api/disclosures/{disc['id']}/approve")
    assert status == 409  # approved once

    hit = (await env.until(lambda: env.receiver.of("/polisen")))[0]
    assert webhook.verify_signature(
        SECRETS["polisen"],
        hit.headers[webhook.TIMESTAMP_HEADER],
        hit.body,
        hit.headers[webhook.SIGNATURE_HEADER],
    )
    body = hit.json()
    assert body["what"] == "Planerat sprängdåd mot en station." and body["where"] == "Centralstationen"
    assert body["legal_ground"]["id"] == "avert_serious_crime"
    assert body["approved_by"] == "siv"
    assert "identity" not in body and ADDRESS not in hit.body.decode()  # the ground needs no identity
    assert [s["seq"] for s in body["sources"]] == [1]

    async def sent() -> bool:
        _, data = await other_supervisor.get(f"/console/api/disclosures/{disc['id']}")
        return bool(data["disclosure"]["status"] == "sent")

    await env.until(sent)
    events = await env.audit(conv_id)
    actions = [e.action for e in events if e.action.startswith("disclosure.")]
    assert actions == [
        "disclosure.created",
        "disclosure.approval_refused",
        "disclosure.approved",
        "disclosure.sent",
    ]
    sent_event = next(e for e in events if e.action == "disclosure.sent")
    assert sent_event.details["recipient"] == "polisen"
    assert sent_event.details["legal_ground"] == "avert_serious_crime"
    assert sent_event.details["approved_by"] == "siv"
    assert sent_event.details["identity_included"] is False
    assert sent_event.details["package"]["what"] == "Planerat sprängdåd mot en station."
    refused = [e for e in await env.audit(conv2) if e.action == "disclosure.approval_refused"]
    assert refused and refused[0].details["reason"] == "four_eyes"


async def test_a_rejected_disclosure_is_never_sent(env: Env) -> None:
    counsellor = await env.signed_in("cora")
    supervisor = await env.signed_in("siv", "supervisor")
    conv_id, disc = await flagged(env, counsellor)
    status, data = await supervisor.post(f"/console/api/disclosures/{disc['id']}/reject", {"reason": ""})
    assert (status, data["error"]) == (422, "reason_required")
    status, data = await supervisor.post(
        f"/console/api/disclosures/{disc['id']}/reject", {"reason": "Uppgifterna räcker inte."}
    )
    assert status == 200 and data["disclosure"]["status"] == "rejected"
    status, _ = await supervisor.post(f"/console/api/disclosures/{disc['id']}/approve")
    assert status == 409
    await asyncio.sleep(0.2)
    assert env.receiver.of("/polisen") == []
    assert "disclosure.rejected" in await env.actions(conv_id)


async def test_immediate_danger_goes_at_once_with_identity_and_is_reviewed_afterwards(env: Env) -> None:
    counsellor = await env.signed_in("cora")
    supervisor = await env.signed_in("siv", "supervisor")
    conv_id, disc = await flagged(env, counsellor, immediate_danger=True, legal_ground="danger_to_life")
    assert disc["review_required"] is True and disc["identity_included"] is True

    hit = (await env.until(lambda: env.receiver.of("/polisen")))[0]
    body = hit.json()
    assert body["immediate_danger"] is True and body["approved_by"] is None
    assert body["identity"] == {"channel": "memory", "address": ADDRESS}  # the ground requires it

    _, pending = await supervisor.get("/console/api/disclosures")
    assert disc["id"] in [d["id"] for d in pending["disclosures"]]
    status, data = await counsellor.get("/console/api/disclosures")
    assert (status, data["error"]) == (403, "supervisor_required")
    status, data = await counsellor.post(f"/console/api/disclosures/{disc['id']}/review", {"note": "ok"})
    assert status == 403
    status, data = await supervisor.post(
        f"/console/api/disclosures/{disc['id']}/review", {"note": "Rätt bedömning."}
    )
    assert status == 200 and data["disclosure"]["reviewed_by"] == supervisor.user.id
    _, pending = await supervisor.get("/console/api/disclosures")
    assert disc["id"] not in [d["id"] for d in pending["disclosures"]]

    async def audited() -> list[Any]:
        events = [e for e in await env.audit(conv_id) if e.action.startswith("disclosure.")]
        return events if any(e.action == "disclosure.identity_passed" for e in events) else []

    events = await env.until(audited)
    actions = [e.action for e in events]
    for step in (
        "disclosure.created",
        "disclosure.immediate",
        "disclosure.sent",
        "disclosure.identity_passed",
    ):
        assert step in actions
    for event in events:
        assert ADDRESS not in str(event.details)  # the audit says identity was passed, never what it is


async def test_the_security_service_gets_it_by_email(env: Env) -> None:
    counsellor = await env.signed_in("cora")
    supervisor = await env.signed_in("siv", "supervisor")
    _, disc = await flagged(
        env,
        counsellor,
        recipient_id="sakerhetspolisen",
        legal_ground="national_security",
        certainty="unverified",
    )
    await supervisor.post(f"/console/api/disclosures/{disc['id']}/approve")
    mail = (await env.until(lambda: env.mailbox.to(SAPO_MAIL)))[0]
    text = mail.get_content()
    assert "Planerat sprängdåd mot en station." in text and "obekräftad / unverified" in text
    assert ADDRESS not in text


async def test_the_form_is_checked(env: Env) -> None:
    counsellor = await env.signed_in("cora")
    conv_id = await env.conversation_held_by(counsellor, ADDRESS, "Något hände")
    base = {
        "recipient_id": "polisen",
        "what": "x",
        "certainty": "probable",
        "source_seqs": [1],
        "legal_ground": "avert_serious_crime",
    }
    for change, code in (
        ({"recipient_id": "bris"}, "unknown_recipient"),
        ({"certainty": "sure"}, "unknown_certainty"),
        ({"legal_ground": "because"}, "unknown_legal_ground"),
        ({"source_seqs": [99]}, "unknown_source_message"),
        ({"source_seqs": []}, "source_required"),
        ({"what": " "}, "what_required"),
    ):
        status, data = await counsellor.post(
            f"/console/api/conversations/{conv_id}/disclosures", {**base, **change}
        )
        assert (status, data["error"]) == (422, code)
