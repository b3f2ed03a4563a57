"""Issue 21 in Chromium: a trainee runs the critical-threat scenario end to end in the real console's
page in training mode (the queue, the conversation view, its context tabs, the close dialog and the
documentation form; the simulated person writes, the trainee answers, the person replies by the
script), starts crime information in the console's own tab that a supervisor approves on the
supervision page after a private hint, closes and documents; the checklist shows what was done and
what was missed, and the training console passes the page checks (axe, Swedish catalogue, no
sideways scroll).  A real counsellor signed in at the
same time saw nothing, and no real table or broker topic changed."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import LiveGateway
from tests.browser.page_checks import Checks, bypass_csp
from tests.browser.sv_catalogue import directory_names
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


PANEL = ".conv-panel:not([hidden])"


async def say(page: Page, text: str, answer: str) -> None:
    """The trainee answers in the console's reply box; the person's next line (by the script)
    shows in the transcript."""
    panel = page.locator(PANEL)
    await panel.locator("textarea.reply").fill(text)
    await panel.locator("button.send").click()
    await expect(panel.locator("ol.log li.msg-person", has_text=answer)).to_be_visible()


async def test_a_trainee_runs_the_critical_threat_scenario_in_the_real_console_and_nothing_real_sees_it(
    browser: Browser, gateway: LiveGateway
) -> None:
    c_ctx, counsellor = await sign_in(browser, gateway, "real_counsellor", "counsellor", "/console")
    t_ctx, trainee = await sign_in(browser, gateway, "trainee_kim", "trainee", "/console/training")
    s_ctx, supervisor = await sign_in(browser, gateway, "super_sam", "supervisor", "/console")
    await bypass_csp(t_ctx, trainee)
    await trainee.reload()  # (the bypass holds from the next load on)
    await expect(counsellor.locator("#queue-empty")).to_be_visible()
    events = EventLog()
    await events.start(gateway)
    before = await real_rows(gateway, drained=True)
    # What the test puts on the pages: names, the test triager's suggested answer, the directory.
    checks = Checks(
        data=[
            *("Trainee_Kim", "trainee_kim", "SAFE:concern_relative", *directory_names()),
            "Bra med 112 tidigt. Erbjud hänvisning nästa gång.",
        ]
    )

    # A scenario started on the training page opens the console's own page in training mode.
    await expect(trainee.locator(".tr-start").first).to_be_visible()
    checks.data.extend(
        await trainee.locator("#tr-scenarios li strong, #tr-scenarios li span").all_inner_texts()
    )
    await checks.page(trainee, "training-page", shots=False)
    await trainee.click(".tr-start[data-scenario=hot_threat_friday]")
    await trainee.wait_for_url("**/console/training/console")
    await expect(trainee.locator("#training-mode")).to_contain_text("Övningsläge")
    row = trainee.locator("#queue-body tr")
    await expect(row).to_have_count(1)
    await checks.page(trainee, "training-console-queue", shots=False)
    await row.locator("button.claim").click()
    panel = trainee.locator(PANEL)
    await expect(panel.locator("ol.log li.msg-person", has_text="bränna moskén")).to_be_visible()
    await expect(trainee.locator("#queue-empty")).to_be_visible()
    await say(trainee, "Hej, jag heter Kim. Är du säker där du är nu?", "jag är hemma")
    await say(trainee, "Om någon är i fara nu, ring 112. Ska vi ta det till polisen?", "utan mitt namn?")
    await say(trainee, "Vi kan lämna uppgiften vidare utan ditt namn.", "jag vill bara inte att någon dör")
    checks.data.extend(await panel.locator("ol.log li .text").all_inner_texts())
    await checks.page(trainee, "training-console-conversation")

    # Crime information in the console's own tab, four eyes: started by the trainee ...
    await panel.locator("[role=tab][data-ctx=crime]").click()
    await panel.locator("textarea.ho-what").fill("Planerad mordbrand mot en moské")
    await panel.locator("input.ho-when").fill("Fredag efter bönen")
    await panel.locator("input.ho-where").fill("Moskén i stan")
    await panel.locator("select.ho-certainty").select_option(index=1)
    source = panel.locator("select.ho-sources option", has_text="bränna moskén")
    await panel.locator("select.ho-sources").select_option(await source.get_attribute("value"))
    await panel.locator("button.ho-create-disclosure").click()
    disclosure = panel.locator("li.ho-disclosure")
    await expect(disclosure).to_have_attribute("data-status", "pending_approval")

    # ... the supervisor watches, sends a hint the person never sees, and approves.
    await supervisor.goto(gateway.base + "/console/training/supervise")
    session_row = supervisor.locator("#ts-sessions tbody tr", has_text="trainee_kim")
    await expect(session_row).to_contain_text("Väntar på arbetsledarens granskning.")
    await session_row.locator(".ts-open").click()
    await expect(supervisor.locator("#ts-transcript")).to_contain_text("jag vill bara inte att någon dör")
    await expect(supervisor.locator("#ts-persona")).to_contain_text("Elias")
    await supervisor.fill("#ts-hint", "Glöm inte att erbjuda en hänvisning.")
    await supervisor.click("#ts-send-hint")
    await supervisor.click("#ts-approve")
    await expect(supervisor.locator("#ts-disclosure-text")).to_contain_text("Godkänd av arbetsledare.")
    await expect(panel.locator("ol.log li.msg-hint")).to_contain_text("erbjuda en hänvisning")
    await expect(panel.locator("ol.log li.msg-system")).to_contain_text("Inget skickades till polisen.")
    await expect(disclosure).to_have_attribute("data-status", "training_approved")
    await expect(disclosure).to_contain_text("Godkänd i övning – skickas inte")

    # Close as in the console, then the documentation form (the real guidelines refuse an
    # incomplete record first).
    await panel.locator("[role=tab][data-ctx=triage]").click()
    await panel.locator("button.close").click()
    await trainee.locator("#close-dialog-confirm").click()
    form = trainee.locator("#doc-forms form.doc-form")
    await expect(form).to_have_count(1)
    await checks.page(trainee, "training-console-documentation", shots=False)
    await form.locator("button.save-doc").click()
    await expect(form.locator(".form-error")).to_contain_text("Dokumentationen sparades inte")
    key = str(await form.get_attribute("data-conversation-id"))[:12]
    doc = f"#doc-{key}-"
    for field, value in (
        ("contact_type", "other"),
        ("relation", "self"),
        ("environment", "violent_right_wing"),
        ("age_group", "18_25"),
        ("gender", "male"),
        ("outcome", "advice_given"),
    ):
        await trainee.select_option(doc + field, value)
    await form.locator(f"{doc}advice_given input[value=how_to_talk]").check()
    await form.locator(f"{doc}referral_made input[value=false]").check()
    await form.locator(f"{doc}crime_information_passed input[value=true]").check()
    await trainee.fill(doc + "summary", "Övning: hot mot en moské på fredag.")
    await form.locator("button.save-doc").click()
    result = trainee.locator("#training-checklist")
    await expect(result.locator("li[data-step=give_112]")).to_have_attribute("data-done", "true")
    await expect(result.locator("li[data-step=ask_safety]")).to_have_attribute("data-done", "true")
    await expect(result.locator("li[data-step=crime_information]")).to_have_attribute("data-done", "true")
    await expect(result.locator("li[data-step=four_eyes]")).to_have_attribute("data-done", "true")
    await expect(result.locator("li[data-step=documented]")).to_have_attribute("data-done", "true")
    await expect(result.locator("li[data-step=referral_consent]")).to_have_attribute("data-done", "false")
    await expect(result.locator("li[data-step=referral_consent]")).to_contain_text("Missat")
    await expect(trainee.locator("#training-result-steps")).to_contain_text("5 av 6 steg")

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
    checks.data.extend(await trainee.locator(".tp-session h2, .tp-session li").all_inner_texts())
    await checks.page(trainee, "training-progress", shots=False)

    # The real counsellor, signed in all along, saw nothing: an empty queue, no alert.
    await expect(counsellor.locator("#alert")).to_be_hidden()
    await counsellor.reload()
    await expect(counsellor.locator("#queue-empty")).to_be_visible()
    assert "moské" not in await counsellor.content()
    await events.stop()
    assert events.events == []
    assert await real_rows(gateway) == before
    for page in (counsellor, trainee, supervisor):
        assert page.js_errors == []  # type: ignore[attr-defined]
    checks.assert_clean()
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
