"""Nästa samtal (the most urgent waiting conversation, atomically, within capacity), the next-only
queue mode, reminders of conversations waiting past their target (once per fleet) and the critical
banner that clears when no critical conversation waits (handoff.shift)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from gateway.appkeys import BROKER, DB
from gateway.envelope import utcnow
from gateway.outbox import outbox_for
from gateway.store.models import AuditEvent
from handoff.shift.options import shift_options
from handoff.shift.reminders import run_wait_reminders
from tests.handoff.console.conftest import Browser, Console, start_console, stop_console
from tests.handoff.console.test_live import connect, next_of, nothing_of, queue_shows


async def take_next(b: Browser) -> tuple[int, dict[str, Any]]:
    resp = await b.post("/console/api/queue/next")
    data: dict[str, Any] = await resp.json()
    return resp.status, data


async def test_next_takes_the_most_urgent_and_two_at_once_never_get_the_same(console_any_db: Console) -> None:
    console = console_any_db
    first_normal = await console.person("n1", "min son har blivit radikal")
    second_normal = await console.person("n2", "min kompis har blivit konstig")
    high = await console.person("h", "han vill resa till syrien")
    critical = await console.person("c", "jag vill inte leva längre")
    anna = await console.signed_in("anna")
    # Priority first, then waiting time.
    assert await take_next(anna) == (200, {"ok": True, "conversation_id": critical})
    assert await take_next(anna) == (200, {"ok": True, "conversation_id": high})
    # Three press at once for the two that wait: two different conversations, and one empty queue.
    others = [await console.signed_in(name) for name in ("bert", "cecilia", "david")]
    results = await asyncio.gather(*(take_next(b) for b in others))
    taken = sorted(data["conversation_id"] for status, data in results if status == 200)
    assert taken == sorted([first_normal, second_normal])
    assert [data for status, data in results if status != 200] == [{"error": "queue_empty"}]
    queue = await (await anna.get("/console/api/queue")).json()
    assert queue["waiting"] == [] and len(queue["mine"]) == 2
    async with console.db.session() as session:
        via_next = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "conversation.claimed")
        )
    assert via_next == 4


async def test_next_respects_capacity_on_both_stores(console_any_db: Console) -> None:
    console = console_any_db
    convs = [await console.person(f"p{i}", "min son har blivit radikal") for i in range(3)]
    anna = await console.signed_in("anna", capacity=2)
    results = await asyncio.gather(*(take_next(anna) for _ in range(3)))
    statuses = sorted(status for status, _ in results)
    # Pressed three times at once with room for two: two taken, the third refused.
    assert statuses[:2] == [200, 200] and statuses[2] == 409
    assert {"error": "capacity_full"} in [data for status, data in results if status == 409]
    queue = await (await anna.get("/console/api/queue")).json()
    assert [e["conversation_id"] for e in queue["waiting"]] == [convs[2]]


async def test_next_is_refused_on_a_break_or_away_and_an_automatic_away_ends_with_the_press(
    console: Console,
) -> None:
    waiting = await console.person("w", "min son har blivit radikal")
    anna = await console.signed_in("anna")
    sofia = await console.signed_in("sofia", "supervisor")
    for who, status in ((anna, "break"), (anna, "away"), (sofia, "break")):
        assert (await who.post("/console/api/status", json={"status": status})).status == 200
        refused, body = await take_next(who)
        assert refused == 409 and body["error"] == "not_available"
        assert "tillgänglig" in body["message"]
    await anna.get("/console?lang=en")
    refused, body = await take_next(anna)
    assert refused == 409 and "available" in body["message"]
    queue = await (await anna.get("/console/api/queue")).json()
    assert [e["conversation_id"] for e in queue["waiting"]] == [waiting]
    # A supervisor on a break still steps in on a chosen conversation (free pick, not "next").
    assert (await sofia.claim(waiting)).status == 200
    # Available again: the button works.
    other = await console.person("o", "min kompis har blivit konstig")
    assert (await anna.post("/console/api/status", json={"status": "available"})).status == 200
    assert await take_next(anna) == (200, {"ok": True, "conversation_id": other})


async def test_next_only_refuses_a_counsellors_pick_and_lets_a_supervisor_pick(
    sqlite_url: str, tmp_path: Path
) -> None:
    console = await start_console(sqlite_url, tmp_path, **{"console.queue_mode": "next_only"})
    try:
        older = await console.person("a", "min son har blivit radikal")
        newer = await console.person("b", "min kompis har blivit konstig")
        anna = await console.signed_in("anna")
        queue = await (await anna.get("/console/api/queue")).json()
        assert queue["queue_mode"] == "next_only" and queue["may_pick"] is False
        refused = await anna.claim(newer)
        body = await refused.json()
        assert refused.status == 403 and body["error"] == "next_only"
        assert "Nästa samtal" in body["message"]
        assert await take_next(anna) == (200, {"ok": True, "conversation_id": older})
        sofia = await console.signed_in("sofia", "supervisor")
        assert (await (await sofia.get("/console/api/queue")).json())["may_pick"] is True
        assert (await sofia.claim(newer)).status == 200
        # In English for an English-speaking counsellor.
        third = await console.person("c", "min bror har nya vänner")
        await anna.get("/console?lang=en")
        english = await (await anna.claim(third)).json()
        assert "Next conversation" in english["message"]
    finally:
        await stop_console(console)


async def test_the_critical_banner_clears_when_no_critical_conversation_waits(console: Console) -> None:
    anna = await console.signed_in("anna")
    bert = await console.signed_in("bert")
    wa = await connect(anna)
    await next_of(wa, "queue")
    critical = await console.person("c", "jag vill inte leva längre")
    await console.person("n", "min son har blivit radikal")
    assert (await next_of(wa, "alert"))["conversation_id"] == critical
    # Taken by bert: the normal one still waits, the critical banner comes down.
    assert (await bert.claim(critical)).status == 200
    await next_of(wa, "alert_clear")
    await queue_shows(wa, lambda m: len(m["waiting"]) == 1)
    await nothing_of(wa, "alert_clear")
    await wa.close()


async def reminders(console: Console, now: Any) -> list[str]:
    app = console.app
    return await run_wait_reminders(app[DB], outbox_for(app[DB], app[BROKER]), shift_options(app), now)


async def test_a_reminder_goes_out_once_per_fleet_to_available_counsellors_and_supervisors(
    pg_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    """Two gateways on one PostgreSQL and Redis check the queue at the same moment: one reminder."""
    extra = {"redis_url": redis_url, "redis_prefix": redis_prefix, "console.wait_check_seconds": 3600.0}
    one = await start_console(pg_url, tmp_path, **extra)
    two = await start_console(pg_url, tmp_path, **extra)
    try:
        normal = await one.person("n", "min son har blivit radikal")
        await one.person("l", "hej")  # low priority, target 60 min
        anna = await one.signed_in("anna")
        await two.user("bert")
        bert = two.browser()
        assert (await bert.login("bert")).status == 303
        await two.user("sofia", "supervisor")
        sofia = two.browser()
        assert (await sofia.login("sofia")).status == 303
        cecilia = await one.signed_in("cecilia")
        sockets = [await connect(b) for b in (anna, bert, sofia, cecilia)]
        for ws in sockets:
            await next_of(ws, "queue")
        assert (await cecilia.post("/console/api/status", {"status": "break"})).status == 200
        await asyncio.sleep(0.3)
        now = utcnow()
        # Within the normal target (15 minutes): nothing.
        assert await reminders(one, now + timedelta(minutes=14)) == []
        past = now + timedelta(minutes=16)
        results = await asyncio.gather(reminders(one, past), reminders(two, past), reminders(one, past))
        assert sorted(id_ for ids in results for id_ in ids) == [normal]
        for ws in sockets[:3]:
            got = await next_of(ws, "reminder")
            assert got["conversation_id"] == normal and got["priority"] == "normal"
            assert got["target_seconds"] == 900.0 and got["waiting_seconds"] > 900
            await nothing_of(ws, "reminder", wait=0.5)
        await nothing_of(sockets[3], "reminder")  # on a break
        # Still waiting a repeat interval later: reminded again, once.
        again = past + timedelta(minutes=15)
        repeated = await asyncio.gather(reminders(one, again), reminders(two, again))
        assert [id_ for ids in repeated for id_ in ids] == [normal]
        # Taken: no more reminders.
        assert (await anna.claim(normal)).status == 200
        assert await reminders(two, again + timedelta(minutes=30)) == []
        for ws in sockets:
            await ws.close()
    finally:
        await stop_console(two)
        await stop_console(one)


async def test_the_periodic_check_reminds_of_a_critical_conversation(sqlite_url: str, tmp_path: Path) -> None:
    console = await start_console(
        sqlite_url,
        tmp_path,
        **{"console.wait_targets": {"critical": 0.01}, "console.wait_check_seconds": 0.2},
    )
    try:
        anna = await console.signed_in("anna")
        ws = await connect(anna)
        await next_of(ws, "queue")
        critical = await console.person("c", "jag vill inte leva längre")
        got = await next_of(ws, "reminder", timeout=8)
        assert got["conversation_id"] == critical and got["priority"] == "critical"
        await nothing_of(ws, "reminder", wait=1.0)  # repeated a minute later, not at every check
        await ws.close()
    finally:
        await stop_console(console)
