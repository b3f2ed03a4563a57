"""Two-factor login and the staff page in headless Chromium (issue 17, items 10 and 11): a supervisor's
first login enrols an authenticator (the key read off the page, the code computed here by pyotp as
the app would), the recovery codes are shown once, the next login asks for a code; an admin
disables her on the staff page after a confirmation dialog, and her open console is signed out."""

from __future__ import annotations

import pyotp
import pytest
from playwright.async_api import expect

from gateway import twofactor
from tests.browser.conftest import LiveGateway, Pages
from tests.harness import PASSWORD, login_in_page

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.browser]


async def test_enrol_then_sign_in_with_a_code_and_be_disabled_by_an_admin(
    pages: Pages, gateway: LiveGateway
) -> None:
    await gateway.user("sara", "supervisor")
    _, page = await pages.new()
    await page.goto("/console/login")
    await page.fill("#username", "sara")
    await page.fill("#password", PASSWORD)
    await page.click("#login-button")
    await page.wait_for_url("**/console/login/enrol*")
    await expect(page.locator("h1")).to_have_text("Aktivera tvåstegsverifiering")
    await expect(page.locator(".qr svg")).to_be_visible()
    secret = (await page.inner_text("#totp-secret")).strip()
    assert (await page.get_attribute("#totp-uri", "href") or "").startswith("otpauth://totp/")
    # Nothing else opens before the enrolment.
    await page.goto("/console/supervisor")
    await page.wait_for_url("**/console/login")
    await page.goto("/console/login/enrol")
    assert (await page.inner_text("#totp-secret")).strip() == secret  # the same key as before
    await page.fill("#code", "000000")
    await page.click("#code-button")
    await expect(page.locator("#login-problem")).to_contain_text("Fel kod")
    await page.fill("#code", pyotp.TOTP(secret).now())
    await page.click("#code-button")
    await expect(page.locator("#recovery-codes li")).to_have_count(10)
    await page.click("#continue")
    await page.wait_for_url("**/console")
    await page.wait_for_selector("body[data-live='1']")

    # The next login, in another browser, asks for the code of the next step (the one just used
    # cannot be used twice).
    _, again = await pages.new()
    await again.goto("/console/login")
    await again.fill("#username", "sara")
    await again.fill("#password", PASSWORD)
    await again.click("#login-button")
    await again.wait_for_url("**/console/login/code*")
    await again.fill("#code", pyotp.TOTP(secret).at((twofactor.current_step() + 1) * twofactor.STEP))
    await again.click("#code-button")
    await again.wait_for_url("**/console")

    # Her own sessions: two, this one marked.
    await again.goto("/console/account")
    await expect(again.locator("#ac-sessions tbody tr")).to_have_count(2)
    await expect(again.locator("#ac-tf-state")).to_contain_text("Tvåstegsverifiering är på")

    # An admin disables her, after a confirmation dialog.
    _, admin = await pages.new()
    await gateway.user("ada", "admin")
    await login_in_page(admin, pages.base, "ada")
    await admin.wait_for_url("**/console")
    await admin.locator("header nav a", has_text="Personal").click()
    await admin.wait_for_url("**/console/staff")
    row = admin.locator('#st-users tr[data-user="sara"]')
    await expect(row.locator(".st-2fa")).to_have_text("På")
    await row.locator("button.st-disable").click()
    await expect(admin.locator("#st-confirm")).to_be_visible()
    await expect(admin.locator("#st-confirm-text")).to_contain_text("sara")
    await admin.click("#st-confirm-yes")
    await expect(row.locator(".st-status")).to_have_text("Avstängt")
    # Her open console is signed out at once: its live socket is closed and the page goes to the
    # login form by itself.
    await page.wait_for_url("**/console/login", timeout=5000)
    assert not page.js_errors and not admin.js_errors  # type: ignore[attr-defined]
