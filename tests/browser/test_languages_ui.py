"""Issue 19's own test: a person writes in Arabic (right to left) or Somali (left to right) on the web
chat, with the real triage.  The page is in their language and direction, every automatic answer
is in their language, the queue shows the conversation's language, with nobody on duty who speaks
it the person gets the notice in their language, and a counsellor who speaks it is given it by
"Nästa samtal".  Screenshots at 360 and 1280 px go to test-artefacts/screenshots; axe-core (WCAG 2.1
A/AA) finds no violation on either page."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, expect
from sqlalchemy import update

from gateway import catalogues
from gateway.appkeys import BROKER, DB
from gateway.outbox import outbox_for
from gateway.store.models import StaffUser
from handoff import queue
from handoff.console.data import load_canned
from handoff.shift import languages, presence
from nlu.language import detect_language
from nlu.triage import build_triager
from tests.authenticator import login_in_page
from tests.browser.conftest import LiveGateway
from tests.harness import make_settings, start

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artefacts" / "screenshots"
AXE = Path(os.environ.get("HELPLINE_AXE") or ROOT / ".cache/node/node_modules/axe-core/axe.min.js")
AXE_RUN = """async () => {
  const r = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
                                      resultTypes: ["violations"] });
  return r.violations.map(v => v.id + ": " + v.nodes.slice(0, 5).map(n => n.target.join(" ")).join(" | "));
}"""

# (language, what the person writes (a Swedish name and a number inside), direction)
PEOPLE = [
    ("ar", "ابني Erik عمره 17 سنة وقد أصبح متطرفًا ويريد السفر إلى سوريا للقتال مع جماعة مسلحة", "rtl"),
    (
        "so",
        "Wiilkayga Erik oo 17 jir ah wuxuu noqday xagjir, wuxuuna doonayaa inuu u safro Suuriya si uu "
        "ula dagaallamo koox hubeysan",
        "ltr",
    ),
]


@pytest_asyncio.fixture(loop_scope="module")
async def gateway(tmp_path: Path, free_port: int) -> AsyncIterator[LiveGateway]:
    """The web chat and the console with the real triage (language, intent, safe responses)."""
    settings = make_settings(
        f"sqlite+aiosqlite:///{tmp_path / 'helpline.db'}",
        tmp_path,
        channels={"webchat": {"enabled": True}},
        **{"server.port": free_port},
    )
    gw = await start(settings, serve="port", port=free_port, cls=LiveGateway, triager=build_triager())
    try:
        yield gw
    finally:
        await gw.close()


async def on_duty(gw: LiveGateway, name: str, spoken: list[str]) -> StaffUser:
    user = await gw.user(name)
    async with gw.db.session() as session:
        await session.execute(
            update(StaffUser).where(StaffUser.id == user.id).values(spoken_languages=spoken)
        )
        user = await session.get_one(StaffUser, user.id)
    await presence.set_status(gw.app[DB], outbox_for(gw.app[DB], gw.app[BROKER]), user, "available")
    return user


def said(lang: str, msgid: str) -> str:
    return catalogues.text("person", lang, msgid)


async def boxes(page: Page, *selectors: str) -> list[float]:
    out = []
    for selector in selectors:
        box = await page.locator(selector).first.bounding_box()
        assert box is not None, selector
        out.append(box["x"] + box["width"] / 2)
    return out


@pytest.mark.parametrize(("lang", "text", "direction"), PEOPLE)
async def test_a_person_writes_in_their_language_and_everything_answers_in_it(
    browser: Browser, gateway: LiveGateway, lang: str, text: str, direction: str
) -> None:
    anna = await on_duty(gateway, "anna", ["sv", "en"])  # on duty, speaks neither
    ctx = await browser.new_context(viewport={"width": 360, "height": 760}, base_url=gateway.base)
    ctx.set_default_timeout(20000)
    try:
        page = await ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        # Only so that the test can inject axe-core later: the page's CSP holds for all else.
        cdp = await ctx.new_cdp_session(page)
        await cdp.send("Page.setBypassCSP", {"enabled": True})
        await page.goto(f"/chat?lang={lang}")
        await page.wait_for_selector("#hl-input")
        # The page in the person's language and direction; the menu names every language in its own.
        assert await page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [
            lang,
            direction,
        ]
        assert await page.text_content("h1") == said(lang, "chat.title")
        names = await page.eval_on_selector_all("#hl-lang option", "os => os.map(o => o.textContent)")
        assert {"Svenska", "English", "العربية", "Soomaali", "فارسی", "ትግርኛ", "Türkçe", "Русский"} <= set(
            names
        )

        await page.fill("#hl-input", text)
        await page.keyboard.press("Enter")
        bot = page.locator("#hl-log li[data-kind=bot]").first
        await bot.wait_for()
        answer = await bot.text_content() or ""
        assert detect_language(answer).language == lang and "112" in answer
        # The status line: waiting in the queue, in their language.
        waiting = re.escape(said(lang, "chat.status_queued").split("{n}")[0].strip())
        await page.wait_for_selector(f"#hl-status:text-matches('{waiting}')")
        # Nobody on duty speaks it: the notice, in their language, and the conversation still waits.
        notice = page.locator(
            "#hl-log li[data-kind=system]", has_text=said(lang, "notice.language_unspoken")[:30]
        )
        await notice.wait_for()
        async with gateway.db.session() as session:
            entries = await queue.waiting(session)
        mine = [e for e in entries if e.language == lang]
        assert len(mine) == 1
        # Each message in its own direction: the name and the number in place inside RTL text.
        person = page.locator("#hl-log li[data-kind=person]").first
        assert await person.evaluate("li => [li.dir, getComputedStyle(li).direction]") == ["auto", direction]
        # The layout mirrors: the person's bubble and the send button at the inline end.
        await page.set_viewport_size({"width": 1280, "height": 900})
        log_x, person_x, send_x, hint_x = await boxes(
            page, "#hl-log", "#hl-log li[data-kind=person]", "#hl-send", "#hl-input-hint"
        )
        if direction == "rtl":
            assert person_x < log_x and send_x < hint_x
        else:
            assert person_x > log_x and send_x > hint_x
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        for width in (360, 1280):
            await page.set_viewport_size({"width": width, "height": 900})
            await page.wait_for_timeout(50)
            assert await page.evaluate("document.scrollingElement.scrollWidth") <= width
            await page.screenshot(path=str(SCREENSHOTS / f"chat-{lang}-{width}.png"), full_page=True)
        # axe-core on the page as the person sees it (injected past the page's CSP in the test only).
        assert AXE.is_file(), f"axe-core is not at {AXE}: npm install --prefix .cache/node axe-core@4"
        await page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
        assert await page.evaluate(AXE_RUN) == []
        assert errors == []

        # A counsellor who speaks it comes on duty: "Nästa samtal" gives them this conversation,
        # while Anna, who does not speak it, would be given any other at the same priority first.
        speaker = await on_duty(gateway, f"speaker_{lang}", ["sv", lang])
        async with gateway.db.session() as session:
            prefer, leave = await languages.next_order(session, speaker)
            assert lang in prefer
            assert lang in (await languages.next_order(session, anna))[1]
        taken = await gateway.pipeline.staff.claim_next(speaker, prefer, leave)
        assert taken == mine[0].conversation_id
        await page.wait_for_selector(f"#hl-status:has-text('{said(lang, 'chat.status_assigned')}')")
        # Their console: a canned response goes into the reply box in the person's language, to be
        # read before it is sent (no machine translation).
        staff_ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
        staff_ctx.set_default_timeout(20000)
        console = await staff_ctx.new_page()
        await login_in_page(console, gateway.base, speaker.username)
        await console.wait_for_url("**/console")
        panel = console.locator(".conv-panel:not([hidden])")
        await expect(panel.locator("li.msg").first).to_be_visible()  # the transcript is loaded
        await panel.locator("select.canned").select_option("danger_112")
        danger = next(c for c in load_canned() if c["id"] == "danger_112")
        await expect(panel.locator("textarea.reply")).to_have_value(danger["text"][lang])
        await staff_ctx.close()
    finally:
        await ctx.close()


async def test_a_page_whose_language_nobody_picked_follows_the_language_the_person_writes_in(
    browser: Browser, gateway: LiveGateway
) -> None:
    ctx = await browser.new_context(viewport={"width": 360, "height": 760}, base_url=gateway.base)
    ctx.set_default_timeout(20000)
    try:
        page = await ctx.new_page()
        await page.goto("/chat")
        await page.wait_for_selector("#hl-input")
        assert await page.evaluate("document.documentElement.dir") == "ltr"
        await page.fill("#hl-input", PEOPLE[0][1])
        await page.keyboard.press("Enter")
        await page.wait_for_selector("html[lang=ar][dir=rtl]")
        assert await page.text_content("#hl-send") == said("ar", "chat.send")
        assert await page.input_value("#hl-lang") == "ar"
        # Picked in the menu: the page keeps the person's choice.
        await page.select_option("#hl-lang", "sv")
        await page.fill("#hl-input", "ابني لا يتحدث معي منذ أسابيع")
        await page.keyboard.press("Enter")
        await page.wait_for_selector("#hl-log li[data-kind=person] >> nth=1")
        await page.wait_for_timeout(500)
        assert await page.evaluate("[document.documentElement.lang, document.documentElement.dir]") == [
            "sv",
            "ltr",
        ]
    finally:
        await ctx.close()
