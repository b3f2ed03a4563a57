"""The shift in the browser: the status in the header, "Nästa samtal", a desktop notification of a
new conversation and a reminder of one that waits past its target, the supervisor's live view of
everyone's status and load, and the plain notice when notifications are not allowed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import LiveGateway
from tests.harness import login_in_page, make_settings, start

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.browser]

# Records every desktop notification the page makes (and still shows it).
NOTIFICATION_SPY = """
(() => {
  const Real = window.Notification;
  if (!Real) return;
  window.__notifications = [];
  function Spy(title, options) {
    window.__notifications.push({ title: title, body: (options && options.body) || "" });
    return new Real(title, options);
  }
  Spy.requestPermission = function (cb) { return Real.requestPermission(cb); };
  Object.defineProperty(Spy, "permission", { get: function () { return Real.permission; } });
  window.Notification = Spy;
})();
"""


@pytest_asyncio.fixture(loop_scope="module")
async def shift_gateway(tmp_path: Path, free_port: int) -> AsyncIterator[LiveGateway]:
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'helpline.db'}",
        tmp_path,
        **{
            "server.port": free_port,
            # A normal conversation is overdue after 3 seconds; the queue is checked twice a second.
            "console.wait_targets": {"normal": 0.05},
            "console.wait_check_seconds": 0.5,
        },
    )
    gw = await start(settings, memory=True, serve="port", port=free_port, cls=LiveGateway)
    try:
        yield gw
    finally:
        await gw.close()


async def sign_in(
    browser: Browser, gw: LiveGateway, name: str, role: str, *, notifications: bool, landing: str = "/console"
) -> tuple[BrowserContext, Page]:
    await gw.user(name, role)
    ctx = await browser.new_context(
        viewport={"width": 1280, "height": 900},
        base_url=gw.base,
        permissions=["notifications"] if notifications else [],
    )
    ctx.set_default_timeout(8000)
    await ctx.add_init_script(NOTIFICATION_SPY)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors  # type: ignore[attr-defined]
    await login_in_page(page, gw.base, name)  # with the second step, for a supervisor
    await page.wait_for_url("**" + landing)
    return ctx, page


async def notifications(page: Page) -> list[dict[str, Any]]:
    found = await page.evaluate("window.__notifications || []")
    assert isinstance(found, list)
    return found


async def test_status_next_conversation_notifications_and_reminders(
    browser: Browser, shift_gateway: LiveGateway
) -> None:
    gw = shift_gateway
    anna_ctx, anna = await sign_in(browser, gw, "anna", "counsellor", notifications=True)
    sofia_ctx, sofia = await sign_in(
        browser, gw, "sofia", "supervisor", notifications=False, landing="/console"
    )
    try:
        await anna.wait_for_selector("body[data-live='1']")
        # Available once the console is open; notifications allowed: no notice about them.
        await expect(anna.locator("#my-status")).to_have_value("available")
        await expect(anna.locator("#notify-notice")).to_be_hidden()
        # Sofia's browser does not allow notifications (headless Chromium denies them unless
        # granted): the console says so plainly, with a button to try again.
        await sofia.goto("/console/supervisor")
        notice = sofia.locator("#notify-notice")
        await expect(notice).to_be_visible()
        await expect(notice).to_have_attribute("data-state", "denied")
        await expect(notice).to_contain_text("Webbläsaren blockerar aviseringar")
        await expect(notice.locator("#notify-enable")).to_have_text("Försök igen")
        await expect(sofia.locator("#sup-counsellors tr[data-username='anna'] .status")).to_have_text(
            "Tillgänglig"
        )

        # A person writes: anna, available with room, gets a desktop notification.
        first = str((await gw.memory.person_writes("p1", "min son har blivit radikal")).conversation_id)
        await expect(anna.locator(f"#queue-body tr[data-conversation-id='{first}']")).to_be_visible()
        await anna.wait_for_function("(window.__notifications || []).length > 0")
        assert (await notifications(anna))[0] == {
            "title": "Nytt samtal i kön",
            "body": "Normal · Oro, anhörig · memory",
        }
        # It waits past its target: the reminder box and a second notification.
        reminder = anna.locator("#reminder")
        await expect(reminder).to_be_visible(timeout=10000)
        await expect(reminder).to_have_attribute("data-conversation-id", first)
        await expect(anna.locator("#reminder-text")).to_contain_text("har väntat")
        titles = [n["title"] for n in await notifications(anna)]
        assert "Ett samtal väntar för länge" in titles
        await expect(sofia.locator("#reminder")).to_be_visible()

        # "Nästa samtal" takes it: the conversation opens and the reminder goes away.
        await anna.locator("#next-conversation").click()
        panel = anna.locator(".conv-panel:not([hidden])")
        await expect(panel).to_have_attribute("data-conversation-id", first)
        await expect(panel.locator("li.msg-person")).to_have_count(1)
        await expect(reminder).to_be_hidden()
        await expect(anna.locator("#next-conversation")).to_be_disabled()
        anna_row = sofia.locator("#sup-counsellors tr[data-username='anna']")
        await expect(anna_row.locator(".load")).to_have_text("1")
        await expect(anna_row.locator(".capacity")).to_have_text("3")

        # A break from the header: the supervisor sees it live, and nothing is offered to anna.
        await anna.locator("#my-status").select_option("break")
        await expect(anna.locator("#notice")).to_have_text("Din status är nu: Rast.")
        row = sofia.locator("#sup-counsellors tr[data-username='anna']")
        await expect(row).to_have_attribute("data-status", "break")
        await expect(row.locator(".status")).to_have_text("Rast")
        before = len(await notifications(anna))
        second = str((await gw.memory.person_writes("p2", "min kompis har blivit konstig")).conversation_id)
        await expect(anna.locator(f"#queue-body tr[data-conversation-id='{second}']")).to_be_visible()
        await anna.wait_for_timeout(500)
        assert len(await notifications(anna)) == before
        # On a break "Nästa samtal" is disabled, and says why beside it.
        await expect(anna.locator("#next-conversation")).to_be_disabled()
        await expect(anna.locator("#next-why")).to_have_text(
            "Sätt din status till Tillgänglig för att ta nästa samtal."
        )
        await expect(anna.locator("#next-conversation")).to_have_attribute("aria-describedby", "next-why")
        # Sound: the login click let the console's audio start (the autoplay policy), so no notice.
        await expect(anna.locator("body")).to_have_attribute("data-sound", "running")
        await expect(anna.locator("#sound-notice")).to_be_hidden()
        assert anna.js_errors == [] and sofia.js_errors == []  # type: ignore[attr-defined]
    finally:
        await anna_ctx.close()
        await sofia_ctx.close()


async def test_sound_after_login_and_a_plain_notice_where_the_browser_blocks_it(
    shift_gateway: LiveGateway,
) -> None:
    """With the autoplay policy of a desktop browser (sound only after a user gesture): the login
    click carries over to the console, which can sound at once; the console opened without a gesture
    (a reload, a bookmark) says that sound is blocked, and its button turns it on."""
    from playwright.async_api import async_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    gw = shift_gateway
    async with async_playwright() as p:
        strict = await p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[*CHROMIUM_ARGS, "--autoplay-policy=document-user-activation-required"],
        )
        try:
            ctx, page = await sign_in(strict, gw, "emil", "counsellor", notifications=True)
            await page.wait_for_selector("body[data-live='1']")
            await expect(page.locator("body")).to_have_attribute("data-sound", "running")
            await expect(page.locator("#sound-notice")).to_be_hidden()
            # Opened again without a click: blocked, and the console says so.
            await page.goto("/console")
            notice = page.locator("#sound-notice")
            await expect(notice).to_be_visible()
            await expect(notice).to_contain_text("Webbläsaren blockerar ljudet")
            await page.locator("#sound-enable").click()
            await expect(notice).to_be_hidden()
            await expect(page.locator("body")).to_have_attribute("data-sound", "running")
            await ctx.close()
        finally:
            await strict.close()


async def test_next_only_shows_no_pick_buttons_to_counsellors(
    browser: Browser, tmp_path: Path, free_port: int
) -> None:
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'next.db'}",
        tmp_path,
        **{"server.port": free_port, "console.queue_mode": "next_only"},
    )
    gw = await start(settings, memory=True, serve="port", port=free_port, cls=LiveGateway)
    try:
        older = str((await gw.memory.person_writes("a", "min son har blivit radikal")).conversation_id)
        await gw.memory.person_writes("b", "min kompis har blivit konstig")
        ctx, anna = await sign_in(browser, gw, "anna", "counsellor", notifications=True)
        await expect(anna.locator("#queue-body tr")).to_have_count(2)
        await expect(anna.locator("#queue-body button.claim")).to_have_count(0)
        await expect(anna.locator("#next-only-hint")).to_be_visible()
        await anna.locator("#next-conversation").click()
        await expect(anna.locator(".conv-panel:not([hidden])")).to_have_attribute(
            "data-conversation-id", older
        )
        await ctx.close()
        # A supervisor may still pick.
        sctx, sofia = await sign_in(browser, gw, "sofia", "supervisor", notifications=True)
        await expect(sofia.locator("#queue-body button.claim")).to_have_count(1)
        await expect(sofia.locator("#next-only-hint")).to_have_count(0)
        await sctx.close()
    finally:
        await gw.close()
