"""The chat page's resends while the store is away, in headless Chromium: one timer, backing off."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bots.webchat.adapter import WebchatAdapter
from gateway.config import load_settings
from tests.bots.webchat.test_page_browser import CHROMIUM
from tests.conftest import PG_ADMIN_DSN
from tests.harness import start

pytestmark = [pytest.mark.browser]

WINDOW = 12.0  # seconds of counting while the store is away


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def test_unavailable_answers_back_off_instead_of_multiplying_resends(
    pg_url: str, tmp_path: Path
) -> None:
    """PostgreSQL refuses the gateway's connections (its database closed to connections, the pooled
    ones terminated): the page with three pending messages resends them on one timer with growing
    gaps, a handful of frames in 12 s instead of hundreds, and all three arrive once the store is back."""
    playwright = pytest.importorskip("playwright.async_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium")
    dbname = pg_url.rsplit("/", 1)[1]
    settings = load_settings(
        environ={},
        overrides={
            "database_url": pg_url,
            "data_dir": str(tmp_path / "data"),
            "channels": {"webchat": {"enabled": False}},
        },
    )
    adapter = WebchatAdapter({}, pseudonym_key=settings.pseudonym_key)
    gw = await start(settings, adapters=[adapter])
    client = gw.client
    sent: list[tuple[float, dict[str, Any]]] = []

    def on_socket(ws: Any) -> None:
        def framesent(payload: str | bytes) -> None:
            frame = json.loads(payload)
            if isinstance(frame, dict) and frame.get("type") == "message":
                sent.append((time.monotonic(), frame))

        ws.on("framesent", framesent)

    try:
        async with playwright.async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = await browser.new_page()
            page.on("websocket", on_socket)
            await page.goto(str(client.make_url("/chat")))
            await page.wait_for_selector("#hl-status:has-text('Skriv ditt meddelande')")
            await page.fill("#hl-input", "hej")
            await page.keyboard.press("Enter")
            await page.wait_for_selector("#hl-log li[data-seq='1']:not(.hl-pending)")

            # The store goes away for real: no new connections to the database, the pooled ones cut.
            await _admin(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS false')
            await _admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{dbname}'")
            sent.clear()
            started = time.monotonic()
            for text in ("jag är orolig", "för min bror", "kan ni svara?"):
                await page.fill("#hl-input", text)
                await page.keyboard.press("Enter")
            await page.wait_for_selector("#hl-status:has-text('kunde inte skickas')")
            await asyncio.sleep(WINDOW - (time.monotonic() - started))
            during = [t - started for t, _ in sent]
            assert await page.locator("#hl-log li.hl-pending").count() == 3
            # Before the fix: every answer scheduled a resend of all three (3, 9, 27, 81 ... frames).
            assert 6 <= len(during) <= 21, len(during)
            # One timer: frames come in rounds that send each pending message once, and the gaps
            # between rounds grow (1 s, 2 s, 4 s ... with jitter, up to a cap).
            rounds: list[list[float]] = []
            for t in during:
                if rounds and t - rounds[-1][-1] < 0.3:
                    rounds[-1].append(t)
                else:
                    rounds.append([t])
            assert all(len(r) <= 3 for r in rounds), rounds
            gaps = [b[0] - a[-1] for a, b in itertools.pairwise(rounds)]
            assert len(gaps) >= 3 and gaps[-1] >= 1.5 and gaps[-1] > gaps[0], gaps

            # The store is back: the next resend delivers all three, once each.
            await _admin(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true')
            await page.wait_for_selector("#hl-log li[data-seq='4']:not(.hl-pending)", timeout=30000)
            await page.wait_for_selector("#hl-log li.hl-pending", state="detached", timeout=30000)
            texts = await page.eval_on_selector_all(
                "#hl-log li[data-kind=person]", "els => els.map(e => e.textContent)"
            )
            assert texts == ["hej", "jag är orolig", "för min bror", "kan ni svara?"]
            await browser.close()
    finally:
        await _admin(f'ALTER DATABASE "{dbname}" ALLOW_CONNECTIONS true')
        await gw.close()
