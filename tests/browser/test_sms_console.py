"""An SMS conversation in the console (headless Chromium): a counsellor sees how many SMS each
answer cost, and an answer the provider refused or could not deliver is marked under it with why,
live; the person's number is nowhere on the page.  The SMS channel runs against the local
provider of tests/bots/sms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from bots.sms.segments import count
from tests.bots.sms.conftest import SmsGateway, start_sms
from tests.bots.sms.fake_provider import FakeProvider
from tests.browser.conftest import LiveGateway, Pages

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.browser]

PANEL = ".conv-panel:not([hidden])"
NUMBER = "+46701234567"
LONG = (
    "Hej! Det låter som att du har det tufft just nu. Vi finns här för dig och din familj. "
    "Berätta gärna mer om vad som har hänt, så försöker vi tillsammans hitta en väg framåt. "
    "Du är välkommen att skriva när du vill."
)


@pytest_asyncio.fixture(loop_scope="module")
async def sms(tmp_path: Path) -> AsyncIterator[SmsGateway]:
    provider = FakeProvider()
    await provider.start()
    gw, port = await start_sms(f"sqlite+aiosqlite:///{tmp_path / 'helpline.db'}", tmp_path, provider)
    try:
        async with aiohttp.ClientSession() as http:
            yield SmsGateway(gw, provider, http, port)
    finally:
        await gw.close()
        await provider.close()


async def test_the_counsellor_sees_what_an_sms_cost_and_which_failed(
    browser: Browser, sms: SmsGateway
) -> None:
    pages = Pages(browser, sms.gw.base)
    try:
        assert (await sms.person_writes(NUMBER, "Min bror pratar om våld hela tiden."))[0] == 200
        gateway = LiveGateway(sms.gw.app, sms.gw.triager, runner=None, base=sms.gw.base)
        _, anna = await pages.counsellor(gateway, "anna")
        await anna.locator("#queue-body tr button.claim").click()
        panel = anna.locator(PANEL)
        await expect(panel.locator("li.msg-person .text")).to_have_text("Min bror pratar om våld hela tiden.")

        # While writing, the counsellor sees what the answer will cost.
        cost = panel.locator(".sms-cost")
        await expect(cost).to_be_hidden()
        await panel.locator("textarea.reply").fill(LONG)
        await expect(cost).to_have_text("2 sms")
        await panel.locator("textarea.reply").fill("Kort.")
        await expect(cost).to_have_text("1 sms")
        await panel.locator("textarea.reply").fill(LONG)
        await panel.locator("button.send").click()
        await expect(cost).to_be_hidden()
        sent = panel.locator("li.msg-counsellor", has_text="Vi finns här")
        await expect(sent.locator(".delivery")).to_have_text("2 sms")
        await expect(sent).not_to_have_class("delivery-failed")

        sms.provider.script = [(400, {})]
        await panel.locator("textarea.reply").fill("Kort svar.")
        await panel.locator("button.send").click()
        refused = panel.locator("li.msg-counsellor", has_text="Kort svar.")
        await expect(refused.locator(".delivery")).to_have_text(
            "1 sms · Kunde inte levereras: sms-leverantören tog inte emot meddelandet"
        )
        await expect(refused).to_have_class("msg msg-counsellor delivery-failed")

        sms.provider.report, sms.provider.report_reason = "failed", "absent subscriber"
        await panel.locator("textarea.reply").fill("Finns du kvar?")
        await panel.locator("button.send").click()
        lost = panel.locator("li.msg-counsellor", has_text="Finns du kvar?")
        await expect(lost.locator(".delivery")).to_have_text(
            "1 sms · Kunde inte levereras: operatören kunde inte leverera det (absent subscriber)"
        )

        # After a reload the transcript shows the same.
        await anna.reload()
        await expect(anna.locator(f"{PANEL} li.msg-counsellor .delivery")).to_have_text(
            [
                "2 sms",
                "1 sms · Kunde inte levereras: sms-leverantören tog inte emot meddelandet",
                "1 sms · Kunde inte levereras: operatören kunde inte leverera det (absent subscriber)",
            ]
        )
        # The page counts as the channel does.
        texts = [
            LONG,
            "å" * 160,
            "å" * 161,
            "€" * 81,
            "مرحبا" * 27,
            "🙂" * 35,
            "🙂" * 36,
            "a" * 152 + "€b",
            "",
        ]
        assert await anna.evaluate("texts => texts.map(HL.sms.count)", texts) == [
            count(t).count for t in texts
        ]
        html = await anna.content()
        for form in ("701234567", "70-123", NUMBER):
            assert form not in html
        assert anna.js_errors == []  # type: ignore[attr-defined]
    finally:
        await pages.close()
