"""Telegram through the real gateway, in one process: ``create_app`` builds the Telegram adapter from
its configuration (polling under the in-process lease, or webhook on the gateway's own
application), the pipeline stores and triages, egress sends through the adapter to the Bot API
stand-in, and a counsellor acts through :class:`~gateway.pipeline.Pipeline`.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bots.telegram.adapter import SECRET_HEADER, WEBHOOK_PATH, TelegramAdapter
from gateway.appkeys import ADAPTERS, DB, LEASES, PIPELINE
from gateway.catalogues import section
from gateway.channel import AdapterState
from gateway.pipeline import Pipeline
from gateway.store import repo
from gateway.store.db import Database
from gateway.store.models import Conversation, Message
from handoff import queue
from tests.bots.telegram.fake_bot_api import FakeBotAPI
from tests.channels_e2e.conftest import add_counsellor, dump_database, eventually
from tests.harness import make_settings, start

SV = section("person", "sv", "telegram.")
SECRET = "e2e_webhook-Secret_123"
# What Telegram tells the bot about the person: none of it may be stored.
WHO: dict[str, Any] = {"username": "zeb_quixotic_77", "first_name": "Zebulon", "last_name": "Quixotewright"}


@dataclass
class TelegramGateway:
    mode: str
    api: FakeBotAPI
    server: TestServer
    http: aiohttp.ClientSession
    settings: Any

    @property
    def app(self) -> Any:
        return self.server.app

    @property
    def pipeline(self) -> Pipeline:
        return self.app[PIPELINE]  # type: ignore[no-any-return]

    @property
    def db(self) -> Database:
        return self.app[DB]  # type: ignore[no-any-return]

    @property
    def adapter(self) -> TelegramAdapter:
        return self.app[ADAPTERS]["telegram"]  # type: ignore[no-any-return]

    async def person_writes(self, chat_id: int, text: str) -> dict[str, Any]:
        update = self.api.text_update(chat_id, text, **WHO)
        if self.mode == "webhook":
            status = await self.api.deliver_webhook(self.http, update)
            assert status == 200
        else:
            await self.api.push_update(update)
        return update

    async def healthz(self) -> dict[str, Any]:
        async with self.http.get(self.server.make_url("/healthz")) as resp:
            return await resp.json()  # type: ignore[no-any-return]


@pytest.fixture(params=["polling", "webhook"])
async def tg(
    request: pytest.FixtureRequest, sqlite_url: str, tmp_path: Path
) -> AsyncIterator[TelegramGateway]:
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
    settings = make_settings(
        sqlite_url, tmp_path, channels={"telegram": section, "webchat": {"enabled": False}}
    )
    # The adapter comes from the configuration, as in `helpline serve`.
    started = await start(settings, port=port)
    server = started.server
    try:
        async with aiohttp.ClientSession() as http:
            gw = TelegramGateway(mode, api, server, http, settings)
            await eventually(lambda: gw.adapter.state() == AdapterState.CONNECTED, timeout=10)
            if mode == "webhook":
                await eventually(lambda: api.webhook is not None)
                assert api.webhook is not None
                assert api.webhook["url"] == section["webhook_url"]
                assert api.webhook["secret_token"] == SECRET
            yield gw
    finally:
        await started.close()
        await api.close()


async def test_whole_conversation_through_the_gateway(tg: TelegramGateway) -> None:
    api = tg.api
    chat_id = 100_000_000 + uuid.uuid4().int % 800_000_000
    counsellor = await add_counsellor(tg.db)

    # Healthz: the channel is connected; in polling mode under the (in-process) lease.
    health = await tg.healthz()
    assert health["channels"]["telegram"]["state"] == "connected"
    if tg.mode == "polling":
        assert health["channels"]["telegram"]["lease"] == "held"
        assert "telegram" in tg.app[LEASES]
    else:
        assert "lease" not in health["channels"]["telegram"]

    # 1. The person writes: the conversation is in the queue, on the Telegram channel.
    u1 = await tg.person_writes(chat_id, "Jag är orolig för min bror, han pratar om våld hela tiden.")

    async def queued() -> list[queue.QueueEntry]:
        async with tg.db.session() as session:
            return [e for e in await queue.waiting(session) if e.channel == "telegram"]

    entries = await eventually(queued)
    assert len(entries) == 1
    first_id = entries[0].conversation_id

    # 2. The triage's safe response reaches the person at once (egress -> sendMessage).
    await api.wait_for(lambda: "SAFE:concern_relative" in api.sent_to(chat_id), timeout=10)

    # 3. A counsellor claims it: the person is told a counsellor joined.
    await tg.pipeline.staff.claim(first_id, counsellor)
    await api.wait_for(lambda: SV["assigned"] in api.sent_to(chat_id), timeout=10)

    # 4. The counsellor's reply reaches the person as it was written.
    answer = "Hej, jag heter Sara. Berätta gärna mer om vad din bror säger."
    await tg.pipeline.staff.reply(first_id, answer, counsellor)
    await api.wait_for(lambda: answer in api.sent_to(chat_id), timeout=10)

    # 5. The counsellor closes: the person is told the conversation is closed.
    await tg.pipeline.staff.close(first_id, counsellor, reason="klart")
    await api.wait_for(lambda: SV["closed"] in api.sent_to(chat_id), timeout=10)

    # 6. The person writes again later: a new conversation, queued, answered at once again.
    u2 = await tg.person_writes(chat_id, "Det har hänt något nytt med min bror, kan jag prata med någon?")

    async def second_entry() -> list[queue.QueueEntry]:
        return [e for e in await queued() if e.conversation_id != first_id]

    entries = await eventually(second_entry)
    second_id = entries[0].conversation_id
    assert second_id != first_id
    await api.wait_for(lambda: api.sent_to(chat_id).count("SAFE:concern_relative") == 2, timeout=10)

    # Everything reached the person once, in order.
    assert api.sent_to(chat_id) == [
        "SAFE:concern_relative",
        SV["assigned"],
        answer,
        SV["closed"],
        "SAFE:concern_relative",
    ]

    async def deliveries() -> list[str | None]:
        async with tg.db.session() as session:
            out = await session.execute(
                select(Message.delivery).where(Message.direction == "out").order_by(Message.created_at)
            )
            return list(out.scalars().all())

    # Every stored outgoing message is marked sent by egress (just after Telegram accepted it).
    await eventually(lambda: _all_sent(deliveries))

    async with tg.db.session() as session:
        first = await session.get(Conversation, first_id)
        second = await session.get(Conversation, second_id)
        assert first is not None and second is not None
        assert first.state == "closed" and first.channel == "telegram"
        assert second.state == "queued" and second.channel == "telegram"
        assert first.pseudonym == second.pseudonym  # the same person, pseudonymously
        incoming = (await session.execute(select(Message).where(Message.direction == "in"))).scalars().all()
        assert sorted(m.external_id or "" for m in incoming) == sorted(str(u["update_id"]) for u in (u1, u2))
        # The chat id needed to answer is kept, but only encrypted, in the contact record.
        assert await repo.get_contact(session, tg.pipeline.cipher, second_id) == str(chat_id)

    # No username, profile name or chat id anywhere in the database.
    dump = await dump_database(tg.db)
    assert "contact_records" in dump and "SAFE:concern_relative" in dump  # the dump is complete
    for secret in (*WHO.values(), str(chat_id)):
        assert secret not in dump, f"{secret!r} is stored"


async def _all_sent(deliveries: Any) -> bool:
    got = await deliveries()
    return bool(got == ["sent", "sent", "sent"])


async def _conversations(db: Database) -> list[Conversation]:
    async with db.session() as session:
        rows = await session.execute(select(Conversation).order_by(Conversation.created_at))
        return list(rows.scalars().all())


async def test_person_ends_with_stopp_and_starts_again(tg: TelegramGateway) -> None:
    api = tg.api
    chat_id = 100_000_000 + uuid.uuid4().int % 800_000_000

    # /start: the welcome, nothing stored.
    await tg.person_writes(chat_id, "/start")
    await api.wait_for(lambda: SV["welcome"] in api.sent_to(chat_id), timeout=10)
    assert await _conversations(tg.db) == []

    # /stopp with nothing open: confirmed (the pipeline's refusal does not block the updates).
    await tg.person_writes(chat_id, "/stopp")
    await api.wait_for(lambda: SV["stopped"] in api.sent_to(chat_id), timeout=10)

    await tg.person_writes(chat_id, "Jag vill prata om min kompis som har blivit konstig.")
    await api.wait_for(lambda: "SAFE:concern_relative" in api.sent_to(chat_id), timeout=10)
    [first] = await eventually(lambda: _conversations(tg.db))
    assert first.state == "queued"

    # /stopp ends the (normal priority) conversation for good.
    await tg.person_writes(chat_id, "/stopp")
    await api.wait_for(lambda: api.sent_to(chat_id).count(SV["stopped"]) == 2, timeout=10)

    async def closed() -> bool:
        convs = await _conversations(tg.db)
        return convs[0].state == "closed" and convs[0].meta.get("closed_by") == "person"

    await eventually(closed)
    async with tg.db.session() as session:
        assert [e for e in await queue.waiting(session) if e.channel == "telegram"] == []

    # Writing again opens a new conversation.
    await tg.person_writes(chat_id, "Hej igen, jag behöver prata med någon om min kompis.")
    await api.wait_for(lambda: api.sent_to(chat_id).count("SAFE:concern_relative") == 2, timeout=10)
    convs = await eventually(lambda: _two(tg.db))
    assert convs[0].id == first.id and convs[0].state == "closed"
    assert convs[1].id != first.id and convs[1].state == "queued"


async def _two(db: Database) -> list[Conversation] | None:
    convs = await _conversations(db)
    return convs if len(convs) == 2 else None


@pytest.mark.parametrize("tg", ["webhook"], indirect=True)
async def test_webhook_refuses_a_post_without_the_secret(tg: TelegramGateway) -> None:
    chat_id = 100_000_000 + uuid.uuid4().int % 800_000_000
    update = tg.api.text_update(chat_id, "Jag är orolig för min bror.", **WHO)
    url = tg.server.make_url(WEBHOOK_PATH)
    for headers in ({}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: SECRET + "x"}):
        async with tg.http.post(url, json=update, headers=headers) as resp:
            assert resp.status == 403
    assert await _conversations(tg.db) == []
    # The same update with the secret, as Telegram sends it, is taken.
    assert await tg.api.deliver_webhook(tg.http, update) == 200
    await tg.api.wait_for(lambda: "SAFE:concern_relative" in tg.api.sent_to(chat_id), timeout=10)
    # Telegram redelivers it (say our 200 got lost): stored once, answered once.
    assert await tg.api.deliver_webhook(tg.http, update) == 200
    assert len(await _conversations(tg.db)) == 1
    async with tg.db.session() as session:
        count = await session.execute(select(Message.id).where(Message.direction == "in"))
        assert len(count.all()) == 1
    assert tg.api.sent_to(chat_id) == ["SAFE:concern_relative"]
