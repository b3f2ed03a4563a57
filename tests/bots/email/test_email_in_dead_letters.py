"""Issue 15: the e-mail channel dead-letters what the gateway cannot store and moves on.

Through the real gateway (``create_app`` with the e-mail adapter, a real Dovecot over IMAP, SMTP
out), on SQLite and on PostgreSQL: a mail longer than the gateway keeps is kept as a dead letter,
flagged ``$HelplineRejected`` and left unseen for an administrator (never fetched again), and the
next mail is stored and marked ``\\Seen`` at once.  Admins see the dead letter in the console.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bots.email_in import REJECTED_KEYWORD
from gateway.appkeys import ADAPTERS, DB, PIPELINE
from gateway.auth import create_user
from gateway.channel import AdapterState
from gateway.store.models import DeadLetter, Message
from tests.bots.email.mailtest_support import make_mail
from tests.harness import PASSWORD, Browser, Running, make_settings, start

LIMIT = 200


async def _until(check: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def _gateway(mailbox: Any, smtp_port: int, db_url: str, tmp_path: Path) -> Running:
    section = {"enabled": True, **mailbox.config(smtp_port=smtp_port, poll_interval=0.5)}
    settings = make_settings(
        db_url,
        tmp_path,
        channels={"email": section, "webchat": {"enabled": False}},
        **{"limits.max_message_chars": LIMIT},
    )
    gw = await start(settings)
    await _until(lambda: gw.app[ADAPTERS]["email"].state() == AdapterState.CONNECTED)
    return gw


async def _admin_list(server: TestServer) -> dict[str, Any]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        # As staff sign in (an admin with a second factor): the harness's login.
        signed_in = await Browser(str(server.make_url("")).rstrip("/"), http).login("admin1")
        assert signed_in.status in (302, 303), signed_in.status
        async with http.get(server.make_url("/console/api/dead-letters")) as resp:
            assert resp.status == 200
            body: dict[str, Any] = await resp.json()
            return body


async def test_an_unstorable_mail_is_dead_lettered_and_the_next_is_stored(
    mailbox: Any, smtp_server: Any, db_url: str, tmp_path: Path
) -> None:
    gw = await _gateway(mailbox, smtp_server.port, db_url, tmp_path)
    app, server = gw.app, gw.server
    try:
        too_long, long_id = make_mail(body="Hej. " + "ord " * LIMIT)
        after, after_id = make_mail(body="Hej igen, jag är orolig för min son.")
        await asyncio.to_thread(mailbox.deliver, too_long)
        await asyncio.to_thread(mailbox.deliver, after)
        # The next mail is stored and seen; the refused one is flagged for an administrator.
        await mailbox.wait_flag(after_id, "\\Seen", timeout=20)
        flags = await mailbox.wait_flag(long_id, REJECTED_KEYWORD, timeout=20)
        assert "\\Seen" not in flags

        async with app[DB].session() as session:
            stored = list((await session.execute(select(Message).where(Message.direction == "in"))).scalars())
            letters = list((await session.execute(select(DeadLetter))).scalars())
        assert [m.text for m in stored] == ["Hej igen, jag är orolig för min son."]
        assert len(letters) == 1 and letters[0].channel == "email" and "longer than" in letters[0].reason
        raw = app[PIPELINE].dead_letters.open(letters[0].payload)
        assert raw["address"] == "anna.svensson@example.se"

        # Fetched once: later polls skip the flagged mail, nothing is dead-lettered twice.
        await asyncio.sleep(1.5)
        async with app[DB].session() as session:
            assert len(list((await session.execute(select(DeadLetter))).scalars())) == 1

        async with app[DB].session() as session:
            await create_user(session, "admin1", PASSWORD, "admin")
        listed = await _admin_list(server)
        assert listed["count"] == 1 and listed["dead_letters"][0]["channel"] == "email"
    finally:
        await gw.close()
