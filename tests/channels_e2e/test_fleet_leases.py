"""Two real gateway processes (``python -m gateway.cli serve``) sharing PostgreSQL and Redis, both
configured with the Telegram channel in polling mode against ONE Bot API stand-in and with the XMPP
channel on ONE gateway account of a real Prosody: the leases in Redis let exactly one of them poll
Telegram and exactly one hold the XMPP connection, and when the Telegram poller is SIGKILLed the
other process takes over (and runs XMPP too).

Each process reaches the stand-in under its own path prefix (``/p0/bot...``, ``/p1/bot...``; set
per process with ``HELPLINE_CHANNELS__TELEGRAM__BASE_URL``), so the stand-in can tell who called.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from sqlalchemy import select

from gateway.config import new_key
from gateway.store.db import Database
from gateway.store.models import Conversation, Message
from tests.bots.telegram.fake_bot_api import FakeBotAPI
from tests.bots.xmpp.xmpp_support import Account, Person, Prosody, new_account, running_prosody
from tests.channels_e2e.conftest import eventually

ROOT = Path(__file__).resolve().parents[2]
TAKEOVER_LIMIT = 12.0
"""Lease ttl (5 s) + one renew interval (5/3 s) + starting the poller, with room for a slow machine."""


class TaggedBotAPI(FakeBotAPI):
    """The stand-in, also served under ``/{tag}/bot{token}/{method}``; records who called what."""

    def __init__(self) -> None:
        super().__init__()
        self.by: list[tuple[str, str, float]] = []

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tag}/bot{token}/{method}", self._tagged)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def _tagged(self, request: web.Request) -> web.Response:
        self.by.append((request.match_info["tag"], request.match_info["method"], time.monotonic()))
        return await self._handle(request)

    def base_url_for(self, tag: str) -> str:
        return f"http://127.0.0.1:{self.port}/{tag}/bot"

    def callers(self, method: str, since: float = 0.0) -> set[str]:
        return {tag for tag, m, at in self.by if m.lower() == method.lower() and at >= since}

    def first_call(self, tag: str, method: str, since: float) -> float | None:
        return next(
            (at for t, m, at in self.by if t == tag and m.lower() == method.lower() and at >= since), None
        )


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    tag: str
    url: str
    popen: subprocess.Popen[bytes]
    log: Path


@dataclass
class Fleet:
    api: TaggedBotAPI
    procs: list[Proc]
    pg_url: str
    http: aiohttp.ClientSession
    prosody: Prosody
    xmpp_account: Account

    async def health(self, proc: Proc) -> dict[str, Any]:
        async with self.http.get(f"{proc.url}/healthz", timeout=aiohttp.ClientTimeout(total=5)) as resp:
            return await resp.json()  # type: ignore[no-any-return]

    async def lease(self, proc: Proc, name: str = "telegram") -> str | None:
        """``"held/connected"``, ``"standby/standby"``, ... of channel ``name``; None when down."""
        try:
            channel = (await self.health(proc))["channels"][name]
        except (aiohttp.ClientError, OSError, TimeoutError):
            return None
        return str(channel.get("lease")) + "/" + str(channel.get("state"))


def _train_model(path: Path) -> str:
    """The embedded NLU model, trained once here: the two processes load it instead of each
    training it at start (on a small machine they would compete for the CPU)."""
    from nlu.triage import default_model

    default_model().save(str(path))
    return str(path)


@pytest.fixture(scope="module")
def prosody() -> Iterator[Prosody]:
    if shutil.which("prosody") is None:
        pytest.skip("prosody is not installed (apt-get install prosody)")
    with running_prosody() as server:
        yield server


@pytest.fixture
async def fleet(
    pg_url: str, redis_url: str, redis_prefix: str, tmp_path: Path, prosody: Prosody
) -> AsyncIterator[Fleet]:
    api = TaggedBotAPI()
    await api.start()
    xmpp_account = new_account(prosody, "gateway")
    config = tmp_path / "fleet.yml"
    channels = {
        "webchat": {"enabled": False},
        "telegram": {"enabled": True, "token": api.token, "mode": "polling", "poll_timeout": 1},
        "xmpp": {"enabled": True, **prosody.adapter_config(xmpp_account.jid, xmpp_account.password)},
    }
    config.write_text(yaml.safe_dump({"channels": channels, "broker": {"reclaim_idle": 1.0}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HELPLINE_")}
    env.update(
        HELPLINE_DATABASE_URL=pg_url,
        HELPLINE_REDIS_URL=redis_url,
        HELPLINE_REDIS_PREFIX=redis_prefix,
        HELPLINE_PSEUDONYM_KEY=new_key(),
        HELPLINE_CONTACT_KEY=new_key(),
        HELPLINE_DATA_DIR=str(tmp_path / "data"),
    )
    upgrade = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway.cli", "db", "upgrade", env=env, cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    model_path = await asyncio.to_thread(_train_model, tmp_path / "model.npz")
    assert await upgrade.wait() == 0
    env["HELPLINE_NLU__MODEL_PATH"] = model_path
    procs: list[Proc] = []
    try:
        for i in range(2):
            tag = f"p{i}"
            port = _port()
            log = tmp_path / f"{tag}.log"
            proc_env = {**env, "HELPLINE_CHANNELS__TELEGRAM__BASE_URL": api.base_url_for(tag)}
            with log.open("wb") as out:
                popen = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "gateway.cli",
                        "--config",
                        str(config),
                        "serve",
                        "--port",
                        str(port),
                    ],
                    env=proc_env,
                    cwd=ROOT,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            procs.append(Proc(tag, f"http://127.0.0.1:{port}", popen, log))
        async with aiohttp.ClientSession() as http:
            fleet = Fleet(api, procs, pg_url, http, prosody, xmpp_account)
            for proc in procs:

                async def up(proc: Proc = proc) -> bool:
                    assert proc.popen.poll() is None, proc.log.read_text()[-3000:]
                    try:
                        return (await fleet.health(proc))["status"] in ("ok", "degraded")
                    except (aiohttp.ClientError, OSError, TimeoutError):
                        return False

                await eventually(up, timeout=60, every=0.2)
            yield fleet
    finally:
        for proc in procs:
            if proc.popen.poll() is None:
                proc.popen.terminate()
        for proc in procs:
            try:
                proc.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait(timeout=5)
        await api.close()


async def _safe_response_stored(db: Database, external_id: str) -> Message | None:
    """The bot's answer to the incoming message ``external_id`` once egress marked it sent."""
    async with db.session() as session:
        incoming = (
            await session.execute(select(Message).where(Message.external_id == external_id))
        ).scalar_one_or_none()
        if incoming is None:
            return None
        answer = (
            await session.execute(
                select(Message).where(
                    Message.conversation_id == incoming.conversation_id,
                    Message.sender_kind == "bot",
                    Message.delivery == "sent",
                )
            )
        ).scalar_one_or_none()
        return answer


async def test_one_receiver_per_fleet_and_takeover_after_sigkill(fleet: Fleet) -> None:
    api = fleet.api
    a, b = fleet.procs

    # For each channel exactly one process holds the lease and runs the receiver; the other stands by.
    async def settled(name: str) -> dict[str, str | None] | None:
        states = {p.tag: await fleet.lease(p, name) for p in fleet.procs}
        got = sorted(s or "" for s in states.values())
        return states if got == ["held/connected", "standby/standby"] else None

    xmpp_states = await eventually(lambda: settled("xmpp"), timeout=20, every=0.2)
    states = await eventually(lambda: settled("telegram"), timeout=20, every=0.2)
    holder = a if states[a.tag] == "held/connected" else b
    survivor = b if holder is a else a
    await eventually(lambda: api.callers("getUpdates") == {holder.tag}, timeout=10)
    watch_from = time.monotonic()
    await asyncio.sleep(2.5)  # a few long polls (poll_timeout 1 s)
    assert api.callers("getUpdates", since=watch_from) == {holder.tag}
    # The standby process never talked to the Bot API at all.
    assert survivor.tag not in {tag for tag, _, _ in api.by}

    db = Database(fleet.pg_url)
    try:
        # An update now is handled by the holder: the safe response reaches sendMessage.
        chat1 = 100_000_000 + uuid.uuid4().int % 800_000_000
        u1 = api.text_update(chat1, "Jag är orolig för min bror som har börjat umgås med nazister.")
        await api.push_update(u1)
        await api.wait_for(lambda: len(api.sent_to(chat1)) == 1, timeout=15)
        answer1 = await eventually(lambda: _safe_response_stored(db, str(u1["update_id"])), timeout=10)
        assert api.sent_to(chat1) == [answer1.text]

        # SIGKILL the holder: no release, its lease has to expire.
        killed_at = time.monotonic()
        os.kill(holder.popen.pid, signal.SIGKILL)
        holder.popen.wait(timeout=10)
        xmpp_watch = asyncio.create_task(_xmpp_takeover(fleet, survivor, killed_at))
        # Someone writes while nobody polls.
        chat2 = 100_000_000 + uuid.uuid4().int % 800_000_000
        u2 = api.text_update(chat2, "Min kompis pratar om att åka till Syrien och strida, vad gör jag?")
        await api.push_update(u2)

        took_over = await eventually(
            lambda: api.first_call(survivor.tag, "getUpdates", killed_at),
            timeout=TAKEOVER_LIMIT + 5,
            every=0.05,
        )
        takeover = took_over - killed_at
        print(f"\ntelegram poller taken over {takeover:.2f} s after SIGKILL of the holder")
        assert takeover < TAKEOVER_LIMIT

        # The update sent in the gap reaches the queue and its safe response reaches the person,
        # sent by the survivor.
        await api.wait_for(lambda: len(api.sent_to(chat2)) == 1, timeout=15)
        answer2 = await eventually(lambda: _safe_response_stored(db, str(u2["update_id"])), timeout=10)
        assert api.sent_to(chat2) == [answer2.text]
        senders = {tag for tag, m, at in api.by if m.lower() == "sendmessage" and at >= killed_at}
        assert senders == {survivor.tag}
        async with db.session() as session:
            convs = (await session.execute(select(Conversation))).scalars().all()
            assert sorted(c.channel for c in convs) == ["telegram", "telegram"]
            second = next(c for c in convs if c.id == answer2.conversation_id)
            assert second.state == "queued"

        assert await fleet.lease(survivor) == "held/connected"
        # And only the survivor polls from now on.
        since = time.monotonic()
        await asyncio.sleep(1.5)
        assert api.callers("getUpdates", since=since) == {survivor.tag}
        # The first update was confirmed before the kill: not stored twice.
        async with db.session() as session:
            incoming = (
                (await session.execute(select(Message).where(Message.direction == "in"))).scalars().all()
            )
            assert sorted(m.external_id or "" for m in incoming) == sorted(
                str(u["update_id"]) for u in (u1, u2)
            )

        # XMPP: the survivor runs the connection now (took it over if the killed process had it);
        # a person's message reaches the queue and the safe response reaches their client.
        xmpp_holder = a if xmpp_states[a.tag] == "held/connected" else b
        xmpp_takeover = await xmpp_watch
        if xmpp_holder is holder:
            print(f"xmpp connection taken over {xmpp_takeover:.2f} s after SIGKILL of the holder")
            assert xmpp_takeover < TAKEOVER_LIMIT
        person = Person(fleet.prosody, new_account(fleet.prosody, "person"))
        await person.connect()
        try:
            person.say(fleet.xmpp_account.jid, "Jag är orolig för min syster, hon har börjat prata om våld.")
            msg = await person.next_message(15)
            while not msg["body"]:
                msg = await person.next_message(15)
            async with db.session() as session:
                conv = (
                    await session.execute(select(Conversation).where(Conversation.channel == "xmpp"))
                ).scalar_one()
                bot = (
                    await session.execute(
                        select(Message).where(
                            Message.conversation_id == conv.id, Message.sender_kind == "bot"
                        )
                    )
                ).scalar_one()
            assert msg["body"] == bot.text
            assert conv.state == "queued"
        finally:
            await person.close()
    finally:
        await db.close()


async def _xmpp_takeover(fleet: Fleet, survivor: Proc, killed_at: float) -> float:
    """Seconds from the SIGKILL until the survivor holds the XMPP lease and is connected."""

    async def held() -> bool:
        return await fleet.lease(survivor, "xmpp") == "held/connected"

    await eventually(held, timeout=TAKEOVER_LIMIT + 5, every=0.1)
    return time.monotonic() - killed_at
