"""Every console page in the states a shift brings (a conversation claimed, each context tab shown,
the referral's proposals, the crime-information form, the close dialog, the documentation form), for
every role: none scrolls sideways at 1280 px or 1440 px, axe-core finds no WCAG 2.1 A/AA violation,
and each is photographed at 1280 px and 360 px (tests/browser/page_checks.py)."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext, Page, expect

from gateway.auth import create_user
from tests.authenticator import AUTHENTICATOR
from tests.browser.conftest import PASSWORD, LiveGateway, Pages
from tests.browser.page_checks import Checks, bypass_csp
from tests.browser.sv_catalogue import directory_names
from tests.harness import login_in_page

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.browser]

PANEL = ".conv-panel:not([hidden])"
MESSAGE = "min son har blivit radikal, vad gör jag?"
CRITICAL = "jag ska spränga skolan imorgon"


async def signed_in(pages: Pages, name: str) -> tuple[BrowserContext, Page]:
    ctx, page = await pages.new()
    await bypass_csp(ctx, page)
    await login_in_page(page, pages.base, name)
    await page.wait_for_load_state()
    return ctx, page


async def test_every_console_page_fits_is_accessible_and_is_photographed(
    pages: Pages, gateway: LiveGateway
) -> None:
    # What the test itself puts on the pages: names, the person's message, the test triager's reply.
    checks = Checks(
        data=[
            *("Anna", "Sven", "Ada", "anna", "sven", "ada", "kh.goteborg"),
            *(MESSAGE, CRITICAL, "SAFE:concern_relative", "SAFE:urgent_threat"),
            *directory_names(),
        ]
    )
    async with gateway.db.session() as session:
        await create_user(session, "sven", PASSWORD, "supervisor", display_name="Sven")
        await create_user(session, "ada", PASSWORD, "admin", display_name="Ada")
        await create_user(session, "kh.goteborg", PASSWORD, "municipality", municipality_code="KH1480")
    await gateway.user("anna")

    ctx, login = await pages.new()
    await bypass_csp(ctx, login)
    await login.goto("/console/login")
    await checks.page(login, "login")
    await login.fill("#username", "anna")
    await login.fill("#password", "not the password")
    await login.click("#login-button")
    await expect(login.locator(".problem")).to_be_visible()
    await checks.page(login, "login-refused")

    _, visitor = await pages.visitor()
    await visitor.fill("#hl-input", MESSAGE)
    await visitor.click("#hl-send")
    await expect(visitor.locator("li.hl-msg[data-kind=bot]")).to_have_count(1)

    # -------------------------------------------------------------- the counsellor's console
    _, anna = await signed_in(pages, "anna")
    await anna.wait_for_selector("body[data-live='1']")
    await expect(anna.locator("#queue-body tr")).to_have_count(1)
    await checks.page(anna, "console-queue")
    await anna.locator("#queue-body tr button.claim").click()
    panel = anna.locator(PANEL)
    await expect(panel.locator("li.msg-person")).to_have_count(1)
    conv_id = await panel.get_attribute("data-conversation-id")
    await checks.page(anna, "console-triage")

    for ctx_name in ("person", "referral", "crime", "documentation", "triage"):
        tab = panel.locator(f"[role=tab][data-ctx={ctx_name}]")
        await tab.click()
        await expect(tab).to_have_attribute("aria-selected", "true")
        await expect(panel.locator(f"[role=tabpanel][data-ctx={ctx_name}]")).to_be_visible()
    # The context tabs are one tab stop: the arrow keys move between them.
    await panel.locator("[role=tab][data-ctx=triage]").focus()
    await anna.keyboard.press("ArrowRight")
    await expect(panel.locator("[role=tab][data-ctx=person]")).to_be_focused()
    await expect(panel.locator("[role=tabpanel][data-ctx=person]")).to_be_visible()
    await checks.page(anna, "console-person")
    await panel.locator("button.person-forget").click()
    await expect(anna.locator("#forget-dialog")).to_be_visible()
    await checks.page(anna, "console-forget-dialog", shots=False)
    await anna.locator("#forget-dialog-cancel").click()

    await panel.locator("[role=tab][data-ctx=referral]").click()
    await panel.locator("input.ho-municipality").fill("1481")
    await panel.locator("select.ho-topic").select_option("radicalisation_concern")
    await panel.locator("button.ho-propose").click()
    await expect(panel.locator("li.ho-proposal").first).to_be_visible()
    await expect(panel.locator("textarea.ho-summary")).to_be_visible()
    await checks.page(anna, "console-referral-form")

    await panel.locator("[role=tab][data-ctx=crime]").click()
    await expect(panel.locator("textarea.ho-what")).to_be_visible()
    await checks.page(anna, "console-crime-information-form")

    await panel.locator("[role=tab][data-ctx=documentation]").click()
    await checks.page(anna, "console-documentation-tab")

    await panel.locator("[role=tab][data-ctx=triage]").click()
    await panel.locator("button.close").click()
    await expect(anna.locator("#close-dialog")).to_be_visible()
    await checks.page(anna, "console-close-dialog", shots=False)
    await anna.locator("#close-dialog-confirm").click()
    await expect(anna.locator("#doc-forms form")).to_have_count(1)
    await checks.page(anna, "console-documentation-form")
    await anna.goto("/console/account")
    await checks.page(anna, "account-counsellor")

    # -------------------------------------------------------------- the supervisor's pages
    # A critical conversation waits: the alert on every console.
    _, critical = await pages.visitor()
    await critical.fill("#hl-input", CRITICAL)
    await critical.click("#hl-send")
    # The second step's pages, as a supervisor meets them at the first login: enrolment, the
    # recovery codes; then (a second login) the code.
    sctx, sven = await pages.new()
    await bypass_csp(sctx, sven)
    for first in (True, False):
        await sven.goto("/console/login")
        await sven.fill("#username", "sven")
        await sven.fill("#password", PASSWORD)
        await sven.click("#login-button")
        await sven.wait_for_load_state()
        if first:
            await checks.page(sven, "login-enrol")
            AUTHENTICATOR.enrolled(pages.base, "sven", (await sven.inner_text("#totp-secret")).strip())
            await sven.fill("#code", await AUTHENTICATOR.code(pages.base, "sven"))
            await sven.click("#code-button")
            await sven.wait_for_selector("#recovery-codes")
            await checks.page(sven, "login-recovery-codes", shots=False)
            await sven.click("#continue")
            await sven.wait_for_load_state()
            await sven.locator("#logout").click()
            await sven.wait_for_load_state()
        else:
            await checks.page(sven, "login-code")
            await sven.fill("#code", await AUTHENTICATOR.code(pages.base, "sven"))
            await sven.click("#code-button")
            await sven.wait_for_load_state()
    await expect(sven.locator("#alert")).to_be_visible()
    await checks.page(sven, "console-supervisor-own")
    for path, name in (
        ("/console/supervisor", "supervisor"),
        ("/console/search", "search"),
        ("/console/audit", "audit"),
        (f"/console/conversations/{conv_id}", "transcript"),
        ("/console/account", "account"),
    ):
        await sven.goto(path)
        await sven.wait_for_load_state("networkidle")
        await checks.page(sven, name)
    # The erasure form's own words (records.js): a refused id, then the question before erasing.
    await sven.goto("/console/supervisor")
    await sven.fill("#erase-id", "not an id")
    await sven.click("#erase-next")
    await expect(sven.locator("#erase-result .problem")).to_be_visible()
    await sven.fill("#erase-id", conv_id or "")
    await sven.click("#erase-next")
    await expect(sven.locator("#erase-confirm")).to_be_visible()
    await checks.page(sven, "supervisor-erase-question", shots=False)
    await sven.click("#erase-cancel")
    await sven.goto("/console/search")
    await sven.locator("#s-submit").click()
    await sven.wait_for_load_state("networkidle")
    await checks.page(sven, "search-results")

    # -------------------------------------------------------------- the admin's pages
    _, ada = await signed_in(pages, "ada")
    for path, name in (
        ("/console/triage", "admin-triage"),
        ("/console/directory", "directory-admin"),
        ("/console/staff", "staff-admin"),
    ):
        await ada.goto(path)
        await ada.wait_for_load_state("networkidle")
        await checks.page(ada, name)
    # The admins' editors open: a recipient of the directory, a staff member.
    await ada.goto("/console/directory")
    await ada.locator("button.dir-edit").first.click()
    await expect(ada.locator("#dir-editor")).to_be_visible()
    await checks.page(ada, "directory-admin-editor")
    await ada.goto("/console/staff")
    await ada.locator("button.st-edit[data-user=anna]").click()
    await expect(ada.locator("#st-edit")).to_be_visible()
    await checks.page(ada, "staff-admin-edit", shots=False)

    # -------------------------------------------------------------- the municipality's portal
    _, kh = await signed_in(pages, "kh.goteborg")
    await kh.wait_for_url("**/console/portal")
    await kh.wait_for_load_state("networkidle")
    await checks.page(kh, "portal")
    # The printable situational picture, in the municipality user's language (Swedish) only.
    await kh.goto("/console/portal/api/situation?format=html")
    await expect(kh.locator("table[data-dimension=weekly]")).to_be_visible()
    await checks.page(kh, "situation-report")

    checks.assert_clean()
