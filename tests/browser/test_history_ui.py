"""Issue 17 in the browser: the close dialog (keyboard), care after a critical conversation, the
Person panel of a returning person (documentation, never the transcript; "forget me"), the
supervisors' search and the audit page with its CSV export; every opening audited."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from playwright.async_api import BrowserContext, Page, expect
from sqlalchemy import select

from gateway.auth import create_user
from gateway.envelope import utcnow
from gateway.store.models import AuditEvent, Conversation
from handoff.records.models import DocumentationRecord
from tests.authenticator import login_in_page
from tests.browser.conftest import PASSWORD, LiveGateway, Pages

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.browser]

PANEL = ".conv-panel:not([hidden])"


async def sign_in(pages: Pages, name: str, landing: str) -> tuple[BrowserContext, Page]:
    ctx, page = await pages.new()
    await login_in_page(page, pages.base, name)  # with the second step, for a supervisor
    if not page.url.endswith(landing):
        await page.goto(landing)
    await page.wait_for_url("**" + landing)
    return ctx, page


async def audits(gateway: LiveGateway, action: str) -> list[AuditEvent]:
    async with gateway.db.session() as session:
        return list((await session.execute(select(AuditEvent).where(AuditEvent.action == action))).scalars())


async def visitor_writes(pages: Pages, text: str) -> Page:
    _, visitor = await pages.visitor()
    await visitor.fill("#hl-input", text)
    await visitor.click("#hl-send")
    await expect(visitor.locator("li.hl-msg[data-kind=bot]")).to_have_count(1)
    return visitor


async def test_closing_asks_in_a_dialog_and_care_follows_a_critical_conversation(
    pages: Pages, gateway: LiveGateway
) -> None:
    await gateway.user("sven", "supervisor")
    await visitor_writes(pages, "jag vill inte leva längre")
    _, anna = await pages.counsellor(gateway, "anna")
    await anna.locator("#queue-body tr button.claim").click()
    panel = anna.locator(PANEL)
    await expect(panel.locator("li.msg-person")).to_have_count(1)
    conv_id = await panel.get_attribute("data-conversation-id")
    dialog = anna.locator("#close-dialog")

    # The keyboard opens the dialog; Escape keeps the conversation; nothing is closed by a double click.
    close = panel.locator("button.close")
    await close.focus()
    await anna.keyboard.press("Enter")
    await expect(dialog).to_be_visible()
    await expect(anna.locator("#close-dialog-cancel")).to_be_focused()
    await anna.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(anna.locator(".conv-panel")).to_have_count(1)
    await close.click()
    await expect(dialog).to_be_visible()
    await anna.locator("#close-dialog-cancel").click()
    await expect(anna.locator(".conv-panel")).to_have_count(1)
    async with gateway.db.session() as session:
        conv = await session.get(Conversation, conv_id)
        assert conv is not None and conv.state == "assigned"

    # Confirmed from the keyboard: closed, and the care offer follows the critical conversation.
    await close.click()
    await anna.keyboard.press("Tab")
    await expect(anna.locator("#close-dialog-confirm")).to_be_focused()
    await anna.keyboard.press("Enter")
    await expect(anna.locator(".conv-panel")).to_have_count(0)
    care = anna.locator("#care-dialog")
    await expect(care).to_be_visible()
    await expect(care.locator("h2")).to_have_text("Ett tungt samtal")
    await care.locator("#care-break").click()
    # The break is taken at once: the counsellor's status (handoff.shift) is now break.
    await expect(care.locator(".care-status")).to_contain_text("Din status är nu paus")
    await expect(anna.locator("body")).to_have_attribute("data-status", "break")
    await care.locator("#care-note").fill("Tungt samtal, vill gärna prata en stund.")
    await care.locator("#care-send").click()
    await expect(care.locator(".care-status")).to_have_text("Anteckningen är skickad till arbetsledarna.")
    await care.locator("#care-dismiss").click()
    await expect(care).to_be_hidden()

    # The supervisor sees who handled a critical contact in the shift, and the note.
    _, sven = await sign_in(pages, "sven", "/console")
    await sven.goto("/console/supervisor")
    await expect(sven.locator("#care-handled tbody tr[data-username=anna] td").nth(1)).to_have_text("1")
    await expect(sven.locator("#care-debriefs li")).to_contain_text("vill gärna prata en stund")
    assert anna.js_errors == [] and sven.js_errors == []  # type: ignore[attr-defined]


async def test_the_person_panel_of_a_returning_person(pages: Pages, gateway: LiveGateway) -> None:
    await visitor_writes(pages, "min son har blivit radikal, vad gör jag?")
    _, anna = await pages.counsellor(gateway, "anna")
    # An earlier conversation of the same person (same pseudonym on the web chat), documented.
    earlier = uuid.uuid4().hex
    async with gateway.db.session() as session:
        [current] = (await session.execute(select(Conversation))).scalars().all()
        before = utcnow() - timedelta(days=3)
        session.add(
            Conversation(
                id=earlier,
                channel=current.channel,
                pseudonym=current.pseudonym,
                state="documented",
                priority=1,
                intent="concern_relative",
                created_at=before,
                closed_at=before + timedelta(minutes=30),
                last_message_at=before,
                meta={},
            )
        )
        await session.flush()
        session.add(
            DocumentationRecord(conversation_id=earlier, fields={}, summary="Förälder fick råd om sonen.")
        )
    await anna.locator("#queue-body tr button.claim").click()
    panel = anna.locator(PANEL)
    await panel.locator("[role=tab][data-ctx=person]").click()
    person = panel.locator("[role=tabpanel][data-ctx=person] .person-panel")
    await expect(person.locator(".person-status")).to_have_text("Personen har skrivit tidigare (1 samtal).")
    entry = person.locator(f"li.person-entry[data-conversation-id='{earlier}']")
    await expect(entry).to_have_count(1)
    assert await audits(gateway, "person.earlier_opened") == []
    await entry.locator("button.person-open").click()
    await expect(person.locator(".person-summary")).to_have_text("Förälder fick råd om sonen.")
    [event] = await audits(gateway, "person.earlier_opened")
    assert event.actor == "anna" and event.conversation_id == earlier

    # The counsellor unlinks the person on their behalf, asked first in a dialog (not window.confirm):
    # "Avbryt" keeps the link, the dialog's own button unlinks.
    forget = person.locator("button.person-forget")
    await forget.click()
    dialog = anna.locator("#forget-dialog")
    await expect(dialog).to_be_visible()
    await expect(anna.locator("#forget-dialog-cancel")).to_be_focused()
    await anna.locator("#forget-dialog-cancel").click()
    await expect(dialog).to_be_hidden()
    await expect(forget).to_be_focused()
    assert await audits(gateway, "person.unlinked") == []
    await forget.click()
    await anna.locator("#forget-dialog-confirm").click()
    await expect(person.locator(".person-status")).to_have_text(
        "Personen har bett att inte bli igenkänd mellan samtalen."
    )
    await expect(person.locator("li.person-entry")).to_have_count(0)
    assert len(await audits(gateway, "person.unlinked")) == 1
    assert anna.js_errors == []  # type: ignore[attr-defined]


async def test_search_and_the_audit_page(pages: Pages, gateway: LiveGateway) -> None:
    async with gateway.db.session() as session:
        await create_user(session, "sven", PASSWORD, "supervisor", display_name="Sven")
    await visitor_writes(pages, "min elev pratar om våld på skolan")
    _, anna = await pages.counsellor(gateway, "anna")
    await anna.locator("#queue-body tr button.claim").click()
    panel = anna.locator(PANEL)
    await expect(panel.locator("li.msg-person")).to_have_count(1)
    conv_id = str(await panel.get_attribute("data-conversation-id"))
    async with gateway.db.session() as session:
        session.add(
            DocumentationRecord(
                conversation_id=conv_id,
                fields={},
                summary="Lärare orolig för elev.",
                municipality_code="1480",
            )
        )

    _, sven = await sign_in(pages, "sven", "/console")
    await sven.locator("nav a[href='/console/search']").click()
    await sven.wait_for_url("**/console/search")
    await sven.fill("#s-words", "ORolig")
    await sven.fill("#s-municipality", "1480")
    await sven.click("#s-submit")
    row = sven.locator(f"#s-results tbody tr[data-conversation-id='{conv_id}']")
    await expect(row).to_have_count(1)
    await expect(sven.locator("#s-page")).to_have_text("Sida 1 av 1")
    await row.locator("button.s-open").click()
    await expect(sven.locator("#s-record .s-summary")).to_have_text("Lärare orolig för elev.")
    [opened] = await audits(gateway, "search.opened")
    assert opened.actor == "sven" and opened.conversation_id == conv_id
    # Transcripts within retention: the hit names the conversation, not the words.
    await sven.select_option("#s-kind", "transcripts")
    await sven.fill("#s-words", "våld")
    await sven.fill("#s-municipality", "")
    await sven.click("#s-submit")
    await expect(row.locator("td").nth(4)).to_have_text("1")
    await expect(sven.locator("#s-results")).not_to_contain_text("skolan")

    # The audit page: filtered by staff member; the export is audited.
    await sven.locator("nav a[href='/console/audit']").click()
    await sven.wait_for_url("**/console/audit")
    await sven.fill("#a-actor", "anna")
    await sven.click("#a-submit")
    await expect(sven.locator("#a-events tbody tr[data-action='conversation.claimed']")).to_have_count(1)
    await expect(sven.locator("#a-events tbody")).not_to_contain_text("search.opened")
    async with sven.expect_download() as info:
        await sven.click("#a-export")
    download = await info.value
    text = open(await download.path(), encoding="utf-8").read()
    assert text.splitlines()[0] == "at,actor,action,conversation_id,details"
    assert "conversation.claimed" in text and "search.opened" not in text
    [exported] = await audits(gateway, "audit.exported")
    assert exported.actor == "sven" and exported.details["filters"] == {"actor": "anna"}
    assert sven.js_errors == []  # type: ignore[attr-defined]
