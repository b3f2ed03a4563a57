"""Issue 15: XMPP dead-letters what the gateway cannot store and moves on.

Through the real gateway (``create_app`` with the XMPP adapter, a real Prosody, the person's own
slixmpp client), on SQLite and on PostgreSQL: a message longer than the gateway keeps (the
channel itself takes up to 4000 characters) is kept as a dead letter, is not receipted, the person
is told it was not accepted (not asked to send it again: it would be refused again), and the next
message is stored and receipted at once.  Admins see the dead letter in the console.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from gateway.appkeys import ADAPTERS, DB, PIPELINE
from gateway.auth import create_user
from gateway.catalogues import section
from gateway.channel import AdapterState
from gateway.store.models import DeadLetter, Message
from tests.bots.xmpp.xmpp_support import Person, Prosody, new_account, running_prosody
from tests.channels_e2e.conftest import PASSWORD, eventually
from tests.channels_e2e.test_dead_letters import _dead_letters_as
from tests.harness import make_settings, start

LIMIT = 200


@pytest.fixture(scope="module")
def prosody() -> Iterator[Prosody]:
    if shutil.which("prosody") is None:
        pytest.skip("prosody is not installed (apt-get install prosody)")
    with running_prosody() as server:
        yield server


@pytest.fixture
async def gw(prosody: Prosody, db_url: str, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    account = new_account(prosody, "gateway")
    section = {"enabled": True, **prosody.adapter_config(account.jid, account.password)}
    settings = make_settings(
        db_url,
        tmp_path,
        channels={"xmpp": section, "webchat": {"enabled": False}},
        **{"limits.max_message_chars": LIMIT},
    )
    started = await start(settings)
    server = started.server
    person = Person(prosody, new_account(prosody, "person"))
    try:
        await eventually(lambda: server.app[ADAPTERS]["xmpp"].state() == AdapterState.CONNECTED, timeout=15)
        await person.connect()
        async with aiohttp.ClientSession() as http:
            yield {"server": server, "app": server.app, "jid": account.jid, "person": person, "http": http}
    finally:
        await person.close()
        await started.close()


async def _text(person: Person, timeout: float = 10.0) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        msg = await person.next_message(max(0.01, deadline - loop.time()))
        if msg["body"]:
            return str(msg["body"])


async def test_an_unstorable_message_is_dead_lettered_and_the_next_is_stored(gw: dict[str, Any]) -> None:
    app, person, jid = gw["app"], gw["person"], gw["jid"]
    assert app[ADAPTERS]["xmpp"].config["max_chars"] > LIMIT == app[PIPELINE].limits.max_message_chars

    refused_id = person.say(jid, "ord " * (LIMIT // 2))
    assert await _text(person) == section("person", "sv", "xmpp.")["not_accepted"]
    person.say(jid, "Jag är orolig för min bror, han pratar om våld.", stanza_id="after-1")
    assert await asyncio.wait_for(person.receipts.get(), 10) == "after-1"  # stored, receipted
    assert person.receipts.empty()  # the refused message was never receipted

    async with app[DB].session() as session:
        stored = list((await session.execute(select(Message).where(Message.direction == "in"))).scalars())
        letters = list((await session.execute(select(DeadLetter))).scalars())
    assert [m.text for m in stored] == ["Jag är orolig för min bror, han pratar om våld."]
    assert len(letters) == 1 and letters[0].channel == "xmpp" and "longer than" in letters[0].reason
    raw = app[PIPELINE].dead_letters.open(letters[0].payload)
    assert raw["envelope"]["external_id"].endswith(f":{refused_id}") and raw["address"] == person.account.jid

    async with app[DB].session() as session:
        await create_user(session, "admin1", PASSWORD, "admin")
    listed = await _dead_letters_as(gw, "admin1")
    assert isinstance(listed, dict) and listed["count"] == 1
    assert listed["dead_letters"][0]["channel"] == "xmpp"
