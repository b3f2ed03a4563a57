"""The web chat end to end through the real gateway (SQLite, in-process broker), over its websocket."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select, text

from gateway.store.db import Database
from gateway.store.models import Message
from tests.bots.webchat.conftest import WEBCHAT_CONFIG, ChatGateway, Visitor, start_gateway


async def stored(gw: ChatGateway) -> list[Message]:
    async with gw.db.session() as session:
        return list((await session.execute(select(Message).order_by(Message.seq))).scalars().all())


def kinds(frames: list[dict[str, Any]]) -> list[str]:
    return [f["type"] for f in frames]


async def test_hello_gets_a_welcome_with_a_token_and_a_ready_status(chat: ChatGateway) -> None:
    v = await chat.visitor()
    welcome = await v.hello()
    assert welcome["conversation_id"] is None
    assert isinstance(welcome["token"], str) and len(welcome["token"]) > 40
    status = await v.expect(lambda f: f["type"] == "status")
    assert status == {"type": "status", "state": "new", "queue_position": None, "assigned": False}
    other = await (await chat.visitor()).hello()
    assert other["token"] != welcome["token"]


async def test_the_socket_declines_compression_that_browsers_offer(chat: ChatGateway) -> None:
    # permessage-deflate kept a zlib state per socket (about 80 KiB more per idle visitor) and
    # deflated every frame of a few hundred bytes.
    ws = await chat.client.ws_connect("/chat/ws", compress=15)
    try:
        assert ws.compress == 0
        visitor = Visitor(ws)
        assert (await visitor.hello())["type"] == "welcome"
    finally:
        await ws.close()


async def test_a_message_is_acked_stored_answered_and_queued(chat: ChatGateway) -> None:
    v = await chat.visitor()
    await v.hello()
    ack = await v.write("min son vill resa till syrien", "client-0001")
    assert ack["type"] == "ack" and ack["seq"] == 1
    welcome = await v.expect(lambda f: f["type"] == "welcome" and f["conversation_id"])
    bot = await v.expect(lambda f: f["type"] == "message")
    assert (bot["seq"], bot["kind"], bot["text"]) == (2, "bot", "SAFE:travel_conflict")
    status = await v.expect(lambda f: f["type"] == "status" and f["state"] == "queued")
    assert status["queue_position"] == 1 and status["assigned"] is False
    msgs = await stored(chat)
    assert [(m.seq, m.direction, m.text) for m in msgs] == [
        (1, "in", "min son vill resa till syrien"),
        (2, "out", "SAFE:travel_conflict"),
    ]
    assert msgs[0].conversation_id == welcome["conversation_id"]
    # The person's own message is acknowledged, not echoed back as a second copy.
    assert not [f for f in v.frames if f["type"] == "message" and f["kind"] == "person"]


async def test_the_safe_answer_shows_at_once_though_its_event_came_before_the_socket_knew_the_conversation(
    chat: ChatGateway,
) -> None:
    """Under load the socket's handler resumes after the store's answer later than the outbox
    publishes the answer's event: the first message's event then finds no socket for the new
    conversation.  The safe answer still shows with the acknowledgement, not only with the
    counsellor's first reply (a catch-up on a gap in ``seq``)."""
    ingress = chat.adapter._ingress
    assert ingress is not None

    async def slow_to_resume(envelope: Any, address: str) -> Any:
        result = await ingress(envelope, address)
        await asyncio.sleep(0.5)  # the events of the commit are published meanwhile
        return result

    chat.adapter._ingress = slow_to_resume
    v = await chat.visitor()
    await v.hello()
    ack = await v.write("min son vill resa till syrien", "client-0001")
    assert ack["seq"] == 1
    bot = await v.expect(lambda f: f["type"] == "message", timeout=2.0)
    assert (bot["seq"], bot["kind"], bot["text"]) == (2, "bot", "SAFE:travel_conflict")
    await v.settle()
    assert [f["seq"] for f in v.frames if f["type"] == "message"] == [2]  # once


async def test_counsellor_claim_typing_reply_and_close_reach_the_visitor(chat: ChatGateway) -> None:
    v = await chat.visitor()
    await v.hello()
    await v.write("min dotter har blivit radikal", "client-0001")
    conv = (await v.expect(lambda f: f["type"] == "welcome" and f["conversation_id"]))["conversation_id"]
    await v.expect(lambda f: f["type"] == "status" and f["state"] == "queued")
    anna = await chat.user("anna")

    await chat.pipeline.staff.claim(conv, anna)
    joined = await v.expect(lambda f: f["type"] == "status" and f["state"] == "assigned")
    assert joined["assigned"] is True

    await chat.pipeline.staff.counsellor_typing(conv, anna, True)
    assert (await v.expect(lambda f: f["type"] == "typing"))["typing"] is True
    await chat.pipeline.staff.reply(conv, "Hej, jag heter Anna. Berätta mer.", anna)
    reply = await v.expect(lambda f: f["type"] == "message" and f["kind"] == "counsellor")
    assert reply["text"] == "Hej, jag heter Anna. Berätta mer." and reply["seq"] == 3
    await chat.pipeline.staff.counsellor_typing(conv, anna, False)
    assert (await v.expect(lambda f: f["type"] == "typing"))["typing"] is False

    await chat.pipeline.staff.close(conv, anna)
    await v.expect(lambda f: f["type"] == "status" and f["state"] == "closed")
    await v.expect(lambda f: f["type"] == "closed")
    # Writing into a closed conversation is refused clearly, and nothing is stored.
    refused = await v.write("hallå?", "client-0002")
    assert refused["type"] == "error" and refused["code"] == "closed" and "avslutat" in refused["message"]
    assert len(await stored(chat)) == 3


async def test_queue_position_moves_up_when_a_conversation_ahead_is_claimed(chat: ChatGateway) -> None:
    first, second = await chat.visitor(), await chat.visitor()
    await first.hello()
    await second.hello()
    await first.write("min son vill resa till syrien", "client-a001")
    conv = (await first.expect(lambda f: f["type"] == "welcome" and f["conversation_id"]))["conversation_id"]
    await second.write("jag oroar mig för min bror", "client-b001")
    assert (await second.expect(lambda f: f.get("state") == "queued"))["queue_position"] == 2
    await chat.pipeline.staff.claim(conv, await chat.user("anna"))
    moved = await second.expect(lambda f: f["type"] == "status" and f["queue_position"] == 1)
    assert moved["state"] == "queued"


async def test_resume_after_a_dropped_socket_replays_exactly_what_was_missed(chat: ChatGateway) -> None:
    v = await chat.visitor()
    await v.hello()
    await v.write("min bror pratar om att lämna rörelsen", "client-0001")
    welcome = await v.expect(lambda f: f["type"] == "welcome" and f["conversation_id"])
    await v.expect(lambda f: f["type"] == "message" and f["seq"] == 2)
    conv, token = welcome["conversation_id"], welcome["token"]
    await v.close()

    # While the visitor is away: a counsellor answers twice.
    anna = await chat.user("anna")
    await chat.pipeline.staff.claim(conv, anna)
    await chat.pipeline.staff.reply(conv, "första svaret", anna)
    await chat.pipeline.staff.reply(conv, "andra svaret", anna)

    back = await chat.visitor()
    again = await back.hello(resume={"conversation_id": conv, "token": token, "last_seq": 2})
    assert again["conversation_id"] == conv
    frames = await back.settle()
    replayed = [f for f in frames if f["type"] == "message"]
    assert [(f["seq"], f["kind"], f["text"]) for f in replayed] == [
        (3, "counsellor", "första svaret"),
        (4, "counsellor", "andra svaret"),
    ]
    assert {"type": "status", "state": "assigned", "queue_position": None, "assigned": True} in frames

    # The first message is sent again after the reconnect (its ack was lost): acked, not stored twice.
    ack = await back.write("min bror pratar om att lämna rörelsen", "client-0001")
    assert (ack["type"], ack["seq"]) == ("ack", 1)
    assert [m.seq for m in await stored(chat)] == [1, 2, 3, 4]

    # Live messages after the resume arrive once, in order.
    await chat.pipeline.staff.reply(conv, "tredje svaret", anna)
    live = await back.expect(lambda f: f["type"] == "message")
    assert (live["seq"], live["text"]) == (5, "tredje svaret")
    assert not [f for f in await back.settle() if f["type"] == "message"]


async def test_a_message_stored_while_its_ack_was_lost_is_acked_on_resume_not_shown_twice(
    chat: ChatGateway,
) -> None:
    v = await chat.visitor()
    await v.hello()
    await v.write("jag är orolig för min kollega", "client-0001")
    welcome = await v.expect(lambda f: f["type"] == "welcome" and f["conversation_id"])
    await v.expect(lambda f: f["type"] == "message" and f["seq"] == 2)
    # The second message reaches the store, but the socket drops before the page sees the ack.
    await v.send(type="message", client_id="client-0002", text="han har ändrat sig mycket")
    await v.close()
    async with chat.db.session() as session:
        for _ in range(50):
            if (await session.execute(select(Message).where(Message.seq == 3))).scalar_one_or_none():
                break
            await session.rollback()
            await asyncio.sleep(0.05)

    back = await chat.visitor()
    await back.hello(
        resume={"conversation_id": welcome["conversation_id"], "token": welcome["token"], "last_seq": 2},
        pending=["client-0002"],
    )
    frames = await back.settle()
    person_messages = [f for f in frames if f["type"] == "message" and f["kind"] == "person"]
    assert person_messages == []
    ack = next(f for f in frames if f["type"] == "ack")
    assert (ack["client_id"], ack["seq"]) == ("client-0002", 3)
    assert (await back.write("han har ändrat sig mycket", "client-0002"))["seq"] == 3
    texts = [m.text for m in await stored(chat) if m.direction == "in"]
    assert texts == ["jag är orolig för min kollega", "han har ändrat sig mycket"]


async def test_a_forged_or_foreign_token_does_not_open_the_conversation(chat: ChatGateway) -> None:
    v = await chat.visitor()
    await v.hello()
    await v.write("min son vill resa till syrien", "client-0001")
    welcome = await v.expect(lambda f: f["type"] == "welcome" and f["conversation_id"])
    conv, token = welcome["conversation_id"], welcome["token"]
    secret, _, mac = token.split(".")
    forged = f"{secret[:-1]}{'0' if secret[-1] != '0' else '1'}.{conv}.{mac}"
    stranger = await chat.visitor()
    await stranger.send(
        type="hello", lang="en", resume={"conversation_id": conv, "token": forged, "last_seq": 0}
    )
    frames = await stranger.settle()
    assert {"type": "error", "code": "resume_failed"}.items() <= frames[0].items()
    assert "not valid" in frames[0]["message"]
    assert next(f for f in frames if f["type"] == "welcome")["conversation_id"] is None
    assert not [f for f in frames if f["type"] == "message"]


async def test_continue_later_gives_a_code_that_resumes_the_whole_conversation(chat: ChatGateway) -> None:
    v = await chat.visitor()
    await v.hello()
    await v.send(type="continue_later")
    early = await v.expect(lambda f: f["type"] == "error")
    assert early["code"] == "no_conversation"
    await v.write("jag vill lämna rörelsen", "client-0001")
    welcome = await v.expect(lambda f: f["type"] == "welcome" and f["conversation_id"])
    await v.expect(lambda f: f["type"] == "message" and f["seq"] == 2)
    await v.send(type="continue_later")
    code = (await v.expect(lambda f: f["type"] == "resume_code"))["code"]
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){3}", code)
    await v.close()

    later = await chat.visitor()
    back = await later.hello(resume={"code": code.lower().replace("-", " ")})
    assert back["conversation_id"] == welcome["conversation_id"]
    frames = await later.settle()
    assert [(f["seq"], f["kind"]) for f in frames if f["type"] == "message"] == [(1, "person"), (2, "bot")]
    ack = await later.write("jag är tillbaka", "client-0002")
    assert ack["seq"] == 3

    wrong = await chat.visitor()
    await wrong.send(type="hello", lang="sv", resume={"code": "AAAA-BBBB-CCCC-DDDD"})
    frames = await wrong.settle()
    assert frames[0]["code"] == "resume_failed"
    assert next(f for f in frames if f["type"] == "welcome")["conversation_id"] is None


async def test_seen_marks_the_message_delivered(chat: ChatGateway) -> None:
    v = await chat.visitor()
    await v.hello()
    await v.write("min son vill resa till syrien", "client-0001")
    bot = await v.expect(lambda f: f["type"] == "message")
    await v.send(type="seen", seq=bot["seq"])
    for _ in range(200):  # receipts are stored together, within a second
        async with chat.db.session() as session:
            msg = await session.get(Message, bot["id"])
            assert msg is not None
            if msg.delivery == "delivered":
                break
        await asyncio.sleep(0.02)
    assert msg is not None and msg.delivery == "delivered"


async def test_a_receipt_is_stored_when_the_gateway_stops_right_after_it(tmp_path: Path) -> None:
    gw = await start_gateway(tmp_path, dict(WEBCHAT_CONFIG))
    try:
        v = await gw.visitor()
        await v.hello()
        await v.write("min son vill resa till syrien", "client-0001")
        bot = await v.expect(lambda f: f["type"] == "message")
        await v.send(type="seen", seq=bot["seq"])
        await asyncio.sleep(0.2)  # taken in, not stored yet (receipts wait up to a second)
    finally:
        await gw.close()
    db = Database(gw.db.url)
    try:
        async with db.session() as session:
            msg = await session.get(Message, bot["id"])
            assert msg is not None and msg.delivery == "delivered"
    finally:
        await db.close()


async def test_too_long_and_too_fast_are_refused_with_clear_errors(chat: ChatGateway) -> None:
    v = await chat.visitor()
    await v.hello(lang="en")
    too_long = await v.write("x" * 201, "client-long")
    assert too_long["type"] == "error" and too_long["code"] == "too_long"
    assert "200" in too_long["message"] and "too long" in too_long["message"]
    for i in range(6):
        assert (await v.write(f"meddelande {i}", f"client-{i:04d}"))["type"] == "ack"
    limited = await v.write("ett till", "client-0099")
    assert limited["type"] == "error" and limited["code"] == "rate_limited"
    assert "Wait a minute" in limited["message"]
    assert len([m for m in await stored(chat) if m.direction == "in"]) == 6


async def test_malformed_frames_get_an_invalid_error_and_the_socket_stays_usable(chat: ChatGateway) -> None:
    v = await chat.visitor()
    await v.ws.send_str('{"type": "message", "text": ')  # before hello, and broken
    assert (await v.expect(lambda f: f["type"] == "error"))["code"] == "invalid"
    await v.hello()
    for bad in ("not json", "[1, 2]", '{"type": "dance"}', '{"type": "message", "text": 5}'):
        await v.ws.send_str(bad)
        assert (await v.expect(lambda f: f["type"] == "error"))["code"] == "invalid"
    await v.send(type="message", client_id="bad id with spaces", text="hej")
    assert (await v.expect(lambda f: f["type"] == "error"))["code"] == "invalid"
    await v.ws.send_bytes(b"\x00\x01")
    assert (await v.expect(lambda f: f["type"] == "error"))["code"] == "invalid"
    await v.send(type="seen", seq="x")
    assert (await v.expect(lambda f: f["type"] == "error"))["code"] == "invalid"
    assert (await v.write("jag oroar mig för min vän", "client-0001"))["type"] == "ack"


async def test_an_oversize_frame_closes_that_socket_only(chat: ChatGateway) -> None:
    v = await chat.visitor()
    await v.hello()
    await v.ws.send_str(json.dumps({"type": "message", "client_id": "client-0001", "text": "x" * 100_000}))
    msg = await v.ws.receive(timeout=5)
    while msg.type == aiohttp.WSMsgType.TEXT:  # frames sent before the oversize one
        msg = await v.ws.receive(timeout=5)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
    assert v.ws.close_code == 1009
    fresh = await chat.visitor()
    await fresh.hello()
    assert (await fresh.write("jag oroar mig", "client-0002"))["type"] == "ack"
    assert [m.text for m in await stored(chat) if m.direction == "in"] == ["jag oroar mig"]


async def test_sockets_per_conversation_are_capped(chat: ChatGateway) -> None:
    v = await chat.visitor()
    welcome = await v.hello()
    resume = {"conversation_id": None, "token": welcome["token"], "last_seq": 0}
    second = await chat.visitor()
    await second.hello(resume=resume)
    third = await chat.visitor()
    await third.send(type="hello", lang="sv", resume=resume)
    refused = await third.expect(lambda f: f["type"] == "error")
    assert refused["code"] == "too_many_connections"
    closing = await third.ws.receive(timeout=5)
    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_a_second_tab_sees_the_persons_messages_once(chat: ChatGateway) -> None:
    tab1 = await chat.visitor()
    await tab1.hello()
    await tab1.write("jag oroar mig för min syster", "client-0001")
    welcome = await tab1.expect(lambda f: f["type"] == "welcome" and f["conversation_id"])
    tab2 = await chat.visitor()
    await tab2.hello(
        resume={"conversation_id": welcome["conversation_id"], "token": welcome["token"], "last_seq": 0}
    )
    await tab2.expect(lambda f: f["type"] == "message" and f["seq"] == 2)
    await tab1.write("hon har nya vänner", "client-0002")
    mine = await tab2.expect(lambda f: f["type"] == "message" and f["seq"] == 3)
    assert (mine["kind"], mine["text"]) == ("person", "hon har nya vänner")
    await tab2.settle()
    seqs = [f["seq"] for f in tab2.frames if f["type"] == "message"]
    assert sorted(seqs) == sorted(set(seqs))


async def test_no_address_or_browser_detail_is_stored(chat: ChatGateway) -> None:
    v = await chat.visitor(**{"User-Agent": "Mozilla/5.0 TestBrowser/99", "X-Forwarded-For": "203.0.113.9"})
    await v.hello()
    await v.write("min bror vill inte leva längre", "client-0001")
    await v.expect(lambda f: f["type"] == "message")
    async with chat.db.engine.connect() as conn:
        for table in ("conversations", "messages", "audit_events", "contact_records"):
            dump = str((await conn.execute(text(f"SELECT * FROM {table}"))).fetchall())
            for needle in ("127.0.0.1", "203.0.113.9", "TestBrowser"):
                assert needle not in dump, (table, needle)


async def test_the_chat_page_is_served_without_cookies_and_with_a_strict_policy(chat: ChatGateway) -> None:
    resp = await chat.client.get("/chat")
    assert resp.status == 200 and resp.content_type == "text/html"
    assert "Set-Cookie" not in resp.headers
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    page = await resp.text()
    assert '<html lang="sv" dir="ltr">' in page and "Chatta med oss" in page and "Lämna snabbt" in page
    for needle in (
        '<form id="hl-form"',
        '<textarea id="hl-input"',
        '<label for="hl-input"',
        '<button id="hl-send" type="submit"',
        '<ol id="hl-log" class="hl-log" tabindex="0" aria-live="polite"',
        '<p id="hl-status" class="hl-status" role="status">',
        '<button id="hl-exit"',
        '<select id="hl-lang"',
        '<button id="hl-continue-later"',
        'id="hl-resume-code"',
        'id="hl-resume-input"',
        'id="hl-resume-go"',
    ):
        assert needle in page, needle
    # No inline script: only the external file and a JSON data block.
    scripts = re.findall(r"<script([^>]*)>", page)
    assert all('src="/chat/static/' in s or 'type="application/json"' in s for s in scripts)
    assert "https://www.google.com/" in page

    english = await (await chat.client.get("/chat?lang=en")).text()
    assert '<html lang="en" dir="ltr">' in english and "Quick exit" in english and "Chat with us" in english

    embed = await chat.client.get("/chat?embed=1")
    assert "frame-ancestors *" in embed.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in embed.headers and "Set-Cookie" not in embed.headers


async def test_widget_and_static_files_have_the_right_types(chat: ChatGateway) -> None:
    widget = await chat.client.get("/widget.js")
    assert widget.status == 200 and widget.content_type == "application/javascript"
    body = await widget.text()
    assert "Chatta med oss" in body and "/chat?embed=1" in body
    js = await chat.client.get("/chat/static/chat.js")
    assert js.content_type == "application/javascript" and "textContent" in await js.text()
    assert "innerHTML" not in await js.text()
    css = await chat.client.get("/chat/static/chat.css")
    assert css.content_type == "text/css"
    for missing in ("/chat/static/chat.html", "/chat/static/..%2Fwebchat.py", "/chat/static/nope.js"):
        assert (await chat.client.get(missing)).status == 404
    for resp in (widget, js, css):
        assert "Set-Cookie" not in resp.headers


async def test_origin_is_checked_when_allowed_origins_are_configured(tmp_path: Path) -> None:
    gw = await start_gateway(tmp_path, {"allowed_origins": ["https://stodlinjen.example"]})
    try:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await gw.client.ws_connect("/chat/ws", headers={"Origin": "https://evil.example"})
        assert refused.value.status == 403
        ok = Visitor(await gw.client.ws_connect("/chat/ws", headers={"Origin": "https://stodlinjen.example"}))
        assert (await ok.hello())["type"] == "welcome"
        page = await gw.client.get("/chat?embed=1")
        assert "frame-ancestors *" in page.headers["Content-Security-Policy"]
    finally:
        await gw.client.close()


async def test_configured_quick_exit_and_frame_ancestors_reach_the_page(tmp_path: Path) -> None:
    gw = await start_gateway(
        tmp_path,
        {"quick_exit_url": "https://www.svt.se/", "frame_ancestors": ["https://kommun.example"]},
    )
    try:
        page = await gw.client.get("/chat?embed=1")
        assert 'data-quick-exit="https://www.svt.se/"' in await page.text()
        assert "frame-ancestors https://kommun.example" in page.headers["Content-Security-Policy"]
    finally:
        await gw.client.close()


async def test_a_person_writing_in_arabic_is_answered_in_arabic_and_queued_critical(tmp_path: Path) -> None:
    """Through the real web chat and the real triage (every stage on), with a Swedish page."""
    from gateway.store.models import Conversation
    from nlu.triage import build_triager

    gw = await start_gateway(tmp_path, dict(WEBCHAT_CONFIG), triager=build_triager())
    try:
        v = await gw.visitor()
        await v.hello(lang="sv")
        ack = await v.write("ابني أخذ كل الحبوب التي في الخزانة ولا يرد علي", "client-ar-1")
        assert ack["type"] == "ack"
        bot = await v.expect(lambda f: f["type"] == "message" and f["kind"] == "bot")
        assert "112" in bot["text"] and "90101" in bot["text"]
        assert any("\u0600" <= ch <= "\u06ff" for ch in bot["text"])  # written in Arabic
        async with gw.db.session() as session:
            conv = (await session.execute(select(Conversation))).scalars().one()
        assert (conv.language, conv.priority, conv.state) == ("ar", 3, "queued")
    finally:
        await gw.close()


async def test_a_message_after_a_typing_signal_does_not_wait_for_the_signal_to_be_passed_on(
    chat: ChatGateway,
) -> None:
    """A typing signal waits for the store (a look at its conversation); under load the store's
    turns are queued.  The person's next message, a critical one, is read and stored meanwhile
    instead of waiting behind the signal, and behind every read queued before the signal."""
    v = await chat.visitor()
    await v.hello()
    await v.write("jag oroar mig för min bror", "client-0001")
    db = chat.db
    release, held = asyncio.Event(), []

    async def hold() -> None:
        async with db.session():
            held.append(1)
            await release.wait()

    critical = "de ska spränga skolan på fredag"
    saw: list[bool] = []  # each queued read: was the critical message stored already?

    async def read() -> None:
        async with db.reader() as session:
            found = await session.execute(select(Message.id).where(Message.text == critical))
            saw.append(found.first() is not None)

    holders = [asyncio.create_task(hold()) for _ in range(db.turns)]
    while len(held) < db.turns:
        await asyncio.sleep(0.01)
    reads = [asyncio.create_task(read()) for _ in range(10)]
    await asyncio.sleep(0.05)
    await v.send(type="typing", typing=True)
    await v.send(type="message", client_id="client-0002", text=critical)
    await asyncio.sleep(0.2)  # both frames read; the message triaged and waiting for a turn
    release.set()
    await asyncio.gather(*holders, *reads)
    ack = await v.expect(lambda f: f["type"] == "ack" and f.get("client_id") == "client-0002")
    assert ack["seq"] >= 2
    assert saw.count(True) >= 9, saw  # stored before the reads queued ahead of it (one may pass)
