"""Handoffs in the browser: a counsellor refers (consent refused: nothing sent; consent not asked: sent),
flags crime information that a supervisor approves on the supervisor page (the author's own approval
refused by four eyes), and the municipality sees only its own referral in the portal and acknowledges it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import BrowserContext, Page, expect

from gateway.auth import create_user
from handoff.disclosures.web import DISCLOSURES
from handoff.referrals.web import REFERRALS
from tests.browser.conftest import PASSWORD, LiveGateway, Pages
from tests.harness import login_in_page

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.browser]

PANEL = ".conv-panel:not([hidden])"


async def sign_in(pages: Pages, name: str, landing: str) -> tuple[BrowserContext, Page]:
    ctx, page = await pages.new()
    await login_in_page(page, pages.base, name)  # with the second step, for a supervisor
    await page.wait_for_url("**" + landing)
    return ctx, page


async def post(page: Page, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """An API call with the page's own session and CSRF token (as its scripts make it)."""
    csrf = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    resp = await page.request.post(path, data=body, headers={"X-CSRF-Token": csrf or ""})
    assert resp.ok, (path, resp.status, await resp.text())
    data = await resp.json()
    assert isinstance(data, dict)
    return data


async def test_referral_consent_disclosure_approval_and_the_portal(
    pages: Pages, gateway: LiveGateway
) -> None:
    async with gateway.db.session() as session:
        await create_user(session, "kh.goteborg", PASSWORD, "municipality", municipality_code="KH1480")
        await create_user(session, "kh.stockholm", PASSWORD, "municipality", municipality_code="KH0180")
        await create_user(session, "sven", PASSWORD, "supervisor", display_name="Sven")

    _, visitor = await pages.visitor()
    await visitor.fill("#hl-input", "min son har blivit radikal, vad gör jag?")
    await visitor.click("#hl-send")
    await expect(visitor.locator("li.hl-msg[data-kind=bot]")).to_have_count(1)

    _, anna = await pages.counsellor(gateway, "anna")
    await anna.locator("#queue-body tr button.claim").click()
    panel = anna.locator(PANEL)
    await expect(panel.locator("li.msg-person")).to_have_count(1)
    conv_id = await panel.get_attribute("data-conversation-id")
    # The referral and the crime information are tabs of the conversation's context pane.
    slot = panel.locator(".conv-side")
    await panel.locator("[role=tab][data-ctx=referral]").click()
    await expect(slot.locator(".ho-referral-list li.empty")).to_have_text("Inga hänvisningar ännu.")

    # -------------------------------------------------------------- propose, create, consent refused
    async def propose_and_create(summary: str) -> None:
        await slot.locator("input.ho-municipality").fill("1481")
        await slot.locator("select.ho-topic").select_option("radicalisation_concern")
        await slot.locator("select.ho-contact-type").select_option("relative")
        await slot.locator("button.ho-propose").click()
        first = slot.locator("li.ho-proposal").first
        await expect(first).to_have_attribute("data-recipient-id", "kunskapshus-goteborg")
        await expect(first.locator(".ho-reason")).not_to_be_empty()
        await expect(slot.locator(".ho-municipality-info")).to_contain_text("Mölndal")
        await first.locator("input.ho-pick").check()
        await slot.locator("textarea.ho-summary").fill(summary)
        await slot.locator("button.ho-create-referral").click()

    await propose_and_create("Förälder orolig för sin sons radikalisering.")
    refused = slot.locator("li.ho-referral").first
    await expect(refused).to_have_attribute("data-status", "proposed")
    await expect(refused.locator(".ho-referral-recipient")).to_have_text("Kunskapshus Göteborg")
    await refused.locator("button.ho-ask-consent").click()
    await expect(refused).to_have_attribute("data-status", "consent_requested")
    await expect(visitor.locator("li.hl-msg", has_text="exakt vad som skulle skickas")).to_have_count(1)
    await visitor.fill("#hl-input", "NEJ")
    await visitor.click("#hl-send")
    await expect(slot.locator("li.ho-referral[data-status=refused]")).to_have_count(1)
    await expect(slot.locator("li.ho-referral[data-status=refused] .ho-nothing-sent")).to_have_text(
        "Inget skickas."
    )
    [ref] = await gateway.app[REFERRALS].reading.of_conversation(str(conv_id))
    assert ref["status"] == "refused" and ref["sent_at"] is None and ref["delivery"] == {}

    # -------------------------------------------------------------- consent could not be asked: a reason, then sent
    await propose_and_create("Förälder orolig; samtalet bröts.")
    proposed = slot.locator("li.ho-referral[data-status=proposed]")
    await proposed.locator("button.ho-not-asked").click()
    await proposed.locator("button.ho-not-asked-save").click()
    await expect(slot.locator(".ho-status")).to_have_text("Ange ett skäl.")
    await expect(proposed).to_have_count(1)
    await proposed.locator("textarea.ho-not-asked-reason").fill(
        "Personen lämnade chatten innan frågan kunde ställas."
    )
    await proposed.locator("button.ho-not-asked-save").click()
    sent = slot.locator("li.ho-referral[data-status=sent]")
    await expect(sent).to_have_count(1)
    await expect(sent.locator(".ho-ack")).to_contain_text("Ej kvitterad")
    sent_id = await sent.get_attribute("data-referral-id")

    # -------------------------------------------------------------- crime information awaiting approval
    await panel.locator("[role=tab][data-ctx=crime]").click()
    await slot.locator("textarea.ho-what").fill("Planerar att skada en person på skolan.")
    await slot.locator("input.ho-when").fill("nästa vecka")
    await slot.locator("input.ho-where").fill("Mölndal")
    await slot.locator("select.ho-sources").select_option("1")
    await slot.locator("select.ho-recipient").select_option("polisen")
    await slot.locator("select.ho-legal-ground").select_option("avert_serious_crime")
    # No certainty is chosen for the counsellor, and none is assumed: the form asks for one.
    await expect(slot.locator("select.ho-certainty")).to_have_value("")
    await slot.locator("button.ho-create-disclosure").click()
    await expect(slot.locator(".ho-status")).to_have_text("Välj hur säkert det är.")
    await expect(slot.locator("select.ho-certainty")).to_be_focused()
    await expect(slot.locator("li.ho-disclosure")).to_have_count(0)
    await slot.locator("select.ho-certainty").select_option("probable")
    await slot.locator("button.ho-create-disclosure").click()
    disclosure = slot.locator("li.ho-disclosure")
    await expect(disclosure).to_have_count(1)
    await expect(disclosure).to_have_attribute("data-status", "pending_approval")
    await expect(disclosure.locator(".ho-disclosure-status")).to_have_text("Väntar på godkännande")
    disclosure_id = await disclosure.get_attribute("data-disclosure-id")

    # -------------------------------------------------------------- the supervisor approves (not their own)
    _, sven = await sign_in(pages, "sven", "/console")
    own = await post(
        sven,
        f"/console/api/conversations/{conv_id}/disclosures",
        {
            "recipient_id": "polisen",
            "what": "Sven skrev den här själv.",
            "when": "",
            "where": "",
            "certainty": "possible",
            "source_seqs": [1],
            "legal_ground": "avert_serious_crime",
        },
    )
    own_id = own["disclosure"]["id"]
    # Another unit's referral, which the Göteborg portal must never show.
    other = await post(
        sven,
        f"/console/api/conversations/{conv_id}/referrals",
        {
            "recipient_id": "kunskapshus-stockholm",
            "topic": "radicalisation_concern",
            "contact_type": "relative",
            "municipality_code": "0182",
            "summary": "Till Stockholm.",
        },
    )
    await post(
        sven,
        f"/console/api/referrals/{other['referral']['id']}/consent-not-asked",
        {"reason": "Personen lämnade chatten innan frågan kunde ställas."},
    )

    await sven.goto("/console/supervisor")
    pending = sven.locator("#sup-disclosures-pending li.ho-disclosure")
    await expect(pending).to_have_count(2)
    mine = sven.locator(f"#sup-disclosures-pending li[data-disclosure-id='{own_id}']")
    await mine.locator("button.ho-approve").click()
    await expect(mine.locator(".ho-error")).to_contain_text("fyra ögon")
    annas = sven.locator(f"#sup-disclosures-pending li[data-disclosure-id='{disclosure_id}']")
    await expect(annas).to_contain_text("Planerar att skada en person på skolan.")
    await annas.locator("button.ho-approve").click()
    await expect(sven.locator("#sup-notice")).to_have_text("Godkänd – skickas till mottagaren.")
    await expect(pending).to_have_count(1)
    approved = await gateway.app[DISCLOSURES].reading.get(str(disclosure_id))
    assert approved["status"] != "pending_approval" and approved["approved_at"] is not None
    assert (await gateway.app[DISCLOSURES].reading.get(own_id))["status"] == "pending_approval"
    await panel.locator("[role=tab][data-ctx=referral]").click()
    await slot.locator("button.ho-refresh").click()
    await panel.locator("[role=tab][data-ctx=crime]").click()
    annas_in_console = slot.locator(f"li.ho-disclosure[data-disclosure-id='{disclosure_id}']")
    await expect(annas_in_console).not_to_have_attribute("data-status", "pending_approval")

    # -------------------------------------------------------------- the municipality portal
    _, house = await sign_in(pages, "kh.goteborg", "/console/portal")
    await expect(house.locator("#portal-units")).to_have_text("Kunskapshus Göteborg")
    rows = house.locator("#portal-referrals li.ho-portal-referral")
    await expect(rows).to_have_count(1)
    await expect(rows).to_have_attribute("data-referral-id", str(sent_id))
    await expect(rows).to_contain_text("Förälder orolig; samtalet bröts.")
    await expect(rows).not_to_contain_text("Till Stockholm.")
    await rows.locator("button.ho-acknowledge").click()
    await expect(rows).to_have_attribute("data-status", "received")
    await rows.locator("select.ho-follow-up").select_option("contact_made")
    await rows.locator("button.ho-report").click()
    await expect(rows).to_have_attribute("data-status", "contact_made")

    _, stockholm = await sign_in(pages, "kh.stockholm", "/console/portal")
    await expect(stockholm.locator("#portal-referrals li.ho-portal-referral")).to_have_count(1)
    await expect(stockholm.locator("#portal-referrals")).to_contain_text("Till Stockholm.")

    # The counsellor sees the follow-up and the time to acknowledgement.
    await panel.locator("[role=tab][data-ctx=referral]").click()
    await slot.locator("button.ho-refresh").click()
    done = slot.locator(f"li.ho-referral[data-referral-id='{sent_id}']")
    await expect(done).to_have_attribute("data-status", "contact_made")
    await expect(done.locator(".ho-ack")).to_contain_text("Tid till kvittens")

    for page in (visitor, anna, sven, house, stockholm):
        assert page.js_errors == [], page.js_errors  # type: ignore[attr-defined]
