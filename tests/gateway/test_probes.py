"""What an operator sees of one process: /metrics, /livez, /readyz (gateway.probes, gateway.metrics)."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from gateway.appkeys import DB, METRICS
from gateway.probes import LIVENESS
from tests.handoff.console.conftest import Console, start_console, stop_console
from tests.handoff.console.test_live import connect, next_of

TOKEN = "scrape-me-0123456789"
PERSONAL_TEXT = "jag vill inte leva längre, ring mig på 070-1234567"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the exposition, or None."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(want) + r"\}" if want else "") + r" (\S+)$"
    for line in text.splitlines():
        found = re.match(pattern, line)
        if found:
            return float(found.group(1))
    return None


async def scrape(console: Console) -> str:
    b = console.browser()
    resp = await b.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status == 200, resp.status
    assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return await resp.text()


async def test_metrics_need_a_token_or_a_port_of_their_own(sqlite_url: str, tmp_path: Path) -> None:
    plain = await start_console(sqlite_url, tmp_path / "a")
    try:
        resp = await plain.browser().get("/metrics", headers={"Authorization": "Bearer anything"})
        assert resp.status == 404  # neither configured: not served
    finally:
        await stop_console(plain)

    port = _free_port()
    both = await start_console(
        sqlite_url.replace("helpline.db", "b.db"),
        tmp_path / "b",
        **{"metrics.token": TOKEN, "metrics.port": port},
    )
    try:
        b = both.browser()
        assert (await b.get("/metrics")).status == 401
        wrong = await b.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status == 401 and wrong.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await b.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).status == 200
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/metrics") as side:
                assert side.status == 200
                assert "helpline_queue_length" in await side.text()
    finally:
        await stop_console(both)


@pytest.fixture
async def console(db_url: str, tmp_path: Path) -> Any:
    c = await start_console(db_url, tmp_path, **{"metrics.token": TOKEN})
    try:
        yield c
    finally:
        await stop_console(c)


async def test_metrics_count_what_happens_and_name_no_one(console: Console) -> None:
    anna = await console.signed_in("anna")
    ws = await connect(anna)
    await next_of(ws, "queue")
    conv = await console.person("person-address-1", PERSONAL_TEXT)
    await next_of(ws, "alert", conversation_id=conv)
    await console.person("person-address-2", "min son har blivit radikal")
    assert (await anna.claim(conv)).status == 200
    for text in ("Hej, jag heter Anna.", "Är du i säkerhet nu?"):
        resp = await anna.post(f"/console/api/conversations/{conv}/reply", {"text": text})
        assert resp.status == 200, resp.status
    await asyncio.sleep(0.3)  # the relay publishes after the commit

    text = await scrape(console)
    assert sample(text, "helpline_messages_in_total", channel="memory") == 2
    # The bot's two safe responses and Anna's two replies.
    assert sample(text, "helpline_messages_out_total", channel="memory", sender="counsellor") == 2
    assert sample(text, "helpline_messages_out_total", channel="memory", sender="bot") == 2
    assert sample(text, "helpline_queue_length", priority="normal") == 1
    assert sample(text, "helpline_queue_length", priority="critical") == 0  # Anna holds it
    assert (sample(text, "helpline_queue_oldest_wait_seconds", priority="normal") or 0) > 0
    assert sample(text, "helpline_first_answer_seconds_count") == 1  # the second reply is not a first
    assert sample(text, "helpline_triage_seconds_count", stage="total") == 2
    assert sample(text, "helpline_critical_alerts_total") == 1
    assert sample(text, "helpline_critical_alert_delivery_seconds_count") == 1
    assert sample(text, "helpline_connected", kind="consoles") == 1
    assert sample(text, "helpline_outbox_backlog") == 0
    assert sample(text, "helpline_errors_total", component="store") == 0
    # The open files beside their limit: what runs out when connections flood in.
    assert 0 < (sample(text, "process_open_fds") or 0) < (sample(text, "process_max_fds") or 0)
    # Nothing personal in any label or value.
    for secret in (conv, "person-address", "070-1234567", "inte leva", "anna"):
        assert secret not in text
    await ws.close()


async def test_each_app_counts_on_its_own_registry(sqlite_url: str, tmp_path: Path) -> None:
    one = await start_console(sqlite_url, tmp_path / "one", **{"metrics.token": TOKEN})
    two = await start_console(
        sqlite_url.replace("helpline.db", "two.db"), tmp_path / "two", **{"metrics.token": TOKEN}
    )
    try:
        await one.person("a", "min son har blivit radikal")
        await asyncio.sleep(0.3)
        assert one.app[METRICS].registry is not two.app[METRICS].registry
        assert sample(await scrape(one), "helpline_messages_in_total", channel="memory") == 1
        assert sample(await scrape(two), "helpline_messages_in_total", channel="memory") is None
    finally:
        await stop_console(one)
        await stop_console(two)


async def test_store_errors_are_counted(console: Console, monkeypatch: pytest.MonkeyPatch) -> None:
    def down() -> Any:
        raise ConnectionRefusedError(111, "refused")

    monkeypatch.setattr(console.app[DB], "session", down)
    text = await scrape(console)
    assert sample(text, "helpline_errors_total", component="store") == 1


async def test_livez_answers_while_the_loop_beats(console: Console) -> None:
    b = console.browser()
    live = await b.get("/livez")
    assert live.status == 200 and (await live.json())["status"] == "ok"
    # A heartbeat that stopped ticking (a loop stuck in a blocking call) is not alive.
    console.app[LIVENESS].last_tick -= 60
    stalled = await b.get("/livez")
    assert stalled.status == 503 and (await stalled.json())["status"] == "stalled"
    await asyncio.sleep(1.3)  # the next beat
    assert (await b.get("/livez")).status == 200


async def test_metrics_show_how_long_the_event_loop_stalled(console: Console) -> None:
    await asyncio.sleep(0.2)
    before = await scrape(console)
    assert (sample(before, "helpline_event_loop_lag_seconds_count") or 0) >= 1
    time.sleep(0.3)  # a blocking call on the loop, as a slow model run inline would be
    await asyncio.sleep(0.1)
    after = await scrape(console)
    assert (sample(after, "helpline_event_loop_lag_longest_seconds") or 0) > 0.2

    def late(text: str) -> float:
        """Samples later than 0.1 s."""
        return (sample(text, "helpline_event_loop_lag_seconds_count") or 0) - (
            sample(text, "helpline_event_loop_lag_seconds_bucket", le="0.1") or 0
        )

    assert late(after) - late(before) >= 1


async def test_readyz_follows_the_store_the_broker_and_the_stop(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    b = console.browser()
    ready = await b.get("/readyz")
    assert ready.status == 200 and await ready.json() == {"status": "ready", "store": "ok", "broker": "ok"}

    async def down() -> dict[str, Any]:
        return {"state": "down", "error": "ConnectionRefusedError"}

    with monkeypatch.context() as patch:
        patch.setattr(console.app[DB], "health", down)
        store_down = await b.get("/readyz")
        assert store_down.status == 503
        assert await store_down.json() == {"status": "not_ready", "store": "down", "broker": "ok"}
    assert (await b.get("/readyz")).status == 200
    await console.app.shutdown()  # what SIGTERM starts: from now on no new traffic
    stopping = await b.get("/readyz")
    assert stopping.status == 503 and await stopping.json() == {"status": "stopping"}
    # Neither probe needs a login nor says anything but states.
    assert set(await (await b.get("/livez")).json()) == {"status", "heartbeat_age"}
