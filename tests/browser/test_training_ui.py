"""Issue 21 in Chromium: a trainee runs the critical-threat scenario end to end on the training page
(the simulated person writes, the trainee answers, the person replies by the script), starts crime
information that a supervisor approves on the supervision page after a private hint, closes and
documents; the checklist shows what was done and what was missed.  A real counsellor signed in at the
same time saw nothing, and no real table or broker topic changed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import LiveGateway
from tests.handoff.training.conftest import EventLog, real_rows
from tests.harness import login_in_page, make_settings, start

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.browser]


@pytest_asyncio.fixture(loop_scope="module")
async def gateway(tmp_path: Path, free_port: int) -> AsyncIterator[LiveGateway]:
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'helpline.db'}",
        tmp_path,
        **{"server.port": free_port, "training.delay_scale": 0.02},  # the person types quickly
    )
    gw = await start(settings, memory=True, serve="port", port=free_port, cls=LiveGateway)
    try:
        yield gw
    finally:
        await gw.close()


async def sign_in(
    browser: Browser, gw: LiveGateway, name: str, role: str, landing: str
) -> tuple[BrowserContext, Page]:
    await gw.user(name, role)
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900}, base_url=gw.base)
    ctx.set_default_timeout(8000)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors  # type: ignore[attr-defined]
    await login_in_page(page, gw.base, name)
    await page.wait_for_url("**" + landing)
    return ctx, page


async def say(page: Page, text: str, answer: str) -> None:
    """The trainee answers; the person's next line (by the script) shows in the transcript."""
    await page.fill("#tr-reply", text)
    await page.click("#tr-send")
    await expect(page.locator("#tr-transcript li[data-kind=person]", has_text=answer)).to_be_visible()


async def test_a_trainee_runs_the_critical_threat_scenario_and_nothing_real_sees_it(
    browser: Browser, gateway: LiveGateway
) -> None:
    c_ctx, counsellor = await sign_in(browser, gateway, "real_counsellor", "counsellor", "/console")
    t_ctx, trainee = await sign_in(browser, gateway, "trainee_kim", "trainee", "/console/training")
    s_ctx, supervisor = await sign_in(browser, gateway, "super_sam", "supervisor", "/console")
    await expect(counsellor.locator("#queue-empty")).to_be_visible()
    events = EventLog()
    await events.start(gateway)
    before = await real_rows(gateway)

    await expect(trainee.locator("#tr-banner")).to_contain_text("ÖVNINGSLÄGE")
    await trainee.click(".tr-start[data-scenario=hot_threat_friday]")
    await expect(
        trainee.locator("#tr-transcript li[data-kind=person]", has_text="bränna moskén")
    ).to_be_visible()
    await trainee.click("#tr-claim")
    await expect(trainee.locator("#tr-reply")).to_be_visible()
    await say(trainee, "Hej, jag heter Kim. Är du säker där du är nu?", "jag är hemma")
    await say(trainee, "Om någon är i fara nu, ring 112. Ska vi ta det till polisen?", "utan mitt namn?")
    await say(trainee, "Vi kan lämna uppgiften vidare utan ditt namn.", "jag vill bara inte att någon dör")

    # Crime information, four eyes: started by the trainee ...
    await trainee.click("#tr-disclosure-box summary")
    await trainee.fill("#tr-what", "Planerad mordbrand mot en moské")
    await trainee.fill("#tr-when", "Fredag efter bönen")
    await trainee.fill("#tr-where", "Moskén i stan")
    await trainee.click("#tr-start-disclosure")
    await expect(trainee.locator("#tr-disclosure-state")).to_have_text("Väntar på arbetsledarens granskning.")

    # ... the supervisor watches, sends a hint the person never sees, and approves.
    await supervisor.goto(gateway.base + "/console/training/supervise")
    row = supervisor.locator("#ts-sessions tbody tr", has_text="trainee_kim")
    await expect(row).to_contain_text("Väntar på arbetsledarens granskning.")
    await row.locator(".ts-open").click()
    await expect(supervisor.locator("#ts-transcript")).to_contain_text("jag vill bara inte att någon dör")
    await expect(supervisor.locator("#ts-persona")).to_contain_text("Elias")
    await supervisor.fill("#ts-hint", "Glöm inte att erbjuda en hänvisning.")
    await supervisor.click("#ts-send-hint")
    await supervisor.click("#ts-approve")
    await expect(supervisor.locator("#ts-disclosure-text")).to_contain_text("Godkänd av arbetsledare.")
    await expect(trainee.locator("#tr-transcript li[data-kind=hint]")).to_contain_text(
        "erbjuda en hänvisning"
    )
    await expect(trainee.locator("#tr-disclosure-state")).to_have_text("Godkänd av arbetsledare.")

    # Close and document (the real guidelines: an incomplete record is refused first).
    await trainee.click("#tr-close-box summary")
    await trainee.click("#tr-close")
    await expect(trainee.locator("#tr-problem")).to_contain_text("Dokumentationen är inte komplett.")
    await trainee.select_option("#tr-doc-contact_type", "other")
    await trainee.select_option("#tr-doc-relation", "self")
    await trainee.select_option("#tr-doc-environment", "violent_right_wing")
    await trainee.select_option("#tr-doc-age_group", "18_25")
    await trainee.select_option("#tr-doc-gender", "male")
    await trainee.select_option("#tr-doc-advice_given", ["how_to_talk"])
    await trainee.check("#tr-doc-crime_information_passed")
    await trainee.select_option("#tr-doc-outcome", "advice_given")
    await trainee.fill("#tr-doc-summary", "Övning: hot mot en moské på fredag.")
    await trainee.click("#tr-close")
    result = trainee.locator("#tr-checklist")
    await expect(result.locator("li[data-step=give_112]")).to_have_attribute("data-done", "true")
    await expect(result.locator("li[data-step=ask_safety]")).to_have_attribute("data-done", "true")
    await expect(result.locator("li[data-step=crime_information]")).to_have_attribute("data-done", "true")
    await expect(result.locator("li[data-step=four_eyes]")).to_have_attribute("data-done", "true")
    await expect(result.locator("li[data-step=documented]")).to_have_attribute("data-done", "true")
    await expect(result.locator("li[data-step=referral_consent]")).to_have_attribute("data-done", "false")
    await expect(result.locator("li[data-step=referral_consent]")).to_contain_text("Missat")

    # Feedback, read on the progress page.
    await supervisor.fill("#ts-feedback", "Bra med 112 tidigt. Erbjud hänvisning nästa gång.")
    await supervisor.click("#ts-save-feedback")
    await expect(supervisor.locator("#ts-status")).to_have_text("Sparat.")
    await trainee.goto(gateway.base + "/console/training/progress")
    await expect(trainee.locator(".tp-session[data-scenario=hot_threat_friday]")).to_contain_text(
        "5 av 6 steg"
    )
    await expect(trainee.locator(".tp-feedback")).to_have_text(
        "Bra med 112 tidigt. Erbjud hänvisning nästa gång."
    )

    # The real counsellor, signed in all along, saw nothing: an empty queue, no alert.
    await counsellor.reload()
    await expect(counsellor.locator("#queue-empty")).to_be_visible()
    assert "moské" not in await counsellor.content()
    await events.stop()
    assert events.events == []
    assert await real_rows(gateway) == before
    for page in (counsellor, trainee, supervisor):
        assert page.js_errors == []  # type: ignore[attr-defined]
    for ctx in (c_ctx, t_ctx, s_ctx):
        await ctx.close()


async def test_an_admin_edits_and_adds_scenarios_in_the_console(
    browser: Browser, gateway: LiveGateway
) -> None:
    ctx, admin = await sign_in(browser, gateway, "admin_ada", "admin", "/console")
    await admin.goto(gateway.base + "/console/training/scenarios")
    await admin.click(".ta-edit[data-scenario=brother_drifting]")
    source = admin.locator("#ta-source")
    await expect(source).to_have_value(re.compile("id: brother_drifting"))
    original = await source.input_value()
    await source.fill(original.replace("goto: noticed", "goto: nowhere"))
    await admin.click("#ta-save")
    await expect(admin.locator("#ta-problem")).to_contain_text("'nowhere' is not a node")
    await source.fill(original.replace("Lillebror har fått nya vänner", "Lillebror och vännerna"))
    await admin.click("#ta-save")
    await expect(admin.locator("#ta-status")).to_have_text("Sparat.")
    await expect(admin.locator("#ta-scenarios")).to_contain_text("Lillebror och vännerna (ändrat)")

    await admin.fill("#ta-new-id", "brother_drifting_short")
    await admin.click("#ta-new")
    await expect(source).to_have_value(re.compile("id: brother_drifting_short"))
    await admin.click("#ta-save")
    await expect(admin.locator("#ta-status")).to_have_text("Sparat.")
    await expect(admin.locator(".ta-edit[data-scenario=brother_drifting_short]")).to_be_visible()
    async with admin.expect_response(lambda r: r.url.endswith("/brother_drifting_short/required")) as saved:
        await admin.check(".ta-required[data-scenario=brother_drifting_short]")
    assert (await saved.value).status == 200
    await admin.reload()
    await expect(admin.locator(".ta-required[data-scenario=brother_drifting_short]")).to_be_checked()
    assert admin.js_errors == []  # type: ignore[attr-defined]
    await ctx.close()
