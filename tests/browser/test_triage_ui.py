"""The console in headless Chromium: why a conversation is where it is, counsellors' corrections of the
triage, and the alert when a conversation someone holds turns critical."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import LiveGateway, Pages
from tests.browser.test_end_to_end import PANEL, visitor_writes

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.browser]


async def test_a_held_conversation_turning_critical_alerts_its_counsellor_and_a_supervisor(
    pages: Pages, gateway: LiveGateway
) -> None:
    _, visitor = await pages.visitor()
    await visitor_writes(visitor, "min son har blivit radikal")
    _, anna = await pages.counsellor(gateway, "anna")
    _, bert = await pages.counsellor(gateway, "bert")
    _, sara = await pages.counsellor(gateway, "sara", role="supervisor")
    await anna.locator("#queue-body tr button.claim").click()
    await expect(anna.locator(f"{PANEL} li.msg-person")).to_have_count(1)
    await expect(anna.locator("#alert")).to_be_hidden()

    await visitor_writes(visitor, "han säger att han ska spränga skolan")
    alert = anna.locator("#alert")
    await expect(alert).to_be_visible()
    await expect(alert).to_have_attribute("data-kind", "mine")
    await expect(alert).to_have_attribute("data-sound", "played")
    await expect(anna.locator("#alert-text")).to_contain_text("Ditt samtal")
    await expect(anna.locator("#alert-text")).to_contain_text("Akut hot")
    await expect(anna.locator(".tab[data-priority=critical]")).to_have_count(1)
    await anna.click("#alert-show")
    await expect(alert).to_be_hidden()
    await expect(anna.locator(f"{PANEL} .triage-priority")).to_have_text("Kritisk")

    await expect(sara.locator("#alert")).to_be_visible()
    await expect(sara.locator("#alert")).to_have_attribute("data-kind", "assigned")
    await expect(sara.locator("#alert-text")).to_contain_text("hos Anna")
    await expect(bert.locator("#alert")).to_be_hidden()
    await expect(bert.locator("#queue-body tr")).to_have_count(0)
    for page in (anna, bert, sara):
        assert page.js_errors == []  # type: ignore[attr-defined]
