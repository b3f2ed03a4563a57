"""The directory of recipients in the browser: an admin finds it in the navigation, adds a municipal
recipient, which needs an area (ticked on the page), and it is then proposed in that area."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from gateway.auth import create_user
from tests.browser.conftest import PASSWORD, LiveGateway, Pages
from tests.harness import login_in_page

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.browser]


async def test_an_admin_adds_a_local_recipient_with_its_area(pages: Pages, gateway: LiveGateway) -> None:
    async with gateway.db.session() as session:
        await create_user(session, "ada", PASSWORD, "admin", display_name="Ada")
    _, page = await pages.new()
    await login_in_page(page, pages.base, "ada")  # an admin: with the second step
    await page.wait_for_url("**/console")

    await page.locator("header nav a", has_text="Mottagarkatalog").click()
    await page.wait_for_url("**/console/directory")
    await expect(page.locator("header nav a[aria-current=page]")).to_have_text("Mottagarkatalog")
    await expect(page.locator("#dir-table tbody tr").first).to_be_visible()

    await page.click("#dir-new")
    area = page.locator("#dir-area")
    await expect(area).to_be_visible()
    await expect(page.locator("#dir-area-name")).to_have_text("Område där mottagaren arbetar")
    await expect(area.locator("details.dir-county-block")).to_have_count(21)
    await page.fill("#dir-f-id", "orosradgivning-goteborg")
    await page.fill("#dir-f-name_sv", "Orosrådgivningen, Göteborgs stad")
    await page.fill("#dir-f-name_en", "Concern counselling, City of Gothenburg")
    await page.select_option("#dir-f-kind", "municipal")
    await page.check('#dir-f-topics input[value="radicalisation_concern"]')
    await page.fill("#dir-f-email", "oro@goteborg.example")

    await page.click("#dir-save")  # no area yet: refused, named at the area
    await expect(page.locator("#dir-e-area")).to_contain_text("En kommunal mottagare måste ha ett område")

    county = area.locator('details.dir-county-block[data-county="14"]')
    await county.locator("summary").click()
    await county.locator('input.dir-muni[value="1480"]').check()
    await expect(page.locator("#dir-area-count")).to_have_text("1")
    await page.click("#dir-save-area")  # for a recipient: saves the entry with its area
    await expect(page.locator("#dir-notice")).to_have_text("Sparat. Gäller nu i alla processer.")
    await expect(page.locator("#dir-editor-id")).to_have_text("orosradgivning-goteborg")
    await expect(page.locator("#dir-area-count")).to_have_text("1")

    resp = await page.request.get(
        "/console/api/handoff/proposals?municipality=1480&topic=radicalisation_concern&contact_type=relative"
    )
    proposals = (await resp.json())["proposals"]
    assert [(p["recipient_id"], p["tier"]) for p in proposals[:3]] == [
        ("kunskapshus-goteborg", 2),
        ("socialtjanst-1480", 2),
        ("orosradgivning-goteborg", 2),
    ]
    assert page.js_errors == []  # type: ignore[attr-defined]
