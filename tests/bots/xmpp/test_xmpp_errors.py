"""An XMPP channel that cannot open its session says which server, which step and what to check."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bots.xmpp.adapter import XmppAdapter
from gateway.channel import AdapterState
from tests.bots.email.test_email_tls import make_cert
from tests.bots.xmpp.xmpp_support import Account, Prosody, RecordingIngress

PSEUDONYM_KEY = b"k" * 32


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def failed(adapter: XmppAdapter, state: AdapterState = AdapterState.TRANSIENT_ERROR) -> str:
    await adapter.start(RecordingIngress())
    for _ in range(150):
        if adapter.state() is state and adapter.last_error:
            return adapter.last_error
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {state}: {adapter.health()}")


def config(port: int, **extra: Any) -> dict[str, Any]:
    return {
        "jid": "gateway@helpline.test",
        "password": "p",
        "host": "127.0.0.1",
        "port": port,
        "reconnect_initial": 5.0,
        "connect_timeout": 5.0,
        **extra,
    }


LEFT_OUT = re.compile(r" \[\d+ more like this left out of the log\]$")
"""What the log's throttle adds to a line after others like it, from tests before, were left out."""


def logged(caplog: pytest.LogCaptureFixture, error: str) -> logging.LogRecord:
    [record, *_] = [r for r in caplog.records if LEFT_OUT.sub("", r.getMessage()) == f"channel xmpp: {error}"]
    return record


async def test_a_closed_port_is_named(caplog: pytest.LogCaptureFixture) -> None:
    port = closed_port()
    adapter = XmppAdapter(config(port, plaintext=True), PSEUDONYM_KEY)
    try:
        error = await failed(adapter)
    finally:
        await adapter.stop()
    assert error == (
        f"XMPP 127.0.0.1:{port}: TCP connect failed (connection refused); "
        "check that the server runs and listens on this port"
    )
    record = logged(caplog, error)
    assert record.levelname == "WARNING" and record.exc_info is None


async def test_wrong_credentials_are_named(
    prosody: Prosody, gateway_account: Account, caplog: pytest.LogCaptureFixture
) -> None:
    adapter = XmppAdapter(prosody.adapter_config(gateway_account.jid, "wrong-password"), PSEUDONYM_KEY)
    try:
        error = await failed(adapter, AdapterState.BAD_CREDENTIALS)
    finally:
        await adapter.stop()
    assert error == (
        f"XMPP 127.0.0.1:{prosody.port}: login failed (refused); check channels.xmpp.jid and password"
    )
    assert logged(caplog, error).levelname == "WARNING"
    assert "wrong-password" not in caplog.text


@contextlib.asynccontextmanager
async def tls_server(tmp_path: Path) -> AsyncIterator[int]:
    """A port that speaks TLS with a self-signed certificate (the adapter tries direct TLS first)."""
    cert = make_cert(tmp_path, "xmpp", ["helpline.test"], ["127.0.0.1"])
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
        adapter = XmppAdapter(config(port), PSEUDONYM_KEY)
        try:
            error = await failed(adapter)
        finally:
            await adapter.stop()
    assert error.startswith(f"XMPP 127.0.0.1:{port}: certificate check failed (self-signed certificate)"), (
        error
    )
    assert logged(caplog, error).levelname == "WARNING"
    assert not [
        r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith(("gateway", "bots"))
    ]
