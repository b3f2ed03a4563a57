"""A visitor in the web chat and counsellors in the console, each in their own headless Chromium context."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from playwright.async_api import Page, WebSocketRoute, expect

from tests.browser.conftest import CuttableLink, LiveGateway, Pages
from tests.harness import login_in_page

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.browser]

SHOTS = Path("/tmp/helpline-shots")
PANEL = ".conv-panel:not([hidden])"


async def visitor_writes(page: Page, text: str, *, wait_ack: bool = True) -> None:
    await page.fill("#hl-input", text)
    await page.click("#hl-send")
    if wait_ack:
        await expect(page.locator("li.hl-msg[data-kind=person][data-seq]", has_text=text)).to_have_count(1)


async def log_of(page: Page, selector: str) -> list[tuple[int, str, str]]:
    """(seq, kind, text) of every message shown, in page order."""
    rows = await page.eval_on_selector_all(
        selector,
        "els => els.map(e => [Number(e.dataset.seq), e.dataset.kind,"
        " (e.querySelector('.text') || e).textContent])",
    )
    return [(int(s), str(k), str(t)) for s, k, t in rows]


def assert_complete(log: list[tuple[int, str, str]]) -> None:
    """Every message of the conversation is shown exactly once: the seqs are 1..N without a gap or a twin.

    (A message the visitor wrote while cut off stays where they wrote it, so the page order may
    differ from the seq order; what counts is that nothing is missing or doubled.)
    """
    seqs = sorted(s for s, _, _ in log)
    assert seqs == list(range(1, len(seqs) + 1)), f"lost or duplicated: {seqs}"


async def test_visitor_writes_counsellor_claims_and_replies_visitor_sees_it(
    pages: Pages, gateway: LiveGateway
) -> None:
    _, visitor = await pages.visitor(width=360)
    await visitor_writes(visitor, "min son har blivit radikal, vad gör jag?")
    await expect(visitor.locator("li.hl-msg[data-kind=bot]")).to_have_text("SAFE:concern_relative")

    _, anna = await pages.counsellor(gateway, "anna")
    row = anna.locator("#queue-body tr")
    await expect(row).to_have_count(1)
    await expect(row.locator(".intent")).to_have_text("Oro, anhörig")
    # Another person joins the queue: the live feed adds their row (a delta) and leaves the first
    # row as it was (a whole snapshot would have drawn every row anew).
    await row.evaluate("tr => { tr.dataset.kept = '1'; }")
    _, other = await pages.visitor()
    await visitor_writes(other, "min kompis har blivit konstig")
    await expect(anna.locator("#queue-body tr")).to_have_count(2)
    await expect(anna.locator("#queue-body tr").nth(0)).to_have_attribute("data-kept", "1")
    await expect(anna.locator("#queue-count")).to_have_text("2")
    reads: list[str] = []
    anna.on(
        "request", lambda r: reads.append(r.url.split("/console/api/")[-1]) if r.method == "GET" else None
    )
    row = anna.locator("#queue-body tr[data-kept='1']")
    await row.locator("button.claim").click()
    panel = anna.locator(PANEL)
    await expect(panel.locator("li.msg-person .text")).to_have_text(
        "min son har blivit radikal, vad gör jag?"
    )
    await expect(panel.locator(".triage-intent")).to_have_text("Oro, anhörig")
    await expect(panel.locator(".suggested")).to_have_text("SAFE:concern_relative")
    await expect(anna.locator("#queue-body tr")).to_have_count(1)  # the other one still waits
    await expect(anna.locator("#queue-body tr[data-kept]")).to_have_count(0)
    await expect(anna.locator("#load")).to_have_text("1")
    await expect(visitor.locator("#hl-status")).to_contain_text("En samtalsstödjare har anslutit")

    # Typing shows both ways.
    await panel.locator("textarea.reply").press_sequentially("Hej")
    await expect(visitor.locator("#hl-status")).to_contain_text("skriver")
    await visitor.locator("#hl-input").press_sequentially("jo")
    await expect(panel.locator(".typing")).to_be_visible()
    await visitor.fill("#hl-input", "")

    await panel.locator("textarea.reply").fill("Hej, jag heter Anna. Berätta gärna mer.")
    await panel.locator("button.send").click()
    await expect(visitor.locator("li.hl-msg[data-kind=counsellor]")).to_have_text(
        "Hej, jag heter Anna. Berätta gärna mer."
    )
    await visitor_writes(visitor, "Han har slutat träffa sina vänner.")
    await expect(panel.locator("li.msg-person")).to_have_count(2)
    await expect(panel.locator(".typing")).to_be_hidden()

    # The canned responses picker fills the reply box.
    await panel.locator("select.canned").select_option("danger_112")
    await expect(panel.locator("textarea.reply")).to_have_value(
        "Om någon är i akut fara just nu: ring 112 direkt. Jag finns kvar här i chatten."
    )

    assert_complete(await log_of(visitor, "li.hl-msg"))
    assert_complete(await log_of(anna, f"{PANEL} li.msg"))
    # The claim's answer brought the transcript (no read of it), and that drew the referral, crime
    # information and person panels (no read of their own); the person's second message was added
    # from the live feed, and those panels were not read for it.
    conv_id = await panel.get_attribute("data-conversation-id")
    assert reads.count(f"conversations/{conv_id}") == 0, reads
    for part in ("referrals", "disclosures", "person"):
        assert reads.count(f"conversations/{conv_id}/{part}") == 0, reads
    await expect(panel.locator("ul.ho-referral-list li.empty")).to_have_count(1)
    await expect(panel.locator(".person-status")).not_to_be_empty()
    SHOTS.mkdir(exist_ok=True)
    await visitor.screenshot(path=str(SHOTS / "chat-360.png"), full_page=True)
    await anna.screenshot(path=str(SHOTS / "console-1280.png"), full_page=True)
    assert visitor.js_errors == [] and anna.js_errors == []  # type: ignore[attr-defined]


async def test_a_cut_connection_loses_and_duplicates_nothing(
    pages: Pages, gateway: LiveGateway, link: CuttableLink
) -> None:
    _, visitor = await pages.visitor(base=link.base)
    await visitor_writes(visitor, "jag oroar mig för min bror")
    _, anna = await pages.counsellor(gateway, "anna")
    await anna.locator("#queue-body tr button.claim").click()
    panel = anna.locator(PANEL)
    reply = panel.locator("textarea.reply")
    await reply.fill("Första svaret")
    await panel.locator("button.send").click()
    await expect(visitor.locator("li.hl-msg[data-kind=counsellor]")).to_have_count(1)

    for round_ in range(2):
        link.cut()
        await expect(visitor.locator("#hl-status")).not_to_contain_text("anslutit")
        # While the visitor is cut off, the counsellor answers and the visitor writes.
        await reply.fill(f"Svar medan du var borta {round_}")
        await panel.locator("button.send").click()
        await expect(panel.locator("li.msg-counsellor", has_text=f"borta {round_}")).to_have_count(1)
        await visitor_writes(visitor, f"Skrivet utan nät {round_}", wait_ack=False)
        await expect(visitor.locator("li.hl-msg.hl-pending")).to_have_count(1)
        await asyncio.sleep(0.3)
        link.restore()
        await expect(
            visitor.locator("li.hl-msg[data-kind=counsellor]", has_text=f"borta {round_}")
        ).to_have_count(1, timeout=15000)
        await expect(visitor.locator("li.hl-msg.hl-pending")).to_have_count(0, timeout=15000)
        await expect(panel.locator("li.msg-person", has_text=f"utan nät {round_}")).to_have_count(1)

    await asyncio.sleep(0.5)  # anything shown twice would be shown by now
    seen = await log_of(visitor, "li.hl-msg")
    assert_complete(seen)
    texts = [t for _, _, t in seen]
    for text in (
        "jag oroar mig för min bror",
        "Första svaret",
        "Svar medan du var borta 0",
        "Skrivet utan nät 0",
        "Svar medan du var borta 1",
        "Skrivet utan nät 1",
    ):
        assert texts.count(text) == 1, (text, texts)
    console_log = await log_of(anna, f"{PANEL} li.msg")
    assert_complete(console_log)
    assert [(s, k) for s, k, _ in console_log] == sorted((s, k) for s, k, _ in seen)


async def test_two_counsellors_claim_the_same_conversation_at_once_and_exactly_one_gets_it(
    pages: Pages, gateway: LiveGateway
) -> None:
    _, visitor = await pages.visitor()
    await visitor_writes(visitor, "min dotter har nya vänner som skrämmer mig")
    _, anna = await pages.counsellor(gateway, "anna")
    _, bert = await pages.counsellor(gateway, "bert")
    buttons = []
    for page in (anna, bert):
        await expect(page.locator("#queue-body tr")).to_have_count(1)
        buttons.append(await page.query_selector("#queue-body tr button.claim"))
    # Both click in the same instant (the handles stay clickable even if the row is redrawn).
    await asyncio.gather(*(b.evaluate("b => b.click()") for b in buttons if b is not None))
    await asyncio.sleep(0.5)
    panels = [await page.locator(".conv-panel").count() for page in (anna, bert)]
    assert sorted(panels) == [0, 1]
    loser = bert if panels[0] == 1 else anna
    await expect(loser.locator("#notice")).to_have_text("Någon annan hann ta samtalet.")
    await expect(loser.locator("#queue-body tr")).to_have_count(0)
    await expect(visitor.locator("#hl-status")).to_contain_text("anslutit")


async def test_a_critical_message_jumps_the_queue_and_alerts_every_counsellor(
    pages: Pages, gateway: LiveGateway
) -> None:
    _, anna = await pages.counsellor(gateway, "anna")
    _, bert = await pages.counsellor(gateway, "bert")
    _, first = await pages.visitor()
    await visitor_writes(first, "min kompis har blivit konstig")
    await expect(anna.locator("#queue-body tr")).to_have_count(1)
    await expect(anna.locator("#alert")).to_be_hidden()
    _, second = await pages.visitor()
    await visitor_writes(second, "de ska spränga skolan imorgon")
    for page in (anna, bert):
        await expect(page.locator("#alert")).to_be_visible()
        await expect(page.locator("#alert")).to_have_attribute("data-sound", "played")
        rows = page.locator("#queue-body tr")
        await expect(rows).to_have_count(2)
        await expect(rows.nth(0)).to_have_attribute("data-priority", "critical")
        await expect(rows.nth(0)).to_have_class("prio-critical critical")
        await expect(rows.nth(0).locator(".intent")).to_have_text("Akut hot")
        await expect(rows.nth(1)).to_have_attribute("data-priority", "normal")
    SHOTS.mkdir(exist_ok=True)
    await anna.screenshot(path=str(SHOTS / "console-critical.png"))
    await anna.click("#alert-dismiss")
    await expect(anna.locator("#alert")).to_be_hidden()


async def test_html_and_script_in_messages_are_shown_as_text_and_never_run(
    pages: Pages, gateway: LiveGateway
) -> None:
    evil_in = "<img src=x onerror=window.pwned=1> min son <script>window.pwned=2</script>"
    evil_out = "<img src=y onerror=window.pwned=3><b>fet</b><script>window.pwned=4</script>"
    _, visitor = await pages.visitor()
    await visitor_writes(visitor, evil_in)
    _, anna = await pages.counsellor(gateway, "anna")
    await anna.locator("#queue-body tr button.claim").click()
    panel = anna.locator(PANEL)
    await expect(panel.locator("li.msg-person .text")).to_have_text(evil_in)
    await panel.locator("textarea.reply").fill(evil_out)
    await panel.locator("button.send").click()
    await expect(visitor.locator("li.hl-msg[data-kind=counsellor]")).to_have_text(evil_out)
    await expect(panel.locator("li.msg-counsellor .text")).to_have_text(evil_out)
    await asyncio.sleep(0.3)
    for page in (visitor, anna):
        assert await page.evaluate("typeof window.pwned") == "undefined"
        assert await page.locator("img").count() == 0
        assert await page.locator("b", has_text="fet").count() == 0
    # The server-rendered transcript page escapes it too.
    conv_id = await panel.get_attribute("data-conversation-id")
    transcript = await anna.context.new_page()
    await transcript.goto(f"/console/conversations/{conv_id}")
    await expect(transcript.locator("#transcript li .text").first).to_have_text(evil_in)
    assert await transcript.evaluate("typeof window.pwned") == "undefined"
    assert await transcript.locator("img").count() == 0


async def test_console_at_phone_width(pages: Pages, gateway: LiveGateway) -> None:
    _, visitor = await pages.visitor()
    await visitor_writes(visitor, "han vill resa till syrien")
    await gateway.user("anna")
    ctx, page = await pages.new(width=360, height=740)
    await page.goto("/console/login")
    await page.fill("#username", "anna")
    await page.fill("#password", "correct horse battery")
    await page.click("#login-button")
    await page.locator("#queue-body tr button.claim").click()
    await expect(page.locator(f"{PANEL} li.msg-person")).to_have_count(1)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the console scrolls sideways on a phone ({width}px)"
    SHOTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SHOTS / "console-360.png"), full_page=True)
    await ctx.close()


async def test_supervisor_page_shows_conversations_and_loads_live(pages: Pages, gateway: LiveGateway) -> None:
    _, sara = await pages.counsellor(gateway, "sara", role="supervisor")
    await sara.goto("/console/supervisor")
    _, visitor = await pages.visitor()
    await visitor_writes(visitor, "jag vill lämna rörelsen")
    conversations = sara.locator("#sup-conversations tbody tr")
    await expect(conversations).to_have_count(1)
    await expect(conversations.first).to_have_attribute("data-state", "queued")
    _, anna = await pages.counsellor(gateway, "anna", capacity=2)
    await anna.locator("#queue-body tr button.claim").click()
    await expect(conversations.first).to_have_attribute("data-state", "assigned")
    await expect(conversations.first.locator(".assignee")).to_have_text("anna")
    anna_row = sara.locator("#sup-counsellors tr[data-username=anna]")
    await expect(anna_row.locator(".load")).to_have_text("1")
    await expect(anna_row.locator(".capacity")).to_have_text("2")
    assert sara.js_errors == []  # type: ignore[attr-defined]


async def test_a_missed_queue_delta_brings_the_whole_queue(pages: Pages, gateway: LiveGateway) -> None:
    """The live socket loses one queue delta on its way (the test's websocket route drops it): the
    next one is out of sequence, so the page asks for the whole queue and shows it complete."""
    await gateway.user("dora")
    _, page = await pages.new()
    dropped: list[str] = []
    asked: list[str] = []

    def route(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def to_page(message: str | bytes) -> None:
            if isinstance(message, str) and '"queue_delta"' in message and not dropped:
                dropped.append(message)  # lost on the way
                return
            ws.send(message)

        def to_server(message: str | bytes) -> None:
            if isinstance(message, str) and '"snapshot"' in message:
                asked.append(message)
            server.send(message)

        server.on_message(to_page)
        ws.on_message(to_server)

    await page.route_web_socket("**/console/ws", route)
    await login_in_page(page, pages.base, "dora")
    await page.wait_for_selector("body[data-live='1']")
    await expect(page.locator("#queue-body tr")).to_have_count(0)
    _, first = await pages.visitor()
    await visitor_writes(first, "min kompis har blivit konstig")
    async with asyncio.timeout(8):
        while not dropped:
            await asyncio.sleep(0.05)
    await expect(page.locator("#queue-body tr")).to_have_count(0)  # the page did not hear of it
    assert asked == []
    _, second = await pages.visitor()
    await visitor_writes(second, "min son har blivit radikal")
    await expect(page.locator("#queue-body tr")).to_have_count(2)
    await expect(page.locator("#queue-count")).to_have_text("2")
    assert len(asked) == 1
    assert page.js_errors == []  # type: ignore[attr-defined]
