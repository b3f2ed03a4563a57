"""The counsellor's status (handoff.shift): available, break, away; only available members are
offered conversations and counted on duty; every change audited; the automatic away."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from gateway.appkeys import BROKER, DB
from gateway.envelope import utcnow
from gateway.errors import ConfigError
from gateway.outbox import outbox_for
from gateway.store.models import AuditEvent
from handoff.console import live_socket
from handoff.shift import presence
from tests.handoff.console.conftest import Browser, Console
from tests.handoff.console.test_live import connect, next_of, nothing_of
from tests.harness import make_settings


async def status(b: Browser) -> dict[str, Any]:
    resp = await b.get("/console/api/status")
    assert resp.status == 200
    data: dict[str, Any] = await resp.json()
    return data


async def set_status(b: Browser, value: str) -> int:
    return (await b.post("/console/api/status", {"status": value})).status


async def supervisor_view(b: Browser) -> dict[str, Any]:
    resp = await b.get("/console/api/supervisor")
    assert resp.status == 200
    data: dict[str, Any] = await resp.json()
    return data


async def status_audits(console: Console) -> list[dict[str, Any]]:
    async with console.db.session() as session:
        rows = (
            (
                await session.execute(
                    select(AuditEvent).where(AuditEvent.action == "staff.status").order_by(AuditEvent.id)
                )
            )
            .scalars()
            .all()
        )
        return [{"actor": r.actor, **r.details} for r in rows]


async def test_status_changes_are_audited_and_only_available_staff_count_on_duty(
    console_any_db: Console,
) -> None:
    console = console_any_db
    anna = await console.signed_in("anna")
    bert = await console.signed_in("bert")
    sofia = await console.signed_in("sofia", "supervisor")
    # Signed in but never at the console: away, set automatically; nobody on duty.
    assert await status(anna) == {"status": "away", "auto": True}
    assert (await supervisor_view(sofia))["on_duty"] == 0
    # Opening the console makes anna available.
    ws = await connect(anna)
    await next_of(ws, "queue")
    assert await status(anna) == {"status": "available", "auto": False}
    assert await set_status(bert, "available") == 200
    view = await supervisor_view(sofia)
    assert view["on_duty"] == 2
    by_name = {c["username"]: c for c in view["counsellors"]}
    assert by_name["anna"]["status"] == "available" and by_name["sofia"]["status"] == "away"
    assert (by_name["anna"]["load"], by_name["anna"]["capacity"]) == (0, 3)
    # A break takes bert off duty; an unknown status is refused with the field named.
    assert await set_status(bert, "break") == 200
    assert await status(bert) == {"status": "break", "auto": False}
    assert (await supervisor_view(sofia))["on_duty"] == 1
    refused = await bert.post("/console/api/status", {"status": "lunch"})
    assert refused.status == 422 and "status" in (await refused.json())["fields"]
    # Every change is in the audit log: who, from, to, automatic or not.
    changes = [(a["user"], a["from"], a["to"], a["auto"]) for a in await status_audits(console)]
    assert changes == [
        ("anna", "away", "available", True),
        ("bert", "away", "available", False),
        ("bert", "available", "break", False),
    ]
    # Signing out: away (automatic), so off duty until the next sign-in.
    await ws.close()
    out = await anna.http.post(anna.url("/console/logout"), data={"csrf": anna.csrf}, allow_redirects=False)
    assert out.status == 303
    assert (await supervisor_view(sofia))["on_duty"] == 0
    assert (await status_audits(console))[-1]["why"] == "logout"


async def test_on_a_break_nothing_is_offered_and_available_again_the_waiting_critical_alerts_at_once(
    console: Console,
) -> None:
    anna = await console.signed_in("anna")
    bert = await console.signed_in("bert")
    sofia = await console.signed_in("sofia", "supervisor")
    wa, wb, ws = await connect(anna), await connect(bert), await connect(sofia)
    for sock in (wa, wb, ws):
        await next_of(sock, "queue")
    assert await set_status(anna, "break") == 200
    change = await next_of(ws, "staff_status")
    assert change["status"] == "break"
    critical = await console.person("c", "jag vill inte leva längre")
    # Bert (available) and the supervisor are alerted and offered it; anna, on a break, is not.
    for sock in (wb, ws):
        assert (await next_of(sock, "alert"))["conversation_id"] == critical
        offer = await next_of(sock, "new_conversation")
        assert offer["conversation_id"] == critical and offer["priority"] == "critical"
    await next_of(wa, "queue", where=lambda m: len(m["waiting"]) == 1)
    await nothing_of(wa, "alert")
    # Back from the break: the critical conversation that waits alerts her at once.
    assert await set_status(anna, "available") == 200
    assert (await next_of(wa, "alert"))["conversation_id"] == critical
    for sock in (wa, wb, ws):
        await sock.close()


async def test_new_conversations_are_offered_with_free_capacity_and_critical_ones_always(
    console: Console,
) -> None:
    anna = await console.signed_in("anna", capacity=1)
    held = await console.person("h", "min son har blivit radikal")
    ws = await connect(anna)
    await next_of(ws, "queue")  # already waiting when she connected: not offered as new
    assert (await anna.claim(held)).status == 200
    await next_of(ws, "queue", where=lambda m: m["load"] == 1)
    # Full: a normal arrival is not offered, a critical one is.
    normal = await console.person("n", "min kompis har blivit konstig")
    await next_of(ws, "queue", where=lambda m: len(m["waiting"]) == 1)
    await nothing_of(ws, "new_conversation")
    critical = await console.person("c", "de ska spränga skolan")
    offer = await next_of(ws, "new_conversation")
    assert offer["conversation_id"] == critical
    # Free again: the next arrival is offered.
    assert (await anna.post(f"/console/api/conversations/{held}/release")).status == 200
    await next_of(ws, "queue", where=lambda m: m["load"] == 0)
    later = await console.person("l", "min bror har nya vänner")
    offered = await next_of(ws, "new_conversation")
    assert offered["conversation_id"] == later and offered["priority"] == "normal"
    assert normal != later
    await ws.close()


async def test_inactivity_sets_away_and_only_an_automatic_away_comes_back_with_activity(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live_socket, "ACTIVE_WRITE_SECONDS", 0.0)
    anna = await console.signed_in("anna")
    bert = await console.signed_in("bert")
    sofia = await console.signed_in("sofia", "supervisor")
    wa = await connect(anna)
    await next_of(wa, "queue")
    assert await set_status(bert, "break") == 200
    outbox = outbox_for(console.app[DB], console.app[BROKER])
    later = utcnow() + timedelta(minutes=16)
    # Sixteen minutes without activity: anna is away (automatically); bert's break stays.
    assert await presence.sweep_inactive(console.db, outbox, timedelta(minutes=15), later) == ["anna"]
    assert await presence.sweep_inactive(console.db, outbox, timedelta(minutes=15), later) == []
    told = await next_of(wa, "status")
    assert told == {"type": "status", "status": "away", "auto": True}
    assert await status(bert) == {"status": "break", "auto": False}
    assert (await supervisor_view(sofia))["on_duty"] == 0
    # She touches the console: available again.
    await wa.send_str('{"type":"active"}')
    for _ in range(50):
        if (await status(anna))["status"] == "available":
            break
        await asyncio.sleep(0.05)
    assert await status(anna) == {"status": "available", "auto": False}
    # Bert's break is his choice: his activity does not end it.
    wb = await connect(bert)
    await next_of(wb, "queue")
    await wb.send_str('{"type":"active"}')
    await nothing_of(wb, "status")
    assert await status(bert) == {"status": "break", "auto": False}
    whys = [(a["user"], a["to"], a["why"]) for a in await status_audits(console)]
    assert ("anna", "away", "inactive") in whys and whys[-1] == ("anna", "available", "activity")
    await wa.close()
    await wb.close()


def test_the_shift_settings_are_checked(tmp_path: Any) -> None:
    settings = make_settings(None, tmp_path, **{"console.wait_targets": {"critical": 2}})
    targets = settings.section("console")["wait_targets"]
    assert targets == {"critical": 2.0, "high": 5.0, "normal": 15.0, "low": 60.0}
    assert settings.section("console")["queue_mode"] == "free"
    with pytest.raises(ConfigError, match=r"console\.queue_mode"):
        make_settings(None, tmp_path, **{"console.queue_mode": "cherry_pick"})
    with pytest.raises(ConfigError, match=r"console\.wait_targets.urgent"):
        make_settings(None, tmp_path, **{"console.wait_targets": {"urgent": 1}})
    with pytest.raises(ConfigError, match=r"console\.wait_targets.low"):
        make_settings(None, tmp_path, **{"console.wait_targets": {"low": 0}})
