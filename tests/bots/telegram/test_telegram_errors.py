"""A Telegram channel that cannot reach the Bot API says which server, which step and what to check."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.telegram.adapter import TelegramAdapter
from gateway.channel import AdapterState
from tests.bots.email.test_email_tls import make_cert
from tests.bots.telegram.conftest import PSEUDONYM_KEY, RecordingIngress, wait_state
from tests.bots.telegram.fake_bot_api import FakeBotAPI

TOKEN = "123456:secret-token-never-logged"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def failure_of(
    base_url: str, state: AdapterState = AdapterState.TRANSIENT_ERROR, token: str = TOKEN
) -> str:
    adapter = TelegramAdapter(
        {"token": token, "mode": "polling", "base_url": base_url, "poll_timeout": 1},
        PSEUDONYM_KEY,
        backoff_initial=0.05,
    )
    await adapter.start(RecordingIngress())
    try:
        await wait_state(adapter, state, timeout=20)
        return str(adapter.health()["error"])
    finally:
        await adapter.stop()


def the_warning(caplog: pytest.LogCaptureFixture, error: str) -> logging.LogRecord:
    [record, *_] = [r for r in caplog.records if r.getMessage() == f"channel telegram: {error}"]
    assert record.levelname == "WARNING" and record.exc_info is None
    assert "secret-token" not in caplog.text
    return record


async def test_a_closed_port_is_named(caplog: pytest.LogCaptureFixture) -> None:
    port = closed_port()
    error = await failure_of(f"http://127.0.0.1:{port}/bot")
    assert error == (
        f"Telegram Bot API 127.0.0.1:{port}: TCP connect failed (connection refused); "
        "check that the server runs and listens on this port"
    )
    the_warning(caplog, error)


@contextlib.asynccontextmanager
async def tls_server(tmp_path: Path) -> AsyncIterator[int]:
    cert = make_cert(tmp_path, "botapi", ["localhost"], ["127.0.0.1"])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert.cert, cert.key)

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.read(1)
        writer.close()

    server = await asyncio.start_server(session, "127.0.0.1", 0, ssl=context)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()


async def test_a_refused_certificate_is_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with tls_server(tmp_path) as port:
        error = await failure_of(f"https://127.0.0.1:{port}/bot")
    assert error.startswith(
        f"Telegram Bot API 127.0.0.1:{port}: certificate check failed (self-signed certificate); check"
    ), error
    the_warning(caplog, error)


async def test_a_refused_token_is_named(caplog: pytest.LogCaptureFixture) -> None:
    api = FakeBotAPI()
    await api.start()
    try:
        error = await failure_of(api.base_url, AdapterState.BAD_CREDENTIALS, token="123:wrong-secret-token")
    finally:
        await api.close()
    assert error == (
        f"Telegram Bot API 127.0.0.1:{api.port}: login failed (bot token refused); check channels.telegram.token"
    )
    assert "wrong-secret-token" not in caplog.text
