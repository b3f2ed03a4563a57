"""Issue 15, items 4 and 12 on the web chat: a frame nested deeper than the JSON parser goes is an
ordinary "invalid" error (no traceback, no client address in the log), and a message with U+0000
or a lone surrogate is acknowledged and stored without them instead of failing for ever."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from gateway.store.models import Message
from tests.bots.webchat.conftest import ChatGateway


async def test_deeply_nested_frames_and_nul_characters(
    chat: ChatGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    v = await chat.visitor()
    await v.ws.send_str("[" * 1200 + "]" * 1200)  # RecursionError in json before the fix
    assert (await v.expect(lambda f: f["type"] == "error"))["code"] == "invalid"
    await v.hello()
    await v.ws.send_str('{"type": "message", "text": ' + "[" * 1200 + "]" * 1200 + "}")
    assert (await v.expect(lambda f: f["type"] == "error"))["code"] == "invalid"

    # The socket is still usable, and a NUL and a lone surrogate are removed, not refused.
    ack = await v.write("jag oroar mig\u0000 för min vän\udc00", "client-0001")
    assert ack["type"] == "ack"
    async with chat.db.session() as session:
        stored = (await session.execute(select(Message).where(Message.direction == "in"))).scalars().all()
    assert [m.text for m in stored] == ["jag oroar mig för min vän"]
    assert stored[0].meta["cleaned"] == ["nul", "surrogate"]

    # aiohttp's access log (off in `helpline serve`, on in the test server) is the only line with it.
    ours = "\n".join(caplog.handler.format(r) for r in caplog.records if r.name != "aiohttp.access")
    assert "Traceback" not in ours and "127.0.0.1" not in ours
