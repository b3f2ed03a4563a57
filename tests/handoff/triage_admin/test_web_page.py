"""The admin's page in headless Chromium: the intents, a sentence to try, a refused unsafe response."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.handoff.triage_admin.conftest import Gateway, conversation, correct, create_tables, start_gateway
from tests.harness import login_in_page

CHROMIUM = "/usr/bin/chromium"
if not shutil.which(CHROMIUM):
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)

from playwright.async_api import async_playwright, expect  # noqa: E402

pytestmark = pytest.mark.browser


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Gateway]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'h.db'}"
    await create_tables(url)
    gw = await start_gateway(url, tmp_path)
    try:
        yield gw
    finally:
        await gw.close()


async def test_the_admin_page_works_in_a_browser(live: Gateway) -> None:
    await live.signed_in("ada", "admin")
    errors: list[Any] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = await browser.new_page()

            def on_error(exc: Any) -> None:
                errors.append(exc)

            def on_response(resp: Any) -> None:
                if resp.status == 404:
                    errors.append(resp.url)

            page.on("pageerror", on_error)
            page.on("response", on_response)
            await login_in_page(page, live.base, "ada")  # an admin: with the second step
            await page.wait_for_url(live.base + "/console")
            await page.goto(live.base + "/console/triage")

            await page.wait_for_selector('#intent-table tr[data-intent="urgent_threat"]')
            assert "Akut hot" in await page.inner_text("#intent-table")
            await page.wait_for_selector("#example-table tbody tr")

            await page.fill("#try-text", "jag ska spränga skolan imorgon")
            await page.click("#try-form button[type=submit]")
            await page.wait_for_selector("#try-result:not([hidden])")
            result = await page.inner_text("#try-result")
            assert "Akut hot" in result and "Kritisk" in result and "112" in result

            row = page.locator('#response-table tr[data-intent="urgent_threat"] td').first
            await row.locator("textarea").fill("Tack för ditt meddelande.")
            await row.locator("button").first.click()
            await page.wait_for_selector("#problem:not([hidden])")
            assert "112" in await page.inner_text("#problem")
            assert "Ta bort" in await page.inner_text("#example-table")
        finally:
            await browser.close()
    assert errors == []


async def test_the_admin_accepts_a_counsellors_correction_on_the_page(live: Gateway) -> None:
    carl = await live.signed_in("carl", "counsellor")
    ids = await conversation(
        live, carl, "p", "min son har blivit radikal", "blixtlåsgurka", "Lisa blixtlåsgurka"
    )
    await correct(carl, ids, "blixtlåsgurka", intent="greet")
    await correct(carl, ids, "Lisa blixtlåsgurka", intent="greet")
    await live.signed_in("ada", "admin")
    errors: list[Any] = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = await browser.new_page()
            page.on("pageerror", lambda exc: errors.append(exc))
            await login_in_page(page, live.base, "ada")  # an admin: with the second step
            await page.wait_for_url(live.base + "/console")
            await page.goto(live.base + "/console/triage")

            rows = page.locator("#correction-table tbody tr")
            await expect(rows).to_have_count(2)
            await expect(page.locator("#corrections-count")).to_have_text("2")
            redacted = rows.filter(has_text="[NAMN] blixtlåsgurka")
            await expect(redacted.locator(".tc-original")).to_have_text("Utanför uppdraget · Låg")
            await expect(redacted.locator(".tc-given")).to_have_text("Hälsning")
            assert "Lisa" not in await page.inner_text("#correction-table")
            await expect(page.locator("#eval-proposed")).to_have_text("2 fel av 2")
            await expect(page.locator("#eval-accepted")).to_have_text("0 fel av 0")

            await redacted.get_by_role("button", name="Godkänn").click()
            await expect(page.locator("#notice")).to_have_text(
                "Rättelsen är godkänd och texten finns i träningsdata."
            )
            await expect(rows).to_have_count(1)
            await expect(page.locator("#eval-accepted")).to_have_text("1 fel av 1")
            await expect(page.locator("#revision")).to_contain_text("#1")
            await rows.first.get_by_role("button", name="Avvisa").click()
            await expect(page.locator("#corrections-empty")).to_be_visible()
            await expect(page.locator("#eval-proposed")).to_have_text("0 fel av 0")
        finally:
            await browser.close()
    assert errors == []
