"""XMPP through the real gateway, in one process: ``create_app`` builds the XMPP adapter from its
configuration and runs it under the (in-process) lease; a real Prosody server carries the chat and
a second slixmpp client is the person.  The counsellor acts through
:class:`~gateway.pipeline.Pipeline`.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bots.xmpp.adapter import XmppAdapter
from gateway.appkeys import ADAPTERS, DB, PIPELINE
from gateway.catalogues import section
from gateway.channel import AdapterState
from gateway.pipeline import Pipeline
from gateway.store import repo
from gateway.store.db import Database
from gateway.store.models import Conversation, Message
from handoff import queue
from tests.bots.xmpp.xmpp_support import Account, Person, Prosody, new_account, running_prosody
from tests.channels_e2e.conftest import add_counsellor, dump_database, eventually
from tests.harness import make_settings, start

SV = section("person", "sv", "xmpp.")


@pytest.fixture(scope="module")
def prosody() -> Iterator[Prosody]:
    if shutil.which("prosody") is None:
        pytest.skip("prosody is not installed (apt-get install prosody)")
    with running_prosody() as server:
        yield server


@dataclass
class XmppGateway:
    server: TestServer
    account: Account

    @property
    def pipeline(self) -> Pipeline:
        return self.server.app[PIPELINE]  # type: ignore[no-any-return]

    @property
    def db(self) -> Database:
        return self.server.app[DB]  # type: ignore[no-any-return]

    @property
    def adapter(self) -> XmppAdapter:
        adapter = self.server.app[ADAPTERS]["xmpp"]
        assert isinstance(adapter, XmppAdapter)
        return adapter


@pytest.fixture
async def gw(prosody: Prosody, sqlite_url: str, tmp_path: Path) -> AsyncIterator[XmppGateway]:
    account = new_account(prosody, "gateway")
    section = {"enabled": True, **prosody.adapter_config(account.jid, account.password)}
    settings = make_settings(sqlite_url, tmp_path, channels={"xmpp": section, "webchat": {"enabled": False}})
    started = await start(settings)
    try:
        gw = XmppGateway(started.server, account)
        await eventually(lambda: gw.adapter.state() == AdapterState.CONNECTED, timeout=15)
        yield gw
    finally:
        await started.close()


@pytest.fixture
async def person(prosody: Prosody) -> AsyncIterator[Person]:
    p = Person(prosody, new_account(prosody, "person"))
    await p.connect()
    try:
        yield p
    finally:
        await p.close()


async def next_text(person: Person, timeout: float = 10.0) -> Any:
    """The next message with a body (chat-state-only stanzas skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        msg = await person.next_message(max(0.01, deadline - loop.time()))
        if msg["body"]:
            return msg


async def no_more_text(person: Person, wait: float = 1.5) -> None:
    try:
        msg = await next_text(person, wait)
    except TimeoutError:
        return
    raise AssertionError(f"unexpected message: {msg['body']!r}")


async def bot_answers_sent(db: Database, count: int) -> bool:
    async with db.session() as session:
        rows = await session.execute(select(Message.delivery).where(Message.sender_kind == "bot"))
        got = list(rows.scalars().all())
    return len(got) == count and all(d in ("sent", "delivered") for d in got)


async def no_second_copy(person: Person, db: Database, count: int) -> None:
    """Once egress has sent the safe response, no second copy of it follows."""
    await eventually(lambda: bot_answers_sent(db, count), timeout=10)
    with pytest.raises(TimeoutError):
        extra = await next_text(person, 1.0)
        pytest.fail(f"a second message arrived: {extra['body']!r}")


async def queued(db: Database) -> list[queue.QueueEntry]:
    async with db.session() as session:
        return [e for e in await queue.waiting(session) if e.channel == "xmpp"]


async def test_whole_conversation_through_the_gateway(gw: XmppGateway, person: Person) -> None:
    counsellor = await add_counsellor(gw.db)
    to = gw.account.jid

    # 1. The person writes: the conversation is in the queue, on the XMPP channel.
    person.say(to, "Jag är orolig för min bror, han pratar om våld hela tiden.")
    [entry] = await eventually(lambda: queued(gw.db), timeout=10)
    first_id = entry.conversation_id

    # 2. The triage's safe response reaches the person at once.
    safe = await next_text(person)
    assert safe["body"] == "SAFE:concern_relative"
    await no_second_copy(person, gw.db, 1)

    # 3. A counsellor claims: the person sees that a counsellor joined.
    await gw.pipeline.staff.claim(first_id, counsellor)
    assert (await next_text(person))["body"] == SV["assigned"]

    # 4. The counsellor's reply reaches the person; their receipt marks it delivered.
    answer = "Hej, jag heter Sara. Berätta gärna mer om vad din bror säger."
    reply = await gw.pipeline.staff.reply(first_id, answer, counsellor)
    got = await next_text(person)
    assert got["body"] == answer
    person.ack(got)

    async def delivered() -> bool:
        async with gw.db.session() as session:
            msg = await session.get(Message, reply["id"])
            return msg is not None and msg.delivery == "delivered"

    await eventually(delivered, timeout=10)

    # 5. The counsellor closes: the person sees the conversation is closed.
    await gw.pipeline.staff.close(first_id, counsellor)
    assert (await next_text(person))["body"] == SV["closed"]

    # 6. Writing again later opens a new conversation, answered at once again.
    person.say(to, "Det har hänt något nytt med min bror, kan jag prata med någon?")
    [entry] = await eventually(lambda: queued(gw.db), timeout=10)
    assert entry.conversation_id != first_id
    assert (await next_text(person))["body"] == "SAFE:concern_relative"
    await no_second_copy(person, gw.db, 2)
    await no_more_text(person, 0.5)

    async with gw.db.session() as session:
        first = await session.get(Conversation, first_id)
        assert first is not None and first.state == "closed"
        assert (
            await repo.get_contact(session, gw.pipeline.cipher, entry.conversation_id) == person.account.jid
        )
    # The JID is only in the encrypted contact record.
    dump = await dump_database(gw.db)
    assert "contact_records" in dump
    assert person.account.jid not in dump and person.account.jid.split("@")[0] not in dump


async def test_safe_response_arrives_exactly_once(gw: XmppGateway, person: Person) -> None:
    """The pipeline stores the safe response and delivers it through egress: the person gets it once."""
    person.say(gw.account.jid, "Jag är orolig för min bror, han pratar om våld hela tiden.")
    assert (await next_text(person))["body"] == "SAFE:concern_relative"
    await no_more_text(person)
    async with gw.db.session() as session:
        bot = (await session.execute(select(Message).where(Message.sender_kind == "bot"))).scalars().all()
    assert len(bot) == 1


async def test_the_counsellors_typing_and_pausing_reach_the_person(gw: XmppGateway, person: Person) -> None:
    """The console's "typing" and "stopped typing" arrive as the XEP-0085 chat states."""
    counsellor = await add_counsellor(gw.db)
    person.say(gw.account.jid, "Jag är orolig för min bror, han pratar om våld hela tiden.")
    [entry] = await eventually(lambda: queued(gw.db), timeout=10)
    await gw.pipeline.staff.claim(entry.conversation_id, counsellor)
    while not person.chat_states.empty():
        person.chat_states.get_nowait()
    await gw.pipeline.staff.counsellor_typing(entry.conversation_id, counsellor, True)
    assert await asyncio.wait_for(person.chat_states.get(), 10) == "composing"
    await gw.pipeline.staff.counsellor_typing(entry.conversation_id, counsellor, False)
    assert await asyncio.wait_for(person.chat_states.get(), 10) == "paused"
