"""The console's websocket: queue snapshots, critical alerts, conversation events for their holder."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import event, select

from gateway.appkeys import BROKER
from gateway.broker.base import Event
from gateway.events import TOPIC_CONVERSATION, notify_topic
from gateway.store.models import StaffUser
from tests.handoff.console.conftest import Browser, Console, start_console, stop_console


async def connect(b: Browser, origin: str | None = None) -> aiohttp.ClientWebSocketResponse:
    return await b.http.ws_connect(b.url("/console/ws"), headers={"Origin": origin or b.base})


_queues: weakref.WeakKeyDictionary[aiohttp.ClientWebSocketResponse, dict[str, Any]] = (
    weakref.WeakKeyDictionary()
)
_RANK = {"low": 0, "normal": 1, "high": 2, "critical": 3}


def absorb(ws: aiohttp.ClientWebSocketResponse, msg: dict[str, Any]) -> dict[str, Any]:
    """What the page does with a queue frame: a snapshot is the queue, a delta is applied to the
    queue it follows (its number the next, or the test fails); other frames pass unchanged.  A
    queue frame comes back as ``{"type": "queue", "waiting", "mine", "load", "capacity"}``."""
    if msg.get("type") == "queue":
        _queues[ws] = {**msg, "waiting": list(msg["waiting"]), "mine": list(msg["mine"])}
    elif msg.get("type") == "queue_delta":
        queue = _queues[ws]
        assert msg["seq"] == queue["seq"] + 1, (msg["seq"], queue["seq"])
        for change in msg["changes"]:
            held = queue[change["list"]]
            held[:] = [e for e in held if e["conversation_id"] != change["conversation_id"]]
            if change["op"] != "removed":
                held.append(change["entry"])
        queue["waiting"].sort(key=lambda e: (-_RANK[e["priority"]], e["queued_at"], e["conversation_id"]))
        queue["mine"].sort(key=lambda e: (-_RANK[e["priority"]], e["assigned_at"] or ""))
        queue.update(seq=msg["seq"], load=msg["load"], capacity=msg["capacity"])
    else:
        return msg
    return {**_queues[ws], "type": "queue", "waiting": list(_queues[ws]["waiting"])}


async def next_of(
    ws: aiohttp.ClientWebSocketResponse,
    type_: str,
    timeout: float = 5.0,
    where: Callable[[dict[str, Any]], bool] = lambda m: True,
    **match: Any,
) -> dict[str, Any]:
    """The next message of ``kind`` that matches (earlier snapshots may still be on their way);
    for "queue", the queue after the next snapshot or delta that matches."""
    async with asyncio.timeout(timeout):
        while True:
            msg: dict[str, Any] = absorb(ws, await ws.receive_json())
            if msg.get("type") == type_ and all(msg.get(k) == v for k, v in match.items()) and where(msg):
                return msg


async def queue_shows(
    ws: aiohttp.ClientWebSocketResponse, where: Callable[[dict[str, Any]], bool], timeout: float = 5.0
) -> dict[str, Any]:
    """The queue as the page shows it once ``where`` holds: now, if frames read while waiting for
    something else (an alert comes from the event, the list from the next coalesced read, in either
    order) brought it there; else after the next queue frame that does."""
    held = _queues.get(ws)
    if held is not None:
        now = {**held, "type": "queue", "waiting": list(held["waiting"]), "mine": list(held["mine"])}
        if where(now):
            return now
    return await next_of(ws, "queue", timeout, where)


async def nothing_of(ws: aiohttp.ClientWebSocketResponse, kind: str, wait: float = 0.4) -> None:
    try:
        async with asyncio.timeout(wait):
            while True:
                msg = absorb(ws, await ws.receive_json())
                assert msg.get("type") != kind, msg
    except TimeoutError:
        return


async def test_websocket_needs_a_session_and_the_same_origin(console: Console) -> None:
    anonymous = console.browser()
    with pytest.raises(aiohttp.WSServerHandshakeError) as no_session:
        await connect(anonymous)
    assert no_session.value.status == 401
    anna = await console.signed_in("anna")
    with pytest.raises(aiohttp.WSServerHandshakeError) as cross_site:
        await connect(anna, origin="https://evil.example")
    assert cross_site.value.status == 403
    with pytest.raises(aiohttp.WSServerHandshakeError) as no_origin:
        await anna.http.ws_connect(anna.url("/console/ws"))
    assert no_origin.value.status == 403


async def test_the_socket_declines_compression_that_browsers_offer(console: Console) -> None:
    anna = await console.signed_in("anna")
    ws = await anna.http.ws_connect(anna.url("/console/ws"), headers={"Origin": anna.base}, compress=15)
    try:
        assert ws.compress == 0
        first = [(await ws.receive_json(timeout=10))["type"] for _ in range(2)]
        assert "queue" in first  # the feed works uncompressed
    finally:
        await ws.close()


async def test_critical_arrival_alerts_every_counsellor_and_heads_the_queue(console: Console) -> None:
    anna = await console.signed_in("anna")
    bert = await console.signed_in("bert")
    normal = await console.person("n", "min son har blivit radikal")
    sockets = [await connect(anna), await connect(bert)]
    for ws in sockets:
        first = await next_of(ws, "queue")
        assert [e["conversation_id"] for e in first["waiting"]] == [normal]
    critical = await console.person("c", "jag vill inte leva längre")
    for ws in sockets:
        alert = await next_of(ws, "alert")
        assert alert == {"type": "alert", "priority": "critical", "conversation_id": critical}
        snap = await queue_shows(ws, lambda m: len(m["waiting"]) == 2)
        assert [(e["conversation_id"], e["priority"]) for e in snap["waiting"]] == [
            (critical, "critical"),
            (normal, "normal"),
        ]
    # A normal arrival updates the queue but raises no alert.
    await console.person("m", "min kompis har blivit konstig")
    snap = await next_of(sockets[0], "queue", where=lambda m: len(m["waiting"]) == 3)
    assert snap["waiting"][0]["conversation_id"] == critical
    await nothing_of(sockets[0], "alert")
    for ws in sockets:
        await ws.close()


async def test_a_console_that_connects_after_a_critical_arrival_is_alerted_once(console: Console) -> None:
    """A counsellor who signs in (or whose socket reconnects) while a critical conversation waits
    gets the alert then, not never; and only once, however many snapshots follow."""
    critical = await console.person("c", "jag vill inte leva längre")
    normal = await console.person("n", "min son har blivit radikal")
    anna = await console.signed_in("anna")
    ws = await connect(anna)
    alert = await next_of(ws, "alert")
    assert alert == {"type": "alert", "priority": "critical", "conversation_id": critical}
    first = await next_of(ws, "queue")
    assert [e["conversation_id"] for e in first["waiting"]] == [critical, normal]
    # More arrivals bring more snapshots, and no second alert for the same conversation.
    await console.person("m", "min kompis har blivit konstig")
    await next_of(ws, "queue", where=lambda m: len(m["waiting"]) == 3)
    await nothing_of(ws, "alert", wait=0.6)
    # Reconnected (a dropped connection): alerted again, since this socket has not seen it.
    await ws.close()
    again = await connect(anna)
    assert (await next_of(again, "alert"))["conversation_id"] == critical
    await again.close()


async def test_conversation_events_reach_only_the_counsellor_who_holds_it(console: Console) -> None:
    anna = await console.signed_in("anna")
    bert = await console.signed_in("bert")
    conv = await console.person("p", "min son har blivit radikal")
    wa, wb = await connect(anna), await connect(bert)
    await next_of(wa, "queue")
    await next_of(wb, "queue")
    assert (await anna.claim(conv)).status == 200
    mine = await next_of(wa, "queue", where=lambda m: m["load"] == 1)
    assert [m["conversation_id"] for m in mine["mine"]] == [conv] and mine["load"] == 1
    await console.person("p", "<b>han</b> har slutat i skolan")
    event = await next_of(wa, "conversation", kind="message")
    assert event["conversation_id"] == conv
    assert (
        event["message"]["text"] == "<b>han</b> har slutat i skolan" and event["message"]["kind"] == "person"
    )
    assert event["message"]["seq"] == 3
    await nothing_of(wb, "conversation")
    # The person types: the holder sees it.
    await console.memory.person_writes("p", "", meta={"control": "typing"})
    typing = await next_of(wa, "conversation", kind="typing")
    assert typing["who"] == "person" and typing["typing"] is True
    # After a transfer the new holder gets the events, and the old one hears that it left.
    assert (await anna.post(f"/console/api/conversations/{conv}/transfer", {"to": "bert"})).status == 200
    left = await next_of(wa, "conversation", kind="state")
    assert left["conversation"]["state"] == "assigned"
    # The new holder sees what the person was told (another counsellor takes over), then their words.
    notice = await next_of(wb, "conversation", kind="message")
    assert notice["message"]["kind"] == "system"
    await console.person("p", "är du kvar?")
    got = await next_of(wb, "conversation", kind="message")
    assert got["message"]["text"] == "är du kvar?"
    await nothing_of(wa, "conversation")
    await wa.close()
    await wb.close()


async def test_logout_closes_the_sessions_websocket(console: Console) -> None:
    anna = await console.signed_in("anna")
    ws = await connect(anna)
    await next_of(ws, "queue")
    out = await anna.http.post(anna.url("/console/logout"), data={"csrf": anna.csrf}, allow_redirects=False)
    assert out.status == 303
    async with asyncio.timeout(5):
        msg = await ws.receive()
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert ws.close_code == 4401


async def test_two_gateway_processes_share_alerts_and_claims(
    pg_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    """Two gateways on one PostgreSQL and one Redis: a critical message taken in by one alerts a
    counsellor connected to the other, and a simultaneous claim through both has one winner."""
    extra = {"redis_url": redis_url, "redis_prefix": redis_prefix}
    one = await start_console(pg_url, tmp_path, **extra)
    two = await start_console(pg_url, tmp_path, **extra)
    try:
        anna = await one.signed_in("anna")
        await two.user("bert")
        bert = two.browser()
        assert (await bert.login("bert")).status == 303
        ws = await connect(bert)
        await next_of(ws, "queue")
        critical = await one.person("c", "de ska spränga skolan")
        alert = await next_of(ws, "alert")
        assert alert["conversation_id"] == critical
        snap = await queue_shows(ws, lambda m: len(m["waiting"]) == 1)
        assert snap["waiting"][0]["priority"] == "critical"
        results = await asyncio.gather(anna.claim(critical), bert.claim(critical))
        assert sorted(r.status for r in results) == [200, 409]
        await ws.close()
    finally:
        await stop_console(two)
        await stop_console(one)


async def test_a_held_conversation_that_turns_critical_alerts_its_counsellor_and_the_supervisors(
    console: Console,
) -> None:
    anna = await console.signed_in("anna")
    bert = await console.signed_in("bert")
    sofia = await console.signed_in("sofia", "supervisor")
    waiting = await console.person("w", "min kusin har nya vänner")
    conv = await console.person("p", "min son har blivit radikal")
    assert (await anna.claim(conv)).status == 200
    wa, wb, ws = await connect(anna), await connect(bert), await connect(sofia)
    for sock in (wa, wb, ws):
        await next_of(sock, "queue")
    await console.person("p", "han säger att han ska spränga skolan")

    mine = await next_of(wa, "alert")
    assert mine["conversation_id"] == conv and mine["priority"] == "critical"
    assert mine["assigned"] is True and mine["yours"] is True
    assert mine["intent"] == "urgent_threat" and mine["channel"] == "memory"
    # The holder's own list shows it as critical at once.
    snap = await queue_shows(wa, lambda m: m["mine"] and m["mine"][0]["priority"] == "critical")
    assert [m["conversation_id"] for m in snap["mine"]] == [conv]

    supervised = await next_of(ws, "alert")
    assert supervised["conversation_id"] == conv and supervised["assigned"] is True
    assert supervised["yours"] is False and supervised["holder"] == "anna"

    # Bert neither holds it nor supervises: no alert, and his queue is what it was.
    await nothing_of(wb, "alert", wait=0.6)
    queue = await (await bert.get("/console/api/queue")).json()
    assert [e["conversation_id"] for e in queue["waiting"]] == [waiting] and queue["mine"] == []
    # A further critical message in the same conversation raises no new alert.
    await console.person("p", "de ska döda någon")
    await nothing_of(wa, "alert")
    for sock in (wa, wb, ws):
        await sock.close()


async def test_the_queue_goes_out_as_one_conversations_change_and_a_gap_brings_it_whole(
    console: Console,
) -> None:
    """After the first snapshot a console gets deltas: one conversation's row, numbered; a console
    that saw a gap asks, and gets the whole queue again, numbered so that the deltas follow."""
    anna = await console.signed_in("anna")
    bert = await console.signed_in("bert")
    before = await console.person("b", "min son har blivit radikal")
    wa, wb = await connect(anna), await connect(bert)
    first = await next_of(wa, "queue")
    await next_of(wb, "queue")
    assert [e["conversation_id"] for e in first["waiting"]] == [before]

    arrived = await console.person("a", "min kusin har nya vänner")
    raw = await wa.receive_json()
    while raw["type"] != "queue_delta":  # an offer of the new conversation comes first
        assert raw["type"] == "new_conversation", raw
        raw = await wa.receive_json()
    assert raw["seq"] == first["seq"] + 1 and "waiting" not in raw
    assert [(c["op"], c["list"], c["conversation_id"]) for c in raw["changes"]] == [
        ("added", "waiting", arrived)
    ]
    assert raw["changes"][0]["entry"]["priority"] == "normal" and raw["load"] == 0
    absorb(wa, raw)

    # Bert claims it: Anna sees it leave the queue, Bert sees it leave the queue and join his own.
    assert (await bert.claim(arrived)).status == 200
    gone = await next_of(wa, "queue", where=lambda m: len(m["waiting"]) == 1)
    assert [e["conversation_id"] for e in gone["waiting"]] == [before] and gone["mine"] == []
    held = await next_of(wb, "queue", where=lambda m: m["load"] == 1)
    assert [m["conversation_id"] for m in held["mine"]] == [arrived]
    assert [e["conversation_id"] for e in held["waiting"]] == [before]

    # A gap: the page asks on its socket and gets the whole queue, numbered next.
    await wa.send_str('{"type":"snapshot"}')
    whole = await wa.receive_json()
    assert whole["type"] == "queue" and whole["seq"] == gone["seq"] + 1
    assert [e["conversation_id"] for e in whole["waiting"]] == [before]
    absorb(wa, whole)
    # The next change is a delta that follows it (absorb fails on a gap).
    assert (await bert.post(f"/console/api/conversations/{arrived}/release")).status == 200
    back = await next_of(wa, "queue", where=lambda m: len(m["waiting"]) == 2)
    assert {e["conversation_id"] for e in back["waiting"]} == {before, arrived}
    await wa.close()
    await wb.close()


async def _user_id(console: Console, username: str) -> int:
    async with console.db.reader() as session:
        found = await session.scalar(select(StaffUser.id).where(StaffUser.username == username))
    assert found is not None
    return int(found)


async def test_a_signal_with_an_old_summary_reaches_the_holder_and_changes_no_ones_list(
    console: Console,
) -> None:
    """A person's typing is published from a read up to two seconds old: after a transfer its
    summary may still name the counsellor who held the conversation.  It goes to whoever holds it
    now, and the old summary takes it neither from the new holder's list nor gives it to the old."""
    anna = await console.signed_in("anna")
    bert = await console.signed_in("bert")
    conv = await console.person("p", "min son har blivit radikal")
    assert (await anna.claim(conv)).status == 200
    assert (await anna.post(f"/console/api/conversations/{conv}/transfer", {"to": "bert"})).status == 200
    wa, wb = await connect(anna), await connect(bert)
    await next_of(wa, "queue")
    await queue_shows(wb, lambda m: [e["conversation_id"] for e in m["mine"]] == [conv])
    stale = {"id": conv, "state": "assigned", "assigned_to": await _user_id(console, "anna")}
    broker = console.app[BROKER]
    await broker.publish(
        TOPIC_CONVERSATION,
        {"kind": "typing", "conversation_id": conv, "conversation": stale, "who": "person", "typing": True},
    )
    typing = await next_of(wb, "conversation", kind="typing")
    assert typing["conversation_id"] == conv and typing["typing"] is True
    await nothing_of(wa, "conversation")
    # Bert still gets what the person writes next.
    await console.person("p", "är någon där?")
    got = await next_of(wb, "conversation", kind="message")
    assert got["message"]["text"] == "är någon där?"
    await nothing_of(wa, "conversation")
    for sock in (wa, wb):
        await sock.close()


async def test_the_holders_typing_reaches_the_person_without_a_read(console: Console) -> None:
    """The console's feed knows the conversation its counsellor holds: the typing signal on the
    socket is published from that, not from a read of the store on every keystroke."""
    anna = await console.signed_in("anna")
    conv = await console.person("p", "min son har blivit radikal")
    assert (await anna.claim(conv)).status == 200
    wa = await connect(anna)
    await queue_shows(wa, lambda m: [e["conversation_id"] for e in m["mine"]] == [conv])
    await asyncio.sleep(0.3)  # the claim's events have reached the feed
    reads: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if "FROM conversations" in statement:
            reads.append(statement)

    told: list[dict[str, Any]] = []

    async def on_notify(event: Event) -> None:
        told.append(event.payload)

    await console.app[BROKER].fanout(notify_topic("memory"), on_notify)
    event.listen(console.db.engine.sync_engine, "before_cursor_execute", before)
    try:
        for typing in (True, False, True):
            await wa.send_json({"type": "typing", "conversation_id": conv, "typing": typing})
            await asyncio.sleep(0.05)
        async with asyncio.timeout(5):
            while len(told) < 3:
                await asyncio.sleep(0.02)
    finally:
        event.remove(console.db.engine.sync_engine, "before_cursor_execute", before)
    assert [t["event"] for t in told] == ["typing", "paused", "typing"]
    assert all(t["conversation_id"] == conv for t in told)
    assert reads == []
    await wa.close()
