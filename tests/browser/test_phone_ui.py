"""Phone calls in the browser (handoff.phone): a call rings in the queue of every console, opens on
the screen of the counsellor whose extension answered (not on anyone else's), shows them on a call,
opens the documentation form when it ends, is documented and counted in the report; a call logged
by hand ("Registrera samtal") is started, stopped and documented the same way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy import update

from gateway.envelope import utcnow
from gateway.store.models import Conversation, StaffUser
from handoff.phone.replay import post_events
from handoff.records.reports.building import build_report
from handoff.records.reports.periods import local_date
from tests.browser.conftest import LiveGateway
from tests.handoff.web.kit import REFERRAL
from tests.harness import login_in_page, make_settings, start

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.browser]

SECRET = "browser-pbx-secret"
NUMBER = "+46701740605"
FORM = "#records-area form.doc-form"


@pytest_asyncio.fixture(loop_scope="module")
async def phone_gateway(tmp_path: Path, free_port: int) -> AsyncIterator[LiveGateway]:
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'helpline.db'}",
        tmp_path,
        **{"server.port": free_port, "phone.events_secret": SECRET},
    )
    gw = await start(settings, memory=True, serve="port", port=free_port, cls=LiveGateway)
    try:
        yield gw
    finally:
        await gw.close()


async def counsellor(
    browser: Browser, gw: LiveGateway, name: str, extension: str
) -> tuple[BrowserContext, Page]:
    await gw.user(name)
    async with gw.db.session() as session:
        await session.execute(update(StaffUser).where(StaffUser.username == name).values(extension=extension))
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900}, base_url=gw.base)
    ctx.set_default_timeout(8000)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors  # type: ignore[attr-defined]
    await login_in_page(page, gw.base, name)
    await page.wait_for_url("**/console")
    await page.wait_for_selector("body[data-live='1']")
    return ctx, page


async def event(gw: LiveGateway, call_id: str, name: str, **extra: object) -> str:
    answers = await post_events(
        gw.base, SECRET, [{"call_id": call_id, "event": name, "caller": NUMBER, **extra}]
    )
    assert answers[0][0] == 200, answers
    return str(answers[0][1]["conversation_id"])


async def document(page: Page, conv_id: str) -> None:
    form = page.locator(f"{FORM}[data-conversation-id='{conv_id}']")
    await expect(form).to_be_visible()

    await form.locator(".doc-field[data-key=contact_type] select").select_option("relative")
    await form.locator(".doc-field[data-key=relation] select").select_option("parent")
    await form.locator(".doc-field[data-key=environment] select").select_option("violent_right_wing")
    await form.locator(".doc-field[data-key=age_group] select").select_option("15_17")
    await form.locator(".doc-field[data-key=gender] select").select_option("male")
    await form.locator(".doc-field[data-key=municipality] select").select_option("0180")
    await form.locator(".doc-field[data-key=advice_given] input[value=how_to_talk]").check()
    await form.locator(".doc-field[data-key=outcome] select").select_option("advice_given")
    await form.locator(".doc-field[data-key=summary] textarea").fill("Förälder ringde, orolig för sonen.")
    await form.locator("button.save-doc").click()
    await expect(page.locator("#records-status")).to_contain_text("Dokumenterat")
    await expect(form).to_have_count(0)


async def test_a_call_rings_is_answered_on_the_right_screen_ends_and_is_documented_and_counted(
    browser: Browser, phone_gateway: LiveGateway
) -> None:
    gw = phone_gateway
    anna_ctx, anna = await counsellor(browser, gw, "anna", "201")
    bo_ctx, bo = await counsellor(browser, gw, "bo", "202")
    try:
        conv_id = await event(gw, "ui-1", "ringing")
        for page in (anna, bo):
            row = page.locator(f"#queue-body tr[data-conversation-id='{conv_id}']")
            await expect(row).to_be_visible()
            await expect(row).to_contain_text("Telefon")  # the channel in Swedish, not its code

        await event(gw, "ui-1", "answered", extension="202")
        panel = bo.locator(f"#panel-{conv_id}")
        await expect(panel).to_be_visible()
        await expect(panel.locator(".phone-info")).to_contain_text("Telefonsamtal")
        await expect(panel.locator(".compose")).to_be_hidden()  # no transcript, no reply box
        await expect(bo.locator("#notice")).to_contain_text("Du svarade i telefon")
        await expect(bo.locator("#my-status")).to_have_value("on_call")
        await expect(anna.locator(f"#queue-body tr[data-conversation-id='{conv_id}']")).to_have_count(0)
        await expect(anna.locator(f"#panel-{conv_id}")).to_have_count(0)
        await expect(bo.locator("body")).not_to_contain_text(NUMBER)
        # A referral on the call: consent is asked on the phone and recorded with a button.
        made = await bo.evaluate(
            "(args) => HL.apiAction('POST', '/console/api/conversations/' + args.id + '/referrals', args.body)"
            ".then((r) => r.status)",
            {"id": conv_id, "body": REFERRAL},
        )
        assert made == 201
        await panel.locator("[role=tab][data-ctx=referral]").click()  # the context pane's tab
        await panel.locator("button.ho-refresh").click()
        await expect(panel.locator("button.ho-ask-consent")).to_have_count(0)
        await panel.locator("button.phone-consent-yes").click()
        await expect(panel.locator(".handoff-slot")).to_contain_text("Skickad")  # consented, so sent

        await event(gw, "ui-1", "ended")
        await expect(bo.locator("#notice")).to_contain_text("Samtalet är slut")
        await expect(bo.locator("#my-status")).to_have_value("available")
        await document(bo, conv_id)
        async with gw.db.session() as session:
            conv = await session.get(Conversation, conv_id)
            assert conv is not None and conv.state == "documented"
        await expect(anna.locator(f"{FORM}[data-conversation-id='{conv_id}']")).to_have_count(0)

        # In the report: four more calls (hung up in the queue) make five, enough to be shown.
        for i in range(4):
            await event(gw, f"ui-q{i}", "ringing")
            await event(gw, f"ui-q{i}", "ended")
        today = local_date(utcnow())
        report = await build_report(gw.db, today - timedelta(days=1), today)
        channels = {
            c["key"]: c["value"] for d in report["dimensions"] if d["key"] == "channel" for c in d["cells"]
        }
        assert channels["phone"] == 5 and report["calls"]["total"] == 5
        assert anna.js_errors == [] and bo.js_errors == []  # type: ignore[attr-defined]
    finally:
        await anna_ctx.close()
        await bo_ctx.close()


async def test_a_call_logged_by_hand_is_started_stopped_and_documented(
    browser: Browser, phone_gateway: LiveGateway
) -> None:
    gw = phone_gateway
    ctx, anna = await counsellor(browser, gw, "anna", "201")
    try:
        await anna.click("#phone-start")
        await expect(anna.locator("#phone-running")).to_be_visible()
        await expect(anna.locator("#my-status")).to_have_value("on_call")
        panel = anna.locator("#panels .conv-panel:not([hidden])")
        await expect(panel.locator(".phone-info")).to_be_visible()
        conv_id = await panel.get_attribute("data-conversation-id")
        assert conv_id
        await anna.click("#phone-stop")
        await expect(anna.locator("#phone-running")).to_be_hidden()
        await document(anna, conv_id)
        # A call that is over, logged with its length afterwards.
        await anna.locator("#phone-log summary").click()
        await anna.fill("#phone-minutes", "12")
        await anna.click("#phone-log-save")
        await expect(anna.locator(FORM)).to_have_count(1)
        assert anna.js_errors == []  # type: ignore[attr-defined]
    finally:
        await ctx.close()


async def test_a_callback_shows_its_number_only_to_whoever_takes_it(
    browser: Browser, phone_gateway: LiveGateway
) -> None:
    gw = phone_gateway
    ctx, anna = await counsellor(browser, gw, "anna", "201")
    try:
        await event(gw, "cb-1", "ringing")
        conv_id = await event(gw, "cb-1", "ended", callback=True)
        row = anna.locator(f"#queue-body tr[data-conversation-id='{conv_id}']")
        await expect(row).to_be_visible()
        await expect(anna.locator("body")).not_to_contain_text(NUMBER)
        await row.locator("button.claim").click()
        panel = anna.locator(f"#panel-{conv_id}")
        await expect(panel.locator(".phone-info")).to_contain_text("Vill bli uppringd")
        await panel.locator("button.phone-number").click()
        await expect(panel.locator(".phone-number-value")).to_have_text(" " + NUMBER)
        assert anna.js_errors == []  # type: ignore[attr-defined]
    finally:
        await ctx.close()
