"""The console in headless Chromium: why a conversation is where it is, counsellors' corrections of the
triage, and the alert when a conversation someone holds turns critical."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from gateway.store.models import Conversation, Message
from handoff.triage_admin.correction_models import TriageCorrection
from tests.browser.conftest import LiveGateway, Pages
from tests.browser.test_end_to_end import PANEL, visitor_writes

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.browser]

PILLS = {
    "type": "self",
    "score": 0.9,
    "signals": ["means:pills", "state:taken"],
    "reason": "means: pills + taken",
}


async def nlu_found(gateway: LiveGateway, text: str, *, language: str, risk: dict[str, Any] | None) -> str:
    """What the pipeline stores when the NLU (language and risk stages) triaged the message ``text``
    so: the language on the message and the conversation, the risk on the message and, when there
    is one, on the conversation (the risk stage raised its priority).  Returns the conversation id."""
    async with gateway.db.session() as session:
        msg = (await session.execute(select(Message).where(Message.text == text))).scalar_one()
        msg.triage = {**(msg.triage or {}), "language": language, "risk": risk}
        conv = await session.get(Conversation, msg.conversation_id)
        assert conv is not None
        conv.language = language
        if risk is not None:
            conv.meta = {**(conv.meta or {}), "risk": {"type": risk["type"], "reason": risk["reason"]}}
        return conv.id


async def test_the_queue_and_the_conversation_show_the_language_and_why_it_is_urgent(
    pages: Pages, gateway: LiveGateway
) -> None:
    _, visitor = await pages.visitor()
    await visitor_writes(visitor, "min bror har tagit en massa tabletter")
    await nlu_found(gateway, "min bror har tagit en massa tabletter", language="ti", risk=PILLS)
    _, anna = await pages.counsellor(gateway, "anna")
    row = anna.locator("#queue-body tr")
    await expect(row).to_have_count(1)
    await expect(row.locator(".queue-lang")).to_have_text("ti")
    await expect(row.locator(".queue-lang")).to_have_attribute("title", "tigrinska")
    marker = row.locator(".risk-marker")
    await expect(marker).to_be_visible()
    await expect(marker.locator(".sr")).to_have_text("Risk – fara för sig själv: means: pills + taken")

    await row.locator("button.claim").click()
    panel = anna.locator(PANEL)
    await expect(panel.locator(".why-language")).to_have_text("tigrinska (ti)")
    await expect(panel.locator(".why-risk")).to_have_text("fara för sig själv: means: pills + taken")
    await expect(panel.locator(".triage-intent")).to_have_text("Oro, anhörig")
    # A later message without a risk leaves the reason in view.
    await visitor_writes(visitor, "vad ska jag göra nu")
    await expect(panel.locator("li.msg-person")).to_have_count(2)
    await expect(panel.locator(".why-risk")).to_have_text("fara för sig själv: means: pills + taken")
    # The supervisor's list of active conversations shows the same.
    _, sara = await pages.counsellor(gateway, "sara", role="supervisor")
    await sara.goto("/console/supervisor")
    sup_row = sara.locator("#sup-conversations tbody tr")
    await expect(sup_row.locator(".queue-lang")).to_have_text("ti")
    await expect(sup_row.locator(".risk-marker .sr")).to_have_text(
        "Risk – fara för sig själv: means: pills + taken"
    )
    assert anna.js_errors == [] and sara.js_errors == []  # type: ignore[attr-defined]


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
    await expect(anna.locator(f"{PANEL} .suggested")).to_have_text("SAFE:urgent_threat")

    await expect(sara.locator("#alert")).to_be_visible()
    await expect(sara.locator("#alert")).to_have_attribute("data-kind", "assigned")
    await expect(sara.locator("#alert-text")).to_contain_text("hos Anna")
    await expect(bert.locator("#alert")).to_be_hidden()
    await expect(bert.locator("#queue-body tr")).to_have_count(0)
    for page in (anna, bert, sara):
        assert page.js_errors == []  # type: ignore[attr-defined]


async def test_a_counsellor_corrects_the_triage_of_a_message(pages: Pages, gateway: LiveGateway) -> None:
    _, visitor = await pages.visitor()
    await visitor_writes(visitor, "Jag heter Lina och min pojkvän har tagit tabletter")
    _, anna = await pages.counsellor(gateway, "anna")
    await anna.locator("#queue-body tr button.claim").click()
    message = anna.locator(f"{PANEL} li.msg-person")
    await expect(message).to_have_count(1)
    await message.locator("button.tc-open").click()
    form = message.locator("form.tc-form")
    await expect(form.locator("select.tc-intent")).to_be_focused()
    await expect(form.locator('option[value="concern_relative"]')).to_be_disabled()
    await form.get_by_label("Rätt ärendetyp").select_option("self_harm")
    await form.get_by_label("Ja, fara").check()
    await form.get_by_role("button", name="Skicka rättelsen").click()
    await expect(form).to_have_count(0)
    await expect(message.locator(".tc-done")).to_have_text("Rättad: Självskada · Ja, fara")
    await expect(anna.locator("#notice")).to_contain_text("utan namn")

    async with gateway.db.session() as session:
        (row,) = (await session.execute(select(TriageCorrection))).scalars()
    assert (row.intent, row.danger, row.state) == ("self_harm", True, "proposed")
    assert "Lina" not in row.text and "[NAMN]" in row.text

    # Asking for nothing is refused with words, and the mark survives a reload.
    await message.locator("button.tc-open").click()
    await form.get_by_role("button", name="Skicka rättelsen").click()
    await expect(form.locator(".tc-error")).to_have_text(
        "Välj rätt ärendetyp eller svara på om någon är i fara."
    )
    await anna.reload()
    await expect(anna.locator(f"{PANEL} li.msg-person .tc-done")).to_have_text(
        "Rättad: Självskada · Ja, fara"
    )
    assert anna.js_errors == []  # type: ignore[attr-defined]
