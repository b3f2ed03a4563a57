"""A counsellor's reply committed while Redis is down reaches the web chat visitor once, after
Redis is back (a private redis-server this test stops and starts again)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.bots.webchat.conftest import WEBCHAT_CONFIG, chat_settings, start_gateway
from tests.gateway.conftest import PrivateRedis


async def test_a_reply_committed_while_redis_is_down_reaches_the_visitor_once(tmp_path: Path) -> None:
    server = PrivateRedis(tmp_path)
    server.start()
    settings = chat_settings(tmp_path, redis_url=server.url, redis_prefix="chat:")
    chat = await start_gateway(tmp_path, dict(WEBCHAT_CONFIG), settings)
    try:
        v = await chat.visitor()
        await v.hello()
        await v.write("min dotter har blivit radikal", "client-0001")
        conv = (await v.expect(lambda f: f["type"] == "welcome" and f["conversation_id"]))["conversation_id"]
        anna = await chat.user("anna")
        await chat.pipeline.staff.claim(conv, anna)
        await v.expect(lambda f: f["type"] == "status" and f["state"] == "assigned", timeout=10)

        server.stop()
        await chat.pipeline.staff.reply(conv, "Hej, jag heter Anna. Berätta mer.", anna)  # no error
        await asyncio.sleep(2)
        server.start()

        reply = await v.expect(lambda f: f["type"] == "message" and f["kind"] == "counsellor", timeout=20)
        assert reply["text"] == "Hej, jag heter Anna. Berätta mer."
        later = await v.settle(quiet=2.0)
        assert not [f for f in later if f["type"] == "message" and f["kind"] == "counsellor"]
    finally:
        await chat.close()
        server.stop()
