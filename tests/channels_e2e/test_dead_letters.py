"""Item 4 of issue 15: a message that cannot be stored never blocks its channel.

Through the real gateway (``create_app``: store, pipeline, Telegram adapter against the Bot API
stand-in, in polling and webhook mode, on SQLite and on PostgreSQL):

* a text with U+0000 and a lone surrogate is stored, cleaned, with a note of what was removed;
* a text the gateway refuses for good (longer than the configured limit) is kept as a dead letter
  (payload encrypted), Telegram's update is acknowledged (offset / webhook 200), and the next
  update is stored at once;
* admins see the dead letters in the console (other roles get 403) and ``/healthz`` counts them.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bots.telegram.adapter import SECRET_HEADER, WEBHOOK_PATH
from gateway.appkeys import ADAPTERS, DB, PIPELINE
from gateway.auth import create_user
from gateway.catalogues import section
from gateway.channel import AdapterState
from gateway.store.models import DeadLetter, Message
from tests.bots.telegram.fake_bot_api import FakeBotAPI
from tests.channels_e2e.conftest import PASSWORD, dump_database, eventually
from tests.harness import Browser, make_settings, start

SECRET = "deadletter_webhook-Secret_1"


@pytest.fixture(params=["polling", "webhook"])
async def gw(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    mode = request.param
    api = FakeBotAPI()
    await api.start()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    section: dict[str, Any] = {
        "enabled": True,
        "token": api.token,
        "mode": mode,
        "base_url": api.base_url,
        "poll_timeout": 1,
    }
    if mode == "webhook":
        section["webhook_url"] = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
        section["webhook_secret"] = SECRET
    settings = make_settings(db_url, tmp_path, channels={"telegram": section, "webchat": {"enabled": False}})
    started = await start(settings, port=port)
    app, server = started.app, started.server
    try:
        async with aiohttp.ClientSession() as http:
            await eventually(lambda: app[ADAPTERS]["telegram"].state() == AdapterState.CONNECTED, timeout=10)
            if mode == "webhook":
                await eventually(lambda: api.webhook is not None)
            yield {"mode": mode, "api": api, "server": server, "http": http, "app": app}
    finally:
        await started.close()
        await api.close()


async def _send(gw: dict[str, Any], update: dict[str, Any]) -> int | None:
    api: FakeBotAPI = gw["api"]
    if gw["mode"] == "webhook":
        headers = {"Content-Type": "application/json", SECRET_HEADER: SECRET}
        url = gw["server"].make_url(WEBHOOK_PATH)
        async with gw["http"].post(url, data=json.dumps(update).encode(), headers=headers) as resp:
            status: int = resp.status
            return status
    await api.push_update(update)
    return None


async def _incoming(gw: dict[str, Any]) -> list[Message]:
    async with gw["app"][DB].session() as session:
        found = await session.execute(select(Message).where(Message.direction == "in").order_by(Message.seq))
        return list(found.scalars().all())


async def test_unstorable_updates_never_block_the_next(gw: dict[str, Any]) -> None:
    api: FakeBotAPI = gw["api"]
    app = gw["app"]
    chat_id = 100_000_000 + uuid.uuid4().int % 800_000_000
    limit = app[PIPELINE].limits.max_message_chars

    # 1. NUL and a lone surrogate (valid JSON escapes, as Telegram may send them): stored, cleaned.
    dirty = api.text_update(chat_id, "Jag är orolig\u0000 för min bror\ud800, han pratar om våld.")
    assert await _send(gw, dirty) in (200, None)
    stored = await eventually(_incoming_pred(gw, 1))
    assert stored[0].text == "Jag är orolig för min bror, han pratar om våld."
    assert stored[0].meta.get("cleaned") == ["nul", "surrogate"]

    # 2. A text longer than the gateway keeps (Telegram allows 4096): refused for good, kept as a
    #    dead letter, the update acknowledged and the person told.
    too_long = api.text_update(chat_id, "ord " * ((limit + 100) // 4))
    status = await _send(gw, too_long)
    assert status in (200, None)  # the webhook answers 200: Telegram does not redeliver it
    # 3. The next update is stored right away: nothing waits behind the refused one.
    after = api.text_update(chat_id, "Hallå? Jag skriver igen om min bror.")
    assert await _send(gw, after) in (200, None)
    stored = await eventually(_incoming_pred(gw, 2))
    assert [m.external_id for m in stored] == [str(dirty["update_id"]), str(after["update_id"])]
    await api.wait_for(
        lambda: section("person", "sv", "telegram.")["not_accepted"] in api.sent_to(chat_id), timeout=10
    )
    if gw["mode"] == "polling":
        # The offset moved past the refused update: getUpdates never hands it out again.
        await eventually(lambda: not api.updates)

    async with app[DB].session() as session:
        letters = list((await session.execute(select(DeadLetter))).scalars().all())
    assert len(letters) == 1
    assert letters[0].channel == "telegram" and "longer than" in letters[0].reason
    raw = app[PIPELINE].dead_letters.open(letters[0].payload)
    assert raw["envelope"]["external_id"] == str(too_long["update_id"]) and raw["address"] == str(chat_id)
    # Encrypted at rest: neither the chat id nor the text are in the database in clear.
    dump = await dump_database(app[DB])
    assert str(chat_id) not in dump and "ord ord ord" not in dump

    # 4. /healthz counts them; admins list them; a counsellor may not.
    async with gw["http"].get(gw["server"].make_url("/healthz")) as resp:
        assert (await resp.json())["store"]["dead_letters"] == 1
    async with app[DB].session() as session:
        await create_user(session, "admin1", PASSWORD, "admin")
        await create_user(session, "couns1", PASSWORD, "counsellor")
    assert await _dead_letters_as(gw, "couns1") == 403
    listed = await _dead_letters_as(gw, "admin1")
    assert isinstance(listed, dict) and listed["count"] == 1
    assert listed["dead_letters"][0]["channel"] == "telegram"
    assert "payload" not in listed["dead_letters"][0]


def _incoming_pred(gw: dict[str, Any], count: int) -> Any:
    async def check() -> list[Message] | None:
        found = await _incoming(gw)
        return found if len(found) >= count else None

    return check


async def _dead_letters_as(gw: dict[str, Any], username: str) -> int | dict[str, Any]:
    server: TestServer = gw["server"]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        # As staff sign in (an admin with a second factor): the harness's login.
        signed_in = await Browser(str(server.make_url("")).rstrip("/"), http).login(username)
        assert signed_in.status in (302, 303), signed_in.status
        async with http.get(server.make_url("/console/api/dead-letters")) as resp:
            if resp.status != 200:
                return resp.status
            body: dict[str, Any] = await resp.json()
            return body
