"""The chat page's own script in headless Chromium: send, receive, reconnect, quick exit, 360 px."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.store.models import Conversation
from tests.bots.webchat.conftest import start_gateway

pytestmark = [pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


async def test_the_chat_page_in_a_real_browser(tmp_path: Path) -> None:
    playwright = pytest.importorskip("playwright.async_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium")
    gw = await start_gateway(tmp_path, {"quick_exit_url": "https://exit.example/"})
    base = str(gw.client.make_url("/chat"))
    try:
        async with playwright.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            context = await browser.new_context(viewport={"width": 360, "height": 740})
            await context.route(
                "https://exit.example/**", lambda r: r.fulfill(body="neutral", content_type="text/plain")
            )
            page = await context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("dialog", lambda d: problems.append("dialog opened"))
            await page.goto(base)
            await page.wait_for_selector("#hl-status:has-text('Skriv ditt meddelande')")

            await page.fill("#hl-input", "min son vill resa till syrien <img src=x onerror=alert(1)>")
            await page.keyboard.press("Enter")
            await page.wait_for_selector("#hl-log li[data-kind=bot][data-seq='2']")
            mine = page.locator("#hl-log li[data-seq='1']")
            assert await mine.text_content() == "min son vill resa till syrien <img src=x onerror=alert(1)>"
            assert await page.locator("#hl-log img").count() == 0
            await page.wait_for_selector("#hl-status:has-text('Plats i kön: 1')")
            assert await page.evaluate("localStorage.length + document.cookie.length") == 0

            async with gw.db.session() as session:
                conv = (await session.execute(select(Conversation.id))).scalar_one()
            anna = await gw.user("anna")
            await gw.pipeline.staff.claim(conv, anna)
            await page.wait_for_selector("#hl-status:has-text('En samtalsstödjare har anslutit')")
            await gw.pipeline.staff.counsellor_typing(conv, anna, True)
            await page.wait_for_selector("#hl-status:has-text('skriver…')")
            await gw.pipeline.staff.reply(conv, "Hej <b>där</b>", anna)
            await page.wait_for_selector("#hl-log li[data-kind=counsellor][data-seq='3']")
            assert await page.locator("#hl-log b").count() == 0

            # The server drops the socket; a reply sent meanwhile arrives once after the reconnect.
            for chat in list(gw.adapter._chats):
                await chat.ws.close()
            await gw.pipeline.staff.reply(conv, "medan du var borta", anna)
            await page.wait_for_selector("#hl-log li[data-seq='4']", timeout=15000)
            await page.fill("#hl-input", "tack")
            await page.click("#hl-send")
            await page.wait_for_selector("#hl-log li[data-seq='5']:not(.hl-pending)")
            seqs = await page.eval_on_selector_all("#hl-log li", "els => els.map(e => e.dataset.seq)")
            assert seqs == ["1", "2", "3", "4", "5"]
            assert await page.evaluate("document.documentElement.scrollWidth") <= 360

            await page.select_option("#hl-lang", "en")
            assert await page.text_content("#hl-send") == "Send"
            await page.click("#hl-continue-later")
            await page.wait_for_selector("#hl-resume-code:has-text('-')")
            assert await page.evaluate("localStorage.length") == 1

            await page.click("#hl-exit")
            await page.wait_for_url("https://exit.example/")
            await page.go_back()
            assert "/chat" not in page.url  # location.replace: Back does not return to the chat
            again = await context.new_page()
            await again.goto(base)
            await again.wait_for_selector("#hl-status:has-text('Skriv ditt meddelande')")
            assert await again.evaluate("localStorage.length") == 0
            assert await again.locator("#hl-log li").count() == 0
            assert problems == []
            await browser.close()
    finally:
        await gw.client.close()
