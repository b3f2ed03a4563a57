"""Issue 15: a visitor's message the store refuses is answered ``not_stored`` and kept as a dead
letter, and the same socket goes on working for the next message; nothing is logged with a
traceback or the client's address.

Through a real websocket against a real app on a real PostgreSQL store that cannot keep the text:
a LATIN1 database refuses Arabic script (SQLSTATE 22P05, untranslatable character), as PostgreSQL
refuses any value it cannot keep for good (cleaning removes only U+0000 and lone surrogates).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import select

from gateway.store.models import DeadLetter, Message
from tests.bots.webchat.conftest import WEBCHAT_CONFIG, ChatGateway, chat_settings, start_gateway
from tests.conftest import PG_ADMIN_DSN

pytestmark = pytest.mark.postgres


@pytest.fixture
async def latin1_url() -> AsyncIterator[str]:
    name = f"helpline_t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(
            f"CREATE DATABASE \"{name}\" ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
        )
    finally:
        await admin.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def chat(latin1_url: str, tmp_path: Path) -> AsyncIterator[ChatGateway]:
    gw = await start_gateway(tmp_path, dict(WEBCHAT_CONFIG), chat_settings(tmp_path, latin1_url))
    try:
        yield gw
    finally:
        await gw.close()


async def test_a_message_the_store_refuses_is_answered_not_stored_and_the_socket_goes_on(
    chat: ChatGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    v = await chat.visitor()
    await v.hello()
    refused = await v.write("أنا قلق على أخي، إنه يتحدث عن العنف", "client-0001")
    assert refused["type"] == "error" and refused["code"] == "not_stored", refused
    assert refused["client_id"] == "client-0001"
    # The same socket: the next message is stored and acknowledged at once.
    ack = await v.write("Jag är orolig för min bror, han pratar om våld.", "client-0002")
    assert ack["type"] == "ack", ack
    again = await v.write("Hallå? Är det någon där?", "client-0003")
    assert again["type"] == "ack" and again["seq"] > ack["seq"]

    async with chat.db.session() as session:
        stored = (await session.execute(select(Message.text).where(Message.direction == "in"))).scalars()
        assert list(stored) == ["Jag är orolig för min bror, han pratar om våld.", "Hallå? Är det någon där?"]
        letters = list((await session.execute(select(DeadLetter))).scalars())
    assert len(letters) == 1 and letters[0].channel == "webchat"
    assert letters[0].reason.startswith("store refused")
    raw = chat.pipeline.dead_letters.open(letters[0].payload)
    assert raw["envelope"]["text"].startswith("أنا قلق")

    # aiohttp's access log (off in `helpline serve`, on in the test server) is the only line with it.
    ours = "\n".join(caplog.handler.format(r) for r in caplog.records if r.name != "aiohttp.access")
    assert "Traceback" not in ours and "127.0.0.1" not in ours
    assert "أنا" not in ours
