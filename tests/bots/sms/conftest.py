"""The SMS channel through the real gateway (``tests.harness.start`` on a real port, the adapter
built from its configuration section) against the local provider of :mod:`fake_provider`."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bots.sms.adapter import INBOUND_PATH, REPORT_PATH
from gateway.store.models import Conversation, Message
from tests.bots.sms.fake_provider import HOOK_PASSWORD, HOOK_USER, PASSWORD, USER, FakeProvider, post
from tests.harness import Running, make_settings, start

OUR_NUMBER = "+46766861004"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sms_section(provider: FakeProvider, port: int, **extra: Any) -> dict[str, Any]:
    """``channels.sms`` for the local provider, as a deployment on 46elks writes it."""
    return {
        "enabled": True,
        "send_url": provider.send_url,
        "sender": OUR_NUMBER,
        "send_username": USER,
        "send_password": PASSWORD,
        "report_url": f"http://127.0.0.1:{port}{REPORT_PATH}",
        "webhook_username": HOOK_USER,
        "webhook_password": HOOK_PASSWORD,
        "max_retry_after": 3.0,
        **extra,
    }


@dataclass
class SmsGateway:
    gw: Running
    provider: FakeProvider
    http: aiohttp.ClientSession
    port: int

    @property
    def inbound_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{INBOUND_PATH}"

    async def person_writes(self, sender: str, text: str, **kw: Any) -> tuple[int, Any]:
        from tests.bots.sms.fake_provider import inbound

        return await post(self.http, self.inbound_url, inbound(sender, text, **kw))

    async def messages(self, direction: str | None = None) -> list[Message]:
        async with self.gw.db.session() as session:
            query = select(Message).order_by(Message.created_at, Message.seq)
            if direction:
                query = query.where(Message.direction == direction)
            return list((await session.execute(query)).scalars().all())

    async def conversations(self) -> list[Conversation]:
        async with self.gw.db.session() as session:
            query = (
                select(Conversation).where(Conversation.channel == "sms").order_by(Conversation.created_at)
            )
            return list((await session.execute(query)).scalars().all())


async def start_sms(
    db_url: str, tmp_path: Path, provider: FakeProvider, **section: Any
) -> tuple[Running, int]:
    port = free_port()
    settings = make_settings(
        db_url,
        tmp_path,
        channels={"sms": sms_section(provider, port, **section), "webchat": {"enabled": False}},
    )
    return await start(settings, serve="port", port=port), port


@pytest.fixture
async def sms(sqlite_url: str, tmp_path: Path) -> AsyncIterator[SmsGateway]:
    provider = FakeProvider()
    await provider.start()
    gw, port = await start_sms(sqlite_url, tmp_path, provider)
    try:
        async with aiohttp.ClientSession() as http:
            yield SmsGateway(gw, provider, http, port)
    finally:
        await gw.close()
        await provider.close()
